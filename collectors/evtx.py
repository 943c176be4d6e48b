"""Windows ``.evtx`` files to ECS through the Rust ``evtx`` parser (``canh ingest``, ``canh collect`` type evtx).

``EvtxReader`` streams records (the parser reads chunk by chunk, never the whole file); each one is
decoded from the parser's JSON and mapped by :mod:`canh.collectors.winlog`. A damaged chunk or record
becomes a :class:`ReadProblem` and reading goes on with the next one. Where the native reader
(``canh.collectors._evtx_native``, built from native/evtx) is installed, it parses and maps in one
step with winlog's tables, and hands the few records it does not map to the same Python mapping;
``CANH_EVTX_NATIVE=0`` turns it off.

``EvtxFolderSource`` reads every ``.evtx`` under a folder once, newest record number kept per file in
a checkpoint committed after the store has the batch; a file that grows (an archive rewritten, a
live log copied again) is read from where it stopped.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson

from canh.collectors.registry import LineContext, ReadProblem
from canh.collectors.source import BASE_OPTIONS, check_keys, number_option, source_options
from canh.collectors.winlog import WinRecord, _ingested, as_text, native_tables, to_ecs
from canh.errors import ConfigError
from canh.events import Event
from canh.i18n import t

MAGIC = b"ElfFile\x00"
_CHUNK_RANGE = re.compile(r"record IDs (\d+)\.\.(\d+)")
Emit = Callable[[list[Event], Callable[[], None] | None], None]
_T = TypeVar("_T")


_NO_ATTRS: dict[str, Any] = {}


def _attrs(node: Any) -> dict[str, Any]:
    if node.__class__ is dict:
        attrs = node.get("#attributes")
        if attrs.__class__ is dict:
            return attrs
    return _NO_ATTRS  # read only, never handed out


class _Nested(Exception):
    """An EventData value that is an element tree: the field-by-field path lays it out."""


def _value_text(value: Any) -> str:
    if value.__class__ is int:
        return str(value)
    if value.__class__ is dict and "#text" not in value:
        raise _Nested
    return as_text(value)


def _data_fields(node: Any) -> dict[str, str]:
    """EventData as Winlogbeat keeps it: named ``<Data>`` by name, unnamed ones as ``param1``..."""
    if node.__class__ is not dict:
        return {} if node is None else {"param1": as_text(node)}
    if "Data" not in node and "#attributes" not in node:
        # The common case, named fields with plain values: the decoded dict itself, other values
        # made text in place (no copy). If a nested element turns up, the path below starts again
        # from the half-converted dict, which gives the same result: as_text keeps text as it is.
        try:
            for key, value in node.items():
                if value.__class__ is not str:
                    node[key] = _value_text(value)
            return node
        except _Nested:
            pass
    out: dict[str, str] = {}
    for key, value in node.items():
        if key == "#attributes":
            continue
        if key == "Data":
            # Unnamed <Data> elements: {"#text": [..]} or {"#text": "x"} or a bare list/string.
            items = value.get("#text") if isinstance(value, dict) else value
            if isinstance(items, list):
                for i, item in enumerate(items, 1):
                    out[f"param{i}"] = as_text(item)
            elif items is not None:
                out["param1"] = as_text(items)
            continue
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, dict) and "#text" not in value:
            # Nested elements (UserData payloads): keep the leaves by their own names.
            for sub, leaf in value.items():
                if sub != "#attributes":
                    out[sub] = as_text(leaf)
        else:
            out[key] = as_text(value)
    return out


def record_from_json(event: dict[str, Any]) -> WinRecord:
    """A WinRecord from one record of ``PyEvtxParser.records_json()`` (the decoded ``Event`` object)."""
    system = event["System"]
    get = system.get
    eid_node = get("EventID")
    if eid_node.__class__ is int:
        event_id = eid_node
    else:
        qualifiers = None
        if isinstance(eid_node, dict):
            qualifiers = _attrs(eid_node).get("Qualifiers")
            eid_node = eid_node.get("#text")
        event_id = int(eid_node)
        if qualifiers:
            # Classic event ids carry qualifiers in the high word; Winlogbeat reports the low 16 bits.
            event_id &= 0xFFFF
    provider = _attrs(get("Provider"))
    execution = _attrs(get("Execution"))
    correlation = _attrs(get("Correlation"))
    record_id = get("EventRecordID")
    user_data: dict[str, str] | None = None
    user_data_name: str | None = None
    ud = event.get("UserData")
    if isinstance(ud, dict):
        for name, payload in ud.items():
            if name != "#attributes":
                user_data_name = name
                user_data = _data_fields(payload)
                break
    event_data = event.get("EventData")
    data = _data_fields(event_data) if event_data is not None else {}
    if "ProcessingErrorData" in event and isinstance(event["ProcessingErrorData"], dict):
        data.update(_data_fields(event["ProcessingErrorData"]))
    # Positional: keyword arguments cost a microsecond per record here.
    return WinRecord(
        get("Channel"),  # channel
        event_id,
        provider.get("Name") or provider.get("EventSourceName"),  # provider
        get("Computer"),  # computer
        record_id if record_id.__class__ is int else int(record_id) if record_id is not None else None,
        _attrs(get("TimeCreated")).get("SystemTime"),  # time
        provider.get("Guid"),  # provider_guid
        get("Level"),
        get("Task"),
        get("Opcode"),
        get("Version"),
        get("Keywords"),
        execution.get("ProcessID"),  # pid
        execution.get("ThreadID"),  # thread_id
        _attrs(get("Security")).get("UserID"),  # user_sid
        correlation.get("ActivityID"),
        correlation.get("RelatedActivityID"),
        data,  # event_data
        user_data,
        user_data_name,
    )


def map_json_record(data: str, *, source: str, position: int, host: str | None, now: datetime) -> Event:
    """One record's JSON text (as the ``evtx`` parser gives it) to an ECS event."""
    rec = record_from_json(orjson.loads(data)["Event"])
    return to_ecs(rec, source=source, position=position, original=data, host=host, now=now)


