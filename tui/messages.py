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


@dataclass
class IncidentsLoaded(Message):
    """Incidents for the incidents pane, with the version each was read at."""

    incidents: list[Any] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class SystemsLoaded(Message):
    """The register's systems and which of them sent events in the last 24 h."""

    systems: list[Any] = field(default_factory=list)
    monitored: set[str] = field(default_factory=set)
    error: str | None = None


@dataclass
class Changed(Message):
    """A change an analyst made finished: what happened, or why it was refused."""

    text: str
    error: bool = False
    ref: str | None = None  # what the change made or touched (e.g. an incident id), to show it next


@dataclass
class AlertEvents(Message):
    """The events an alert was raised on, fetched for the detail view of the highlighted alert."""

    alert_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
