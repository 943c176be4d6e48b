"""The one way to build the console: the CLI and the tests both call :func:`make_app`."""

from __future__ import annotations

from canh.tui.app import CanhApp

from canh.clock import Clock
from canh.config import CanhConfig
from canh.store.base import Store


def make_app(store: Store, config: CanhConfig, clock: Clock) -> CanhApp:
    """The console wired to a store, a validated config and a clock (tests pass a ManualClock)."""
    return CanhApp(store, config, clock)