def _parser(path: Path) -> Any:
    from evtx import PyEvtxParser

    # One parser thread: collectors share the machine with the store and the rules.
    return PyEvtxParser(str(path), number_of_threads=1).records_json()


# What the parser raises for a damaged chunk; its iterator goes on with the next chunk.
_CHUNK_ERRORS = (RuntimeError, OSError, ValueError)
# What mapping a record whose JSON lacks or misshapes the header raises (the record is skipped).
_RECORD_ERRORS = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def _chunk_problem(path: Path, text: str) -> ReadProblem:
    m = _CHUNK_RANGE.search(text)
    where = f"{path}:records {m.group(1)}-{m.group(2)}" if m else str(path)
    return ReadProblem(where, t("collect.evtx_bad_chunk", reason=text[:300]))


def _scan(path: Path, start_after: int, convert: Callable[[int, str], _T]) -> Iterator[_T | ReadProblem]:
    """``convert(record number, JSON text)`` for each record after ``start_after``; damaged chunks as problems."""
    it = _parser(path)
    while True:
        try:
            item: Any = next(it)
        except StopIteration:
            return
        except _CHUNK_ERRORS as exc:
            yield _chunk_problem(path, str(exc))
            continue
        rid = int(item["event_record_id"])
        if rid > start_after:
            yield convert(rid, item["data"])


def iter_records(path: Path, start_after: int = 0) -> Iterator[tuple[int, str] | ReadProblem]:
    """``(record number, JSON text)`` for each record of an EVTX file, or a ReadProblem for a damaged chunk."""
    return _scan(path, start_after, _pair)


def _pair(rid: int, data: str) -> tuple[int, str]:
    return rid, data


_NATIVE: list[Any] = []  # [mapper or None], made on first use


def native_mapper() -> Any | None:
    """The native reader's mapper (winlog's tables loaded once), or None: not built, or CANH_EVTX_NATIVE=0."""
    if os.environ.get("CANH_EVTX_NATIVE") == "0":
        return None
    if not _NATIVE:
        try:
            from canh.collectors import _evtx_native
        except ImportError:
            _NATIVE.append(None)
        else:
            _NATIVE.append(_evtx_native.Mapper(native_tables()))
    return _NATIVE[0]


def _native_scan(
    mapper: Any,
    path: Path,
    source: str,
    host: str | None,
    ingested: str,
    convert: Callable[[int, str], Event | ReadProblem],
) -> Iterator[Event | ReadProblem]:
    """The native reader's runs of events, its records left to ``convert`` and its damaged chunks."""
    for item in mapper.read(str(path), source, host, ingested):
        if item.__class__ is list:
            yield from item
        elif item[0] == "record":
            yield convert(item[1], item[2])
        else:
            yield _chunk_problem(path, item[1])


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a path with undecodable bytes: the evtx package's own error, as before
        return False
    return True


class EvtxReader:
    """``canh ingest`` reader for Windows ``.evtx`` files (claimed by the ``ElfFile`` magic)."""

    name = "evtx"

    def claims(self, head: bytes, path: Path) -> bool:
        return head.startswith(MAGIC)

    def read(self, path: Path, ctx: LineContext) -> Iterator[Event | ReadProblem]:
        source = ctx.source or str(path)
        host, now, loads = ctx.host, ctx.now, orjson.loads

        # Mapped inside the scan (not through iter_records): one generator layer less per record.
        def convert(rid: int, data: str) -> Event | ReadProblem:
            try:
                rec = record_from_json(loads(data)["Event"])
                return to_ecs(rec, source=source, position=rid, original=data, host=host, now=now)
            except _RECORD_ERRORS as exc:
                reason = t("collect.evtx_bad_record", reason=str(exc))
                return ReadProblem(f"{path}:record {rid}", reason, data)

        mapper = native_mapper()
        # The native reader takes one ingest time per file: a context without one is read as before.
        if mapper is not None and now and _utf8(str(path)):
            return _native_scan(mapper, path, source, host, _ingested(now), convert)
        return _scan(path, 0, convert)


