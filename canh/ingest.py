"""One-off ingestion of files (``canh ingest``): read, detect the format, parse, store, report.

Bad input never stops the run: each unreadable line is reported with ``file:line`` and copied to a
dead-letter file with the reason, and every good line is stored. Re-ingesting a file is a no-op
because event ids come from (the file's content origin, byte offset): a rotated, renamed or gzipped
copy of a file gives the ids it gave, and so does ``canh collect`` (:mod:`canh.collectors.origin`).
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from canh.collectors.binary import looks_binary
from canh.collectors.checkpoints import FINGERPRINT_MAX
from canh.collectors.origin import file_origin, head_fingerprint, machine_name
from canh.collectors.registry import (
    FileReader,
    LineContext,
    LineParser,
    ReadProblem,
    detect,
    detect_file,
    file_reader,
    formats,
    get_parser,
)
from canh.errors import CanhError, InputError
from canh.events import Event, decode_line, escaped_original, local_zone, set_field
from canh.store.base import Store, WriteResult

MAX_LINE = 1 << 20  # 1 MiB: longer lines are reported and skipped, never buffered whole
DEAD_LETTER_MAX = 16 << 20  # what a dead-letter record keeps of one line (the rest is cut, and said so)
BATCH = 5000
TEXT_CHECK = 8192  # bytes looked at to tell a text log from a binary file

EventHook = Callable[[list[Event]], None]


@dataclass
class Problem:
    """One input problem: where (``file:line``) and the message."""

    where: str
    message: str


@dataclass
class IngestReport:
    """What an ingest run did, for the CLI and for tests."""

    files: int = 0
    lines: int = 0
    events: int = 0
    written: int = 0
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    dead_letter: Path | None = None

    def add(self, result: WriteResult) -> None:
        self.written += result.written
        self.duplicates += result.duplicates
        for rid, reason in result.failed:
            self.problems.append(Problem(rid, reason))


def open_input(path: Path) -> IO[bytes]:
    """Open a file for reading bytes, transparently un-gzipping ``.gz``."""
    raw = path.open("rb")
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def iter_lines(
    stream: IO[bytes], max_line: int = MAX_LINE, too_long: list[tuple[bytes, int]] | None = None
) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(byte offset, line without newline)``; a line over ``max_line`` yields ``None`` and is skipped.

    A skipped line's first ``DEAD_LETTER_MAX`` bytes and its length are appended to ``too_long``
    when given (for the dead-letter file), else nothing of it is kept.
    """
    offset = 0
    reader = stream  # buffered already (open("rb") or GzipFile); a wrapper would close it when dropped
    while True:
        line = reader.readline(max_line + 1)
        if not line:
            return
        start = offset
        offset += len(line)
        if len(line) > max_line and not line.endswith(b"\n"):
            kept, size, consumed = skip_long_line(reader, line, keep=too_long is not None)
            offset += consumed
            if too_long is not None:
                too_long.append((kept, size))
            yield start, None
            continue
        yield start, line.rstrip(b"\r\n")


def skip_long_line(reader: IO[bytes], first: bytes, *, keep: bool) -> tuple[bytes, int, int]:
    """Read to the end of a line too long to keep whole, whose first read was ``first``.

    Returns its first ``DEAD_LETTER_MAX`` bytes (when ``keep``; else b""), its length without the
    line ending, and how many bytes were read after ``first``.
    """
    kept = [first] if keep else []
    room = DEAD_LETTER_MAX - len(first)
    tail = first[-2:]  # the last bytes read: "\r\n" may be split between two reads
    consumed = 0
    while True:
        more = reader.readline(1 << 20)
        consumed += len(more)
        tail = (tail + more)[-2:]
        if kept and room > 0:
            kept.append(more[:room])
            room -= len(kept[-1])
        if not more or more.endswith(b"\n"):
            break
    ending = len(tail) - len(tail.rstrip(b"\r\n"))
    return b"".join(kept).rstrip(b"\r\n"), len(first) + consumed - ending, consumed


