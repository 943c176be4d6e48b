"""Following log files like ``tail -F``: appends, rotation, truncation, late files, gzip, multi-line.

Each poll matches the glob patterns, then reads every file that grew. A file is known by device +
inode and a fingerprint of its first line, so:

- rename-and-create rotation: the old inode is drained through the descriptor still open, then the
  new file at the path is read from its start;
- copytruncate and truncation: the size drops below the offset (or the first line changes), so the
  file is a new generation read from 0; the copy (``app.log.1``) has the old fingerprint and is
  resumed where the old generation stopped;
- ``.gz`` files matched by the patterns are read once, for backfill.

Event ids come from the file's content origin (host, base name without rotation suffixes, first-line
fingerprint: :mod:`canh.collectors.origin`) and the byte offset, as ``canh ingest`` makes them, so
a rotated or compressed copy of lines already stored produces the same ids and stores nothing
twice. Offsets are committed (``emit``'s callback) only after the store has the batch.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import gzip
import os
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from canh.collectors.binary import looks_binary
from canh.collectors.checkpoints import Checkpoints, FileState, fingerprint, read_head, registry_path
from canh.collectors.origin import file_origin, head_fingerprint, machine_name
from canh.collectors.registry import FILE_READERS, LineContext, LineParser, detect, formats, get_parser
from canh.collectors.source import (
    COMMON_OPTIONS,
    Emit,
    check_keys,
    number_option,
    option_error,
    source_options,
)
from canh.errors import CanhError, ConfigError
from canh.events import Event, decode_line, escaped_original, local_zone, new_event, set_field
from canh.i18n import t

MAX_LINE = 1 << 20
DETECT_BYTES = 64 * 1024


@dataclass
class _Open:
    """A file being followed: its checkpoint state, open handle, and what is read but not committed."""

    state: FileState
    fh: IO[bytes]
    path: str
    source_id: str
    parser: LineParser
    gz: bool
    read_pos: int
    record_start: int = -1  # multi-line record being gathered: its first byte
    record_lines: list[bytes] = field(default_factory=list)
    last_data: float = field(default_factory=time.monotonic)
    matched: bool = True


@dataclass
class FileSourceSettings:
    """What a ``type: file`` source reads and how."""

    paths: list[str]
    format: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    host: str | None = None
    multiline_start: str | None = None
    multiline_timeout: float = 2.0
    start: str = "beginning"
    poll: float = 1.0
    batch: int = 2000
    exclude: list[str] = field(default_factory=list)
    close_inactive: float = 300.0


class FileSource:
    """Follows the files matched by glob patterns; see the module docstring for the semantics."""

    def __init__(
        self,
        settings: FileSourceSettings,
        *,
        name: str,
        checkpoints: Checkpoints,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.name = name
        self.checkpoints = checkpoints
        self.now = now
        self.tz = local_zone(settings.timezone)
        # host.name of lines that name none (web access logs, JSON), and part of each file's origin.
        self.host = settings.host or machine_name()
        self.multiline = re.compile(settings.multiline_start) if settings.multiline_start else None
        self.open: dict[str, _Open] = {}
        self._at_path: dict[str, str] = {}  # path -> device:inode last seen there (rotations)
        self._regenerated: dict[str, int] = {}  # device:inode -> generation after a truncation
        self._not_text: set[str] = set()  # device:inode of binary files the patterns match (wtmp)
        self._first_scan = True
        self._stop: threading.Event | None = None
        self._stats = {
            "read": 0,
            "emitted": 0,
            "dropped": 0,
            "errors": 0,
            "files": 0,
            "rotations": 0,
            "truncations": 0,
            "not_text": 0,
        }

    # -- the loop ---------------------------------------------------------------------------------

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; then flush gathered multi-line records and close the files."""
        self._stop = stop
        try:
            while not stop.is_set():
                if self.poll_once(emit) == 0:
                    stop.wait(self.settings.poll)
            self.flush(emit)
        finally:
            self.close()

    def stats(self) -> dict[str, int]:
        """Counters: lines read, events emitted, lines dropped (too long), parse errors, open files."""
        out = dict(self._stats)
        out["open_files"] = len(self.open)
        return out

    def poll_once(self, emit: Emit) -> int:
        """One pass: match the patterns, read what grew. Returns how many lines were read."""
        matched = self._scan()
        lines = 0
        for key, (path, _) in matched.items():
            if self._at_path.setdefault(path, key) != key:
                self._stats["rotations"] += 1  # another file at the path: counted once, when seen
                self._at_path[path] = key
        if len(self._at_path) > 2 * len(matched) + 100:  # dated names come and go
            self._at_path = {path: key for key, (path, _) in matched.items()}
        self._not_text.intersection_update(matched)  # an inode freed may hold a log next
        for key, (path, st) in matched.items():
            if key not in self.open:
                self._open(key, path, st)
            handle = self.open.get(key)
            if handle is not None:
                handle.path = path
                handle.matched = True
        for key, handle in list(self.open.items()):
            if key not in matched:
                handle.matched = False
            lines += self._read(handle, emit)
            if not handle.matched and time.monotonic() - handle.last_data > min(
                self.settings.close_inactive, 5.0
            ):
                # Rotated away (renamed out of the patterns or deleted) and drained.
                self._flush_record(handle, emit, force=True)
                self._close(key)
            elif handle.gz and handle.state.done:
                self._close(key)
        self._first_scan = False
        self.checkpoints.prune(set(matched) | set(self.open))
        return lines

    def flush(self, emit: Emit) -> None:
        """Emit multi-line records still being gathered (at stop)."""
        for handle in self.open.values():
            self._flush_record(handle, emit, force=True)

    def close(self) -> None:
        for key in list(self.open):
            self._close(key)
        self.checkpoints.close()

    # -- files ------------------------------------------------------------------------------------

    def _scan(self) -> dict[str, tuple[str, os.stat_result]]:
        out: dict[str, tuple[str, os.stat_result]] = {}
        for pattern in self.settings.paths:
            for path in sorted(glob.glob(os.path.expanduser(pattern))):
                if any(fnmatch.fnmatch(path, ex) for ex in self.settings.exclude):
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path):
                    continue
                out.setdefault(f"{st.st_dev}:{st.st_ino}", (os.path.abspath(path), st))
        return out

    def _open(self, key: str, path: str, st: os.stat_result) -> None:
        if key in self._not_text:
            return
        gz = path.endswith(".gz")
        state = self.checkpoints.files.get(key)
        if gz and state is not None and state.done:
            state.seen = time.time()
            return
        try:
            fh: IO[bytes] = gzip.open(path, "rb") if gz else open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
        except OSError:
            self._stats["errors"] += 1
            return
        try:
            head = read_head(fh) if not gz else fh.read(1024)
            if gz:
                fh.seek(0)
        except (OSError, EOFError, gzip.BadGzipFile):
            fh.close()
            self._stats["errors"] += 1
            return
        if self.settings.format is None and looks_binary(head):
            fh.close()  # /var/log/* matches wtmp, btmp, lastlog: not read, counted once
            self._not_text.add(key)
            self._stats["not_text"] += 1
            return
        fp = head_fingerprint(head, complete=gz)
        if fp is None:
            fh.close()  # no complete first line yet: looked at again next poll
            return
        same = state is not None and state.fingerprint == fp
        generation = state.generation if state is not None and same else self._regenerated.pop(key, 0)
        origin = _with_generation(file_origin(self.host, path, fp), generation)
        if state is None or not same:
            offset = 0
            twin = None if generation else self._twin(origin, key)  # a new generation is no copy
            if twin is not None and (gz or twin <= st.st_size):
                offset = twin  # a copy of lines already read (copytruncate copy, rotated .gz)
            elif self._first_scan and self.settings.start == "end" and not gz:
                offset = st.st_size
            state = FileState(
                path=path, dev=st.st_dev, ino=st.st_ino, fingerprint=fp, offset=offset, generation=generation
            )
            self.checkpoints.put(state)
        state.path = path
        state.seen = time.time()
        parser = self._parser(fh, path)
        self.open[key] = _Open(
            state=state,
            fh=fh,
            path=path,
            source_id=origin,
            parser=parser,
            gz=gz,
            read_pos=state.offset,
        )
        self._stats["files"] += 1

    def _twin(self, origin: str, key: str) -> int | None:
        # The same origin (host, base name, first line) is the same content: a rotated copy.
        best = None
        host = self.host
        for other_key, other in self.checkpoints.files.items():
            other_origin = file_origin(host, other.path, other.fingerprint)
            if other_key != key and _with_generation(other_origin, other.generation) == origin:
                best = max(best or 0, other.offset)
        retired = self.checkpoints.retired.get(origin)
        if retired is not None:
            best = max(best or 0, retired[1])
        return best

    def _parser(self, fh: IO[bytes], path: str) -> LineParser:
        if self.settings.format:
            return get_parser(self.settings.format)
        pos = fh.tell()
        fh.seek(0)
        sample_bytes = fh.read(DETECT_BYTES)
        fh.seek(pos)
        sample = [decode_line(raw)[0] for raw in sample_bytes.split(b"\n")[:-1][:50] if raw.strip()]
        return get_parser(detect(sample))

    def _close(self, key: str) -> None:
        handle = self.open.pop(key, None)
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.fh.close()

    # -- reading ----------------------------------------------------------------------------------

    def _read(self, handle: _Open, emit: Emit) -> int:
        if not handle.gz and self._truncated(handle):
            return 0
        fh = handle.fh
        try:
            fh.seek(handle.read_pos)
        except (OSError, EOFError):
            self._stats["errors"] += 1
            return 0
        ctx_base = self._ctx(handle)
        batch: list[Event] = []
        total = 0
        eof = False
        multiline, limit, event_of = self.multiline, self.settings.batch, self._event
        while True:
            try:
                line = fh.readline(MAX_LINE + 1)
            except (OSError, EOFError, gzip.BadGzipFile):
                self._stats["errors"] += 1
                eof = True
                break
            if not line:
                eof = True
                break
            start = handle.read_pos
            if line[-1] != 10:  # not b"\n": the line is not whole (an index is cheaper than endswith)
                if len(line) > MAX_LINE:
                    skipped = self._skip_long(fh)
                    if skipped < 0 and not handle.gz:
                        break  # the rest of the long line is not written yet
                    handle.read_pos += len(line) + max(skipped, 0)
                    self._stats["dropped"] += 1
                    continue
                if not handle.gz:
                    break  # a line still being written: read it whole next time
            handle.read_pos += len(line)
            total += 1
            raw = line.rstrip(b"\r\n")
            if multiline is not None:
                self._gather(handle, raw, start, batch, ctx_base)
            else:
                event = event_of(handle, raw, start, ctx_base)
                if event is not None:
                    batch.append(event)
            if len(batch) >= limit:
                self._emit(handle, batch, emit, done=False)
                batch = []
                if self._stop is not None and self._stop.is_set():
                    break
        if total:
            handle.last_data = time.monotonic()
            self._stats["read"] += total
        idle = time.monotonic() - handle.last_data >= self.settings.multiline_timeout
        if self.multiline is not None and handle.record_lines and (idle or (handle.gz and eof)):
            self._finish_record(handle, batch, ctx_base)
        done = handle.gz and eof
        if batch or done or (total and self._committed_behind(handle)):
            self._emit(handle, batch, emit, done=done)
        return total

    def _skip_long(self, fh: IO[bytes]) -> int:
        skipped = 0
        while True:
            more = fh.readline(MAX_LINE)
            skipped += len(more)
            if not more:
                return -1
            if more.endswith(b"\n"):
                return skipped

    def _truncated(self, handle: _Open) -> bool:
        """Copytruncate/truncation: start a new generation of the file at offset 0."""
        try:
            size = os.fstat(handle.fh.fileno()).st_size
        except OSError:
            return True
        if size >= handle.read_pos:
            if size == handle.read_pos:
                return False
            head = read_head(handle.fh)
            fp = fingerprint(head)
            if fp is None or fp == handle.state.fingerprint:
                return False
        folder = os.path.dirname(handle.path)
        self.checkpoints.retired[handle.source_id] = (folder, handle.state.offset)
        self._stats["truncations"] += 1
        key = handle.state.key
        with contextlib.suppress(OSError):
            if fingerprint(read_head(handle.fh)) == handle.state.fingerprint:
                self._regenerated[key] = handle.state.generation + 1  # same first line, new content
        self._close(key)
        self.checkpoints.forget(key)
        return True

    def _ctx(self, handle: _Open) -> LineContext:
        return LineContext(
            source=handle.source_id, position=0, host=self.host, tz=self.tz, now=self.now(),
            path=handle.path, observer=machine_name(),
        )  # fmt: skip

    def _event(self, handle: _Open, raw: bytes, start: int, base: LineContext) -> Event | None:
        try:  # decode_line inlined for the common case (a call per line less)
            text, bad = raw.decode("utf-8"), False
            if not text.isascii():
                text = unicodedata.normalize("NFC", text)
        except UnicodeDecodeError:
            text, bad = decode_line(raw)
        base.position = start
        try:
            event = handle.parser.parse(text, base)
        except (CanhError, ValueError, KeyError, IndexError, TypeError) as exc:
            self._stats["errors"] += 1
            reason = exc.render("en") if isinstance(exc, CanhError) else str(exc)
            event = new_event(
                timestamp=base.now, dataset="syslog", module="system", source=base.source, position=start,
                original=text, message=text, host=base.host, ingested=base.now, path=base.path,
                observer=base.observer,
            )  # fmt: skip
            set_field(event, "error.message", reason)
            set_field(event, "tags", ["canh_parse_failure"])
        if event is None:
            return None
        if base.host and "host" not in event:
            set_field(event, "host.name", base.host)
        if bad:
            set_field(event, "event.original", escaped_original(raw))
            tags = event.setdefault("tags", [])
            if "canh_invalid_utf8" not in tags:
                tags.append("canh_invalid_utf8")
        return event

    def _gather(self, handle: _Open, raw: bytes, start: int, batch: list[Event], base: LineContext) -> None:
        assert self.multiline is not None
        if handle.record_lines and self.multiline.match(decode_line(raw)[0]):
            self._finish_record(handle, batch, base)
        if not handle.record_lines:
            handle.record_start = start
        handle.record_lines.append(raw)

    def _finish_record(self, handle: _Open, batch: list[Event], base: LineContext) -> None:
        if not handle.record_lines:
            return
        event = self._event(handle, b"\n".join(handle.record_lines), handle.record_start, base)
        handle.record_lines = []
        handle.record_start = -1
        if event is not None:
            batch.append(event)

    def _flush_record(self, handle: _Open, emit: Emit, *, force: bool) -> None:
        if handle.record_lines and force:
            batch: list[Event] = []
            self._finish_record(handle, batch, self._ctx(handle))
            self._emit(handle, batch, emit, done=False)

    def _committed_behind(self, handle: _Open) -> bool:
        return self._commit_offset(handle) != handle.state.offset

    def _commit_offset(self, handle: _Open) -> int:
        # A multi-line record being gathered is not stored yet: its start is as far as is safe.
        return handle.record_start if handle.record_lines else handle.read_pos

    def _emit(self, handle: _Open, batch: list[Event], emit: Emit, *, done: bool) -> None:
        offset = self._commit_offset(handle)
        state = handle.state

        def commit() -> None:
            state.offset = offset
            state.done = state.done or done
            state.seen = time.time()
            self.checkpoints.save()

        self._stats["emitted"] += len(batch)
        emit(batch, commit)