class EvtxFolderSource:
    """Reads every ``.evtx`` file under a folder once (and again from its last record when it grows)."""

    def __init__(
        self,
        folder: Path,
        *,
        name: str | None = None,
        state_dir: Path | None = None,
        host: str | None = None,
        poll: float = 5.0,
        batch: int = 2000,
        recursive: bool = True,
    ) -> None:
        self.folder = folder
        self.name = name or f"evtx:{folder}"
        self.host = host
        self.poll = poll
        self.batch = batch
        self.recursive = recursive
        self.problems: list[ReadProblem] = []
        self._stats = {"read": 0, "emitted": 0, "dropped": 0, "errors": 0, "files": 0}
        self._state_path = (state_dir / f"evtx-{_slug(self.name)}.json") if state_dir else None
        self._done: dict[str, dict[str, int]] = self._load()

    def stats(self) -> dict[str, int]:
        """Counters: records read, events emitted, damaged records (errors), files finished."""
        return dict(self._stats)

    def _load(self) -> dict[str, dict[str, int]]:
        if self._state_path is None or not self._state_path.exists():
            return {}
        try:
            data = json.loads(self._state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        if self._state_path is None:
            return
        self._state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._done, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self._state_path)

    def _files(self) -> list[Path]:
        pattern = "**/*" if self.recursive else "*"
        return sorted(p for p in self.folder.glob(pattern) if p.is_file() and p.suffix.lower() == ".evtx")

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Read new files and new records until ``stop``; checkpoints follow the store."""
        while not stop.is_set():
            for path in self._files():
                if stop.is_set():
                    break
                self._file(path, emit, stop)
            stop.wait(self.poll)

    def _file(self, path: Path, emit: Emit, stop: threading.Event) -> None:
        try:
            st = path.stat()
        except OSError:
            return
        key = str(path.resolve())
        state = self._done.get(key, {})
        if state.get("size") == st.st_size and state.get("mtime") == int(st.st_mtime):
            return
        last = int(state.get("record", 0))
        now = datetime.now(UTC)
        batch: list[Event] = []
        top = last
        for item in iter_records(path, start_after=last):
            if isinstance(item, ReadProblem):
                self._problem(item)
                continue
            rid, data = item
            self._stats["read"] += 1
            top = max(top, rid)
            try:
                batch.append(map_json_record(data, source=key, position=rid, host=self.host, now=now))
            except _RECORD_ERRORS as exc:
                self._problem(ReadProblem(f"{path}:record {rid}", str(exc), data))
            if len(batch) >= self.batch:
                self._emit(batch, emit, key, top, None)
                batch = []
                if stop.is_set():
                    return  # the checkpoint holds what was stored; the rest is read next time
        self._emit(batch, emit, key, top, (st.st_size, int(st.st_mtime)))
        self._stats["files"] += 1

    def _emit(self, batch: list[Event], emit: Emit, key: str, top: int, done: tuple[int, int] | None) -> None:
        def commit() -> None:
            entry = {"record": top}
            if done is not None:
                entry.update(size=done[0], mtime=done[1])
            self._done[key] = entry
            self._save()

        self._stats["emitted"] += len(batch)
        emit(batch, commit)

    def _problem(self, item: ReadProblem) -> None:
        self._stats["errors"] += 1
        if len(self.problems) < 1000:
            self.problems.append(item)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:80] or "evtx"


EVTX_OPTIONS = BASE_OPTIONS | {"path", "poll"}


@dataclass
class EvtxSettings:
    """A ``type: evtx`` entry's options, checked: the folder, the source's name, seconds between looks."""

    folder: Path
    name: str | None = None
    poll: float = 5.0


def parse_settings(opts: dict[str, Any]) -> EvtxSettings:
    """A ``type: evtx`` entry's options checked (unknown keys, ``path``, ``poll``) and read; opens nothing."""
    where = str(opts.get("name") or "evtx")
    check_keys(opts, EVTX_OPTIONS, where)
    if not opts.get("path"):
        raise ConfigError("collect.evtx_missing_path", where=where)
    return EvtxSettings(
        Path(str(opts["path"])).expanduser(), opts.get("name"), number_option(opts, "poll", 5.0, where)
    )


def build(cfg: Any, runtime: Any) -> EvtxFolderSource:
    """The ``type: evtx`` source of ``canh collect``: ``path`` (a folder), optional ``poll`` seconds."""
    s = parse_settings(source_options(cfg))
    state_dir = Path(runtime.paths.state) if runtime is not None else None
    return EvtxFolderSource(s.folder, name=s.name, state_dir=state_dir, poll=s.poll)


__all__ = [
    "EVTX_OPTIONS", "EvtxFolderSource", "EvtxReader", "EvtxSettings", "build", "iter_records", "map_json_record",
    "native_mapper", "parse_settings", "record_from_json",
]  # fmt: skip