@contextlib.contextmanager
def fewer_collections(threshold: int = 100_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often while events are read and stored in batches.

    A batch of 5,000 events is some 35,000 dicts and lists that live until the store has them; at
    the default threshold (700 new objects) each batch is walked by about 90 young collections and
    a full one: a seventh of the ingest time for auth logs, a third for web logs. Events hold no
    reference cycles, so nothing is kept longer.
    """
    before = gc.get_threshold()
    if before[0] >= threshold:
        yield
        return
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        if gc.get_threshold()[0] == threshold:  # not changed meanwhile by someone else
            gc.set_threshold(*before)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files under folders named (sorted), skipping hidden files."""
    return [f for f, _ in _expand(paths)]


def _expand(paths: Iterable[str | Path]) -> Iterator[tuple[Path, bool]]:
    # (file, found in a folder rather than named)
    for p in map(Path, paths):
        if p.is_dir():
            yield from ((f, True) for f in sorted(p.rglob("*")) if f.is_file() and not f.name.startswith("."))
        else:
            yield p, False


# Files that ship beside logs (a sample set's licence, its README) and are text but no log: skipped
# when found in a folder, read when named.
_DOCUMENTS = re.compile(
    r"(?:licen[cs]e|copying|readme|changelog|changes|manifest|citation|authors|notice)(?:[._-].*)?|.*\.(?:md|rst|pdf|html?)",
    re.IGNORECASE,
)


def is_document(path: Path) -> bool:
    """Whether a file is by its name documentation shipped with logs (LICENSE, README.md, ...)."""
    return _DOCUMENTS.fullmatch(path.name) is not None


class DeadLetter:
    """Append-only JSON-lines file of input that could not be processed, with the reason."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None
        self.used = False

    def add(self, where: str, reason: str, raw: bytes | str, size: int | None = None) -> None:
        """One record; ``raw`` is kept up to ``DEAD_LETTER_MAX`` bytes, invalid UTF-8 as ``\\xNN``.

        ``size`` is the input's whole length when ``raw`` is only its start; a record that does not
        hold all of it says so (``"cut": true`` and ``"bytes"``), so a replay knows it is partial.
        """
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("ab")
            self.used = True
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        total = max(size or 0, len(data))
        data = data[:DEAD_LETTER_MAX]
        record: dict[str, Any] = {"where": where, "reason": reason}
        try:
            record["raw"] = data.decode("utf-8")
        except UnicodeDecodeError:
            record["raw"] = escaped_original(data)
            record["escaped"] = True  # \\xNN stands for a byte that is not UTF-8
        if total > len(data):
            record.update(cut=True, bytes=total)
        self._fh.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class Ingester:
    """Reads files into a store, calling ``hooks`` with each stored batch (detection plugs in here)."""

    def __init__(
        self,
        store: Store,
        *,
        dead_letter: Path,
        timezone: str = "Asia/Ho_Chi_Minh",
        host: str | None = None,
        hooks: Sequence[EventHook] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.dead = DeadLetter(dead_letter)
        self.tz = local_zone(timezone)
        # Lines that name no host (web access logs, JSON without host) are this host's; binary
        # records (EVTX: the computer; captures: the sensor only observes) get one only when asked.
        self.host = host or machine_name()
        self.record_host = host
        self.hooks = list(hooks)
        self.now = now
        self.progress = progress
        self._done = 0  # bytes of input (as stored: compressed for .gz) of the files already read
        self._size = 0  # the current file's

    def run(self, paths: Iterable[str | Path], fmt: str | None = None) -> IngestReport:
        """Ingest every file; per-file and per-line problems are collected, not raised."""
        report = IngestReport(dead_letter=self.dead.path)
        if fmt is not None and fmt not in formats():
            raise InputError("input.unknown_format", format=fmt, choices=", ".join(formats()))
        try:
            with fewer_collections():
                for path, in_folder in _expand(paths):
                    if not path.exists():
                        report.problems.append(Problem(str(path), _msg("input.not_found")))
                        continue
                    if in_folder and fmt is None and is_document(path):
                        report.problems.append(Problem(str(path), _msg("input.document")))
                        continue
                    try:
                        self._size = path.stat().st_size
                        self._file(path, fmt, report)
                    except OSError as exc:
                        report.problems.append(
                            Problem(str(path), _msg("input.invalid", reason=exc.strerror or str(exc)))
                        )
                    finally:
                        self._done += self._size
                        self._size = 0
                        if self.progress:
                            self.progress(self._done)
        finally:
            self.dead.close()
        if not self.dead.used:
            report.dead_letter = None
        return report

    def _file(self, path: Path, fmt: str | None, report: IngestReport) -> None:
        report.files += 1
        resolved = str(path.resolve())
        with open_input(path) as fh:
            head = fh.read(TEXT_CHECK)
            fh.seek(0)
            reader = file_reader(fmt) if fmt is not None else detect_file(head[:64], path)
            if reader is None:
                self._text(fh, head, path, resolved, fmt, report)
                return
        # Closed first: the progress bar finds the reader's own descriptor of the file.
        report.formats[str(path)] = reader.name
        self._records(reader, path, resolved, report)

    def _text(
        self, fh: IO[bytes], head: bytes, path: Path, resolved: str, fmt: str | None, report: IngestReport
    ) -> None:
        """A text log: skipped when it is not text, else its format detected (unless given) and read."""
        if fmt is None and looks_binary(head):
            report.problems.append(Problem(str(path), _msg("input.not_text")))
            return
        fp = head_fingerprint(head[:FINGERPRINT_MAX], complete=True)
        # Lines are known by their content origin, as the file source knows them (an empty file
        # has no lines, so no origin).
        source = file_origin(self.host, resolved, fp) if fp is not None else resolved
        if fmt is None:
            sample = []
            for _, raw in iter_lines(fh):
                if raw:
                    sample.append(decode_line(raw)[0])
                if len(sample) >= 50:
                    break
            fh.seek(0)
            name = detect(sample)
        else:
            name = fmt
        report.formats[str(path)] = name
        self._lines(fh, get_parser(name), path, LineContext(
            source=source, position=0, host=self.host, tz=self.tz, now=self.now(), path=resolved,
            observer=machine_name(),
        ), report)  # fmt: skip

    def _lines(
        self, fh: IO[bytes], parser: LineParser, path: Path, ctx: LineContext, report: IngestReport
    ) -> None:
        # The per-line work is kept to what every line needs: "file:line" is only made for a problem.
        parse = parser.parse
        batch: list[Event] = []
        line_no = 0
        # iter_lines and decode_line inlined: a generator step, two tuples and a call per line were
        # a tenth of what ingest adds to the parse.
        readline, limit, nfc = fh.readline, MAX_LINE + 1, unicodedata.normalize
        offset = 0
        try:
            while True:
                line = readline(limit)
                if not line:
                    break
                line_no += 1
                start = offset
                offset += len(line)
                if line[-1] != 10 and len(line) == limit:  # longer than MAX_LINE: skipped
                    kept, size, consumed = skip_long_line(fh, line, keep=True)
                    offset += consumed
                    reason = _msg("input.line_too_long", limit=MAX_LINE)
                    report.problems.append(Problem(f"{path}:{line_no}", reason))
                    self.dead.add(f"{path}:{line_no}", reason, kept, size)
                    continue
                raw = line.rstrip(b"\r\n")
                try:
                    text = raw.decode("utf-8")
                    bad = False
                    if not text.isascii():
                        text = nfc("NFC", text)
                except UnicodeDecodeError:
                    text, bad = decode_line(raw)
                ctx.position, ctx.line_no = start, line_no
                try:
                    event = parse(text, ctx)
                except (CanhError, ValueError, KeyError, IndexError, TypeError) as exc:
                    reason = exc.render() if isinstance(exc, CanhError) else str(exc)
                    self._problem(report, f"{path}:{line_no}", reason, raw)
                    continue
                if event is None:
                    continue
                if bad:
                    set_field(event, "event.original", escaped_original(raw))
                    tags = event.setdefault("tags", [])
                    if "canh_invalid_utf8" not in tags:
                        tags.append("canh_invalid_utf8")
                batch.append(event)
                if len(batch) >= BATCH:
                    self._flush(batch, report)
                    batch = []
                    if self.progress:
                        self._advance(_consumed(fh))
        finally:
            report.lines += line_no
        if batch:
            self._flush(batch, report)

    def _records(self, reader: FileReader, path: Path, source: str, report: IngestReport) -> None:
        ctx = LineContext(source=source, position=0, host=self.record_host, tz=self.tz, now=self.now())
        batch: list[Event] = []
        for item in reader.read(path, ctx):
            report.lines += 1
            if isinstance(item, ReadProblem):
                raw = item.raw.encode() if isinstance(item.raw, str) else item.raw
                self._problem(report, item.where, item.reason, raw)
                continue
            batch.append(item)
            if len(batch) >= BATCH:
                self._flush(batch, report)
                batch = []
                if self.progress:
                    self._advance(_read_position(source))
        if batch:
            self._flush(batch, report)

    def _advance(self, position: int | None) -> None:
        if self.progress and position is not None:
            self.progress(self._done + min(position, self._size))

    def _problem(self, report: IngestReport, where: str, reason: str, raw: bytes) -> None:
        report.problems.append(Problem(where, reason))
        self.dead.add(where, reason, raw)

    def _flush(self, batch: list[Event], report: IngestReport) -> None:
        report.events += len(batch)
        report.add(self.store.write("events", batch))
        for hook in self.hooks:
            hook(batch)


def _consumed(fh: IO[bytes]) -> int:
    """Bytes of the file itself read so far: of the compressed stream for .gz (what the bar counts)."""
    raw = getattr(fh, "fileobj", None)  # a GzipFile's underlying file
    return int((raw or fh).tell())


def _read_position(path: str) -> int | None:
    """Where this process's reader of ``path`` is in it, for readers that open the file themselves
    (EVTX, captures): its descriptor's offset from /proc (Linux); None where that is not known."""
    try:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") != path:
                    continue
                with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as info:
                    for row in info:
                        if row.startswith("pos:"):
                            return int(row.split()[1])
            except (OSError, ValueError):
                continue
    except OSError:
        pass
    return None


def _msg(key: str, **params: Any) -> str:
    from canh.i18n import t

    return t(key, **params)
