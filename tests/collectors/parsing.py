"""Helpers for parser tests: parse one line the way ``canh ingest`` does, read fields by dotted path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canh.collectors.registry import LineContext, get_parser
from canh.events import Event, get, local_zone

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def ctx(source: str = "/var/log/auth.log", position: int = 0, now: datetime = NOW) -> LineContext:
    return LineContext(source=source, position=position, tz=local_zone("Asia/Ho_Chi_Minh"), now=now)


def parse(line: str, fmt: str = "syslog", source: str = "/var/log/auth.log", now: datetime = NOW) -> Event:
    event = get_parser(fmt).parse(line, ctx(source, now=now))
    assert event is not None
    return event


def fields(event: Event, *paths: str) -> dict[str, Any]:
    return {p: get(event, p) for p in paths}
