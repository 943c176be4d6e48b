"""Input formats: a registry from a format name to its line parser, and format detection.

A line parser is pure: ``parse(line, ctx)`` returns an ECS event (built with :mod:`canh.events`) or
raises ``InputError``/``ValueError`` for a line it cannot read. ``sniff(lines)`` scores how likely a
sample of lines is in this format (0..1), for ``canh ingest`` without ``--format``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

from canh.events import Event, local_zone


@dataclass(slots=True)
class LineContext:
    """Where a line came from: the stable source name, byte offset, line number, and local settings.

    ``source`` is the identity event ids are made from (for files, their content origin: see
    :mod:`canh.collectors.origin`), ``path`` the file read (``log.file.path``; a ``source`` that is a
    path stands for it when none is given), ``host`` the ``host.name`` of lines that name none and
    ``observer`` the machine reading them. Parsers treat it as read-only and do not keep it: a reader
    makes one per batch and moves ``position`` and ``line_no`` from line to line (building one per
    line was a twentieth of the parse cost).
    """

    source: str
    position: int
    line_no: int = 0
    host: str | None = None
    tz: tzinfo = field(default_factory=lambda: local_zone("Asia/Ho_Chi_Minh"))
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    observer: str | None = None

    def __post_init__(self) -> None:
        if self.path is None and self.source.startswith("/"):
            self.path = self.source


class LineParser(Protocol):
    """Turns one text line into one ECS event."""

    name: str

    def parse(self, line: str, ctx: LineContext) -> Event | None: ...

    def sniff(self, lines: Sequence[str]) -> float: ...


@dataclass(frozen=True)
class ReadProblem:
    """A record a file reader could not turn into an event: where (``file:record``), why, raw bytes or text."""

    where: str
    reason: str
    raw: bytes | str = b""


class FileReader(Protocol):
    """Reads a whole binary file (EVTX, pcap) into events; claimed by its first bytes."""

    name: str

    def claims(self, head: bytes, path: Path) -> bool: ...

    def read(self, path: Path, ctx: LineContext) -> Iterator[Event | ReadProblem]: ...


# Binary formats live in modules that may not be importable everywhere (optional native packages);
# they are looked up lazily by dotted path so a missing one only disables that format.
FILE_READERS: dict[str, str] = {
    "evtx": "canh.collectors.evtx:EvtxReader",
    "pcap": "canh.collectors.packets.reader:PcapFileReader",
}

_FACTORIES: dict[str, Callable[[], LineParser]] = {}


def _builtin() -> dict[str, Callable[[], LineParser]]:
    if not _FACTORIES:
        from canh.collectors.ecsjson import EcsJsonParser
        from canh.collectors.kvfirewall import KvFirewallParser
        from canh.collectors.syslog import SyslogParser
        from canh.collectors.weblogs import WebLogParser, apache, nginx

        _FACTORIES.update({"ecs-json": EcsJsonParser, "syslog": SyslogParser})
        # Text logs (issue 3, collectors-a): "web" detects nginx/Apache access and error logs.
        _FACTORIES.update(
            {"web": WebLogParser, "nginx": nginx, "apache": apache, "fortinet": KvFirewallParser}
        )
        # JSON lines (issue 3, collectors-b): Suricata EVE, Zeek, Winlogbeat/NXLog Windows events.
        from canh.collectors.suricata import SuricataEveParser
        from canh.collectors.winlogjson import WinlogJsonParser
        from canh.collectors.zeek import ZeekJsonParser

        _FACTORIES.update(
            {"suricata-eve": SuricataEveParser, "zeek-json": ZeekJsonParser, "winlog-json": WinlogJsonParser}
        )
    return _FACTORIES


def file_reader(name: str) -> FileReader | None:
    """The binary-file reader for a format name, or None when unknown or its module is unavailable."""
    target = FILE_READERS.get(name)
    if target is None:
        return None
    module, _, attr = target.partition(":")
    try:
        cls = getattr(import_module(module), attr)
    except (ImportError, AttributeError):
        return None
    return cls()  # type: ignore[no-any-return,unused-ignore]


def detect_file(head: bytes, path: Path) -> FileReader | None:
    """The binary-file reader that claims a file by its first bytes, if any."""
    for name in FILE_READERS:
        reader = file_reader(name)
        if reader is not None and reader.claims(head, path):
            return reader
    return None


def formats() -> list[str]:
    """Names of every known format (line formats and available binary-file formats)."""
    return sorted(set(_builtin()) | {n for n in FILE_READERS if file_reader(n) is not None})


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
