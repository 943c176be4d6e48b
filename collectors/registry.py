"""Input formats: a registry from a format name to its line parser, and format detection.

A line parser is pure: ``parse(line, ctx)`` returns an ECS event (built with :mod:`canh.events`) or
raises ``InputError``/``ValueError`` for a line it cannot read. ``sniff(lines)`` scores how likely a
sample of lines is in this format (0..1), for ``canh ingest`` without ``--format``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol

from canh.events import Event, local_zone


@dataclass(frozen=True)
class LineContext:
    """Where a line came from: the stable source name, byte offset, line number, and local settings."""

    source: str
    position: int
    line_no: int = 0
    host: str | None = None
    tz: tzinfo = field(default_factory=lambda: local_zone("Asia/Ho_Chi_Minh"))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = field(default_factory=dict)


class LineParser(Protocol):
    """Turns one text line into one ECS event."""

    name: str

    def parse(self, line: str, ctx: LineContext) -> Event | None: ...

    def sniff(self, lines: Sequence[str]) -> float: ...


_FACTORIES: dict[str, Callable[[], LineParser]] = {}


def _builtin() -> dict[str, Callable[[], LineParser]]:
    if not _FACTORIES:
        from canh.collectors.ecsjson import EcsJsonParser
        from canh.collectors.syslog import SyslogParser

        _FACTORIES.update({"ecs-json": EcsJsonParser, "syslog": SyslogParser})
    return _FACTORIES


def formats() -> list[str]:
    """Names of every known line format."""
    return sorted(_builtin())


def get_parser(name: str) -> LineParser:
    """A parser by format name; unknown names raise KeyError."""
    return _builtin()[name]()


def detect(lines: Sequence[str]) -> str:
    """The best-scoring format for a sample of lines (``syslog`` as the catch-all)."""
    best, best_score = "syslog", 0.0
    for name, factory in _builtin().items():
        score = factory().sniff(lines)
        if score > best_score:
            best, best_score = name, score
    return best
