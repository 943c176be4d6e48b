"""The one way to build the console: the CLI and the tests both call :func:`make_app`."""

from __future__ import annotations

import getpass
import os

from canh.clock import Clock
from canh.config import CanhConfig
from canh.store.base import Store
from canh.tui.app import CanhApp


def make_app(store: Store, config: CanhConfig, clock: Clock, actor: str | None = None) -> CanhApp:
    """The console wired to a store, a validated config and a clock (tests pass a ManualClock).

    ``actor`` is who the analyst is, for the incident timeline: CANH_USER, else the login name.
    """
    from canh.incidents.regulation import use_register_config

    if actor is None:
        actor = os.environ.get("CANH_USER") or getpass.getuser()
    use_register_config(config.register)  # the register pane's due dates follow canh.yml's cadence
    return CanhApp(store, config, clock, actor)
