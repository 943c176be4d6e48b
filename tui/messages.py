"""Messages the console's background workers post back to the widgets (never touching widgets from threads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class Loaded(Message):
    """A worker finished loading rows for a pane (or failed with a user-readable error)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    error: str | None = None
