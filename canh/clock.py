"""Clocks and time ranges: the one place that says what 'now' is, so tests control time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from canh.errors import QueryError
from canh.events import parse_ts

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Clock(Protocol):
    """Something that tells the current time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand: no sleeping in tests."""

    def __init__(self, start: datetime | str = "2026-11-22T01:00:00Z") -> None:
        self._now = parse_ts(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | str) -> datetime:
        self._now += parse_duration(delta) if isinstance(delta, str) else delta
        return self._now

    def set(self, when: datetime | str) -> None:
        self._now = parse_ts(when)


def parse_duration(text: str) -> timedelta:
    """``15m``, ``24h``, ``7d``, ``90s``, ``2w`` → timedelta; anything else is a QueryError."""
    match = _DURATION.match(text)
    if not match:
        raise QueryError("query.bad_duration", value=text)
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_since(text: str | None, clock: Clock) -> datetime | None:
    """A start time from a duration back from now (``24h``) or an absolute ISO-8601 time."""
    if text is None or text == "":
        return None
    if _DURATION.match(text):
        return clock.now() - parse_duration(text)
    try:
        return parse_ts(text)
    except ValueError as exc:
        raise QueryError("query.bad_time", value=text) from exc