FILE_OPTIONS = COMMON_OPTIONS | {
    "paths", "path", "host", "multiline", "start", "poll", "batch", "exclude", "close_inactive",
}  # fmt: skip


def _with_generation(origin: str, generation: int) -> str:
    return f"{origin}~{generation}" if generation else origin


def _paths(value: Any, where: str, option: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, dict):
        return [str(v) for v in value]
    raise option_error(where, option, "a path or a list of paths/globs")


def parse_settings(
    opts: dict[str, Any], *, timezone: str = "Asia/Ho_Chi_Minh", host: str | None = None
) -> FileSourceSettings:
    """A ``type: file`` entry's options checked and read (no file or checkpoint touched); the
    defaults for ``timezone`` and ``host`` come from the caller (the config's, or this machine's)."""
    where = str(opts.get("name") or "file")
    check_keys(opts, FILE_OPTIONS, where)
    if "paths" not in opts and "path" not in opts:
        raise ConfigError("collect.missing_option", where=where, option="paths")
    option = "paths" if "paths" in opts else "path"
    paths = _paths(opts[option], where, option)
    multiline = opts.get("multiline") or {}
    if isinstance(multiline, str):
        multiline = {"start": multiline}
    if not isinstance(multiline, dict):
        raise option_error(where, "multiline", t("config.wrong_type", expected=t("config.type_mapping"),
                                                 got=repr(multiline)[:60]))  # fmt: skip
    check_keys(multiline, ("start", "timeout"), where, prefix="multiline.")
    start = str(opts.get("start", "beginning"))
    if start not in ("beginning", "end"):
        raise option_error(where, "start", t("config.one_of", expected="beginning, end"))
    batch = number_option(opts, "batch", 2000, where)
    if batch < 1 or batch != int(batch):
        raise option_error(where, "batch", t("config.wrong_type", expected=t("config.type_int"),
                                             got=repr(opts.get("batch"))[:60]))  # fmt: skip
    settings = FileSourceSettings(
        paths=paths,
        format=opts.get("format"),
        timezone=opts.get("timezone") or timezone,
        host=opts.get("host") or host,
        multiline_start=multiline.get("start"),
        multiline_timeout=number_option(multiline, "timeout", 2.0, where, "multiline.timeout"),
        start=start,
        poll=number_option(opts, "poll", 1.0, where),
        batch=int(batch),
        exclude=_paths(opts.get("exclude", []), where, "exclude"),
        close_inactive=number_option(opts, "close_inactive", 300.0, where),
    )
    if settings.format is not None:
        try:
            get_parser(settings.format)
        except KeyError as exc:
            known = ", ".join(n for n in formats() if n not in FILE_READERS)
            raise option_error(
                where, "format", f"{settings.format!r}: {t('config.one_of', expected=known)}"
            ) from exc
    if settings.multiline_start:
        try:
            re.compile(settings.multiline_start)
        except re.error as exc:
            raise option_error(where, "multiline.start", str(exc)) from exc
    return settings


def build(cfg: Any, runtime: Any) -> FileSource:
    """A ``type: file`` source from its config entry (``paths``, ``format``, ``multiline``, ...)."""
    opts = source_options(cfg)
    config = getattr(runtime, "config", None)
    settings = parse_settings(
        opts,
        timezone=getattr(config, "timezone", None) or "Asia/Ho_Chi_Minh",
        host=getattr(config, "host_name", None) or socket.gethostname(),
    )
    name = opts.get("name") or f"file:{','.join(settings.paths)}"
    data_dir = Path(runtime.paths.data) if runtime is not None else None
    checkpoints = Checkpoints(registry_path(data_dir, name) if data_dir else None)
    now = runtime.clock.now if runtime is not None else (lambda: datetime.now(UTC))
    return FileSource(settings, name=name, checkpoints=checkpoints, now=now)


__all__ = ["FILE_OPTIONS", "FileSource", "FileSourceSettings", "build", "parse_settings"]
