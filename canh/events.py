"""ECS events: plain nested dicts, and the one module that builds and reads them.

Nothing else in Canh builds ECS by hand: parsers call :func:`new_event` and :func:`set_field` (or,
on hot paths, a :class:`Shape` compiled once for a fixed set of fields), readers call :func:`get`.
``@timestamp`` is always UTC ISO-8601 with milliseconds and a ``Z``, so that string order is time
order in every store; ``event.id`` is deterministic (source identity + position), so reading the
same input twice never duplicates an event.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

ECS_VERSION = "8.11.0"
Event = dict[str, Any]
_MISSING = object()


def get(event: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at dotted ``path`` (``"source.ip"``), whether the event nests it or keeps the dotted key."""
    value = event.get(path, _MISSING)
    if value is not _MISSING:
        return value
    node: Any = event
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping):
            return default
        nxt = node.get(part, _MISSING)
        if nxt is _MISSING:
            # A flattened remainder ("winlog": {"event_data.X": ...}) is valid ECS too.
            rest = ".".join(parts[i:])
            nxt = node.get(rest, _MISSING)
            return default if nxt is _MISSING else nxt
        node = nxt
    return node


_SPLIT: dict[str, tuple[tuple[str, ...], str]] = {}


def _split(path: str) -> tuple[tuple[str, ...], str]:
    entry = _SPLIT.get(path)
    if entry is None:
        parts = path.split(".")
        entry = (tuple(parts[:-1]), parts[-1])
        if len(_SPLIT) < 100_000:
            _SPLIT[path] = entry
    return entry


def set_field(event: Event, path: str, value: Any) -> None:
    """Set dotted ``path`` to ``value``, creating the nested objects on the way."""
    node = event
    parents, leaf = _SPLIT.get(path) or _split(path)
    for part in parents:
        child = node.get(part)
        if child.__class__ is not dict and not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def set_many(event: Event, fields: Mapping[str, Any]) -> None:
    """Set several dotted paths at once; ``None`` values are skipped (ECS omits unknown fields)."""
    # set_field inlined, with the split paths cached: parsers call this for every line.
    split = _SPLIT
    for path, value in fields.items():
        if value is None:
            continue
        parents, leaf = split.get(path) or _split(path)
        node = event
        for part in parents:
            child = node.get(part)
            if child.__class__ is not dict and not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[leaf] = value


def delete(event: Event, path: str) -> None:
    """Remove dotted ``path`` if present."""
    node: Any = event
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return
    if isinstance(node, dict):
        node.pop(leaf, None)


def flatten(event: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted-key view of a nested event (lists are kept as values)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def iter_leaves(event: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted path, value)`` for every leaf value, lists expanded element by element."""
    for key, value in event.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from iter_leaves(value, path + ".")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    yield from iter_leaves(item, path + ".")
                else:
                    yield path, item
        else:
            yield path, value


def expand(doc: Mapping[str, Any]) -> Event:
    """Nest dotted keys (``{"source.ip": x}`` → ``{"source": {"ip": x}}``), as Elasticsearch reads them."""
    out: Event = {}
    for key, value in doc.items():
        if isinstance(value, Mapping):
            value = expand(value)
        if "." in key:
            existing = get(out, key, _MISSING)
            if isinstance(existing, dict) and isinstance(value, dict):
                existing.update(value)
            else:
                set_field(out, key, value)
        elif isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key].update(value)
        else:
            out[key] = value
    return out


def event_id(source: str, position: int | str) -> str:
    """Deterministic id from where the event came from: same source + position, same id.

    32 hex digits: a hash of the source, then the position (byte offset, record number) when it is
    a number. Ids from one source therefore sort in reading order, so both stores append to their
    id index instead of splitting pages at random (the difference is 2x in SQLite ingest rate).
    """
    if type(position) is int and 0 <= position < 1 << 64:
        # The same 16 hex digits as f"{position:016x}", in half the time (parsers call this per line).
        return (_PREFIXES.get(source) or _source_prefix(source)) + position.to_bytes(8, "big").hex()
    prefix = _source_prefix(source)
    if isinstance(position, int) and 0 <= position < 1 << 64:
        return f"{prefix}{position:016x}"
    tail = hashlib.blake2b(str(position).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    return prefix + tail


_PREFIXES: dict[str, str] = {}
ID_POSITIONS: Final = 1 << 64
"""Positions ``0 <= n < ID_POSITIONS`` (ints) make ids ``id_prefix(source) + n.to_bytes(8, "big").hex()``."""


def id_prefix(source: str) -> str:
    """The source part of :func:`event_id` for positions below :data:`ID_POSITIONS`.

    A parser works it out once per batch and appends each line's offset itself: the call per line
    cost a fortieth of a syslog line's parse.
    """
    return _PREFIXES.get(source) or _source_prefix(source)


def _source_prefix(source: str) -> str:
    prefix = _PREFIXES.get(source)
    if prefix is None:
        prefix = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        if len(_PREFIXES) >= 4096:
            _PREFIXES.clear()
        _PREFIXES[source] = prefix
    return prefix


def content_id(*parts: str) -> str:
    """Deterministic id from content, for inputs with no stable position (syslog datagrams, alerts)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


CANONICAL_STAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
"""The shape :func:`format_ts` writes (``2026-11-22T08:00:00.000Z``), which the stores read without a
full parse (the date itself may still be no date: 2026-13-40)."""


def format_ts(when: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``; naive datetimes are taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}T{when.hour:02d}:{when.minute:02d}:{when.second:02d}.{when.microsecond // 1000:03d}Z"


def parse_ts(value: str | int | float | datetime) -> datetime:
    """Parse ISO-8601 (any offset, ``Z``, or none = UTC) or epoch seconds/milliseconds to aware UTC."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        # A list or object where a time belongs: the caller fails that one record, not its batch.
        raise TypeError(f"not a time: {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # fromisoformat takes at most 6 fractional digits; nanosecond stamps (Zeek, Suricata) have 9.
    if "." in text:
        head, _, frac = text.partition(".")
        digits = frac
        tail = ""
        for i, ch in enumerate(frac):
            if not ch.isdigit():
                digits, tail = frac[:i], frac[i:]
                break
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def to_epoch_ms(value: str | datetime) -> int:
    """Milliseconds since the epoch, the sortable integer form of ``@timestamp``."""
    return int(parse_ts(value).timestamp() * 1000)


def normalize_text(text: str) -> str:
    """NFC, so Vietnamese written with combining marks matches the precomposed form."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def decode_line(raw: bytes) -> tuple[str, bool]:
    """Decode bytes as UTF-8 (NFC); invalid bytes become U+FFFD. Returns ``(text, had_bad_bytes)``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return normalize_text(raw.decode("utf-8", "replace")), True
    # normalize_text inlined: called for every line read.
    return (text if text.isascii() else unicodedata.normalize("NFC", text)), False


def escaped_original(raw: bytes) -> str:
    """A lossless text copy of bytes that are not valid UTF-8 (``\\xNN`` for each bad byte)."""
    return raw.decode("utf-8", "backslashreplace")


def new_event(
    *,
    timestamp: datetime | str,
    dataset: str,
    module: str,
    source: str,
    position: int | str,
    original: str | None = None,
    message: str | None = None,
    kind: str = "event",
    host: str | None = None,
    ingested: datetime | str | None = None,
    path: str | None = None,
    observer: str | None = None,
) -> Event:
    """A fresh ECS event with the fields every Canh event carries.

    ``source`` names the input stably (a file's content origin, ``syslog://10.0.0.1``) and
    ``position`` the place in it (byte offset, record number); together they make ``event.id``.
    ``path`` is the file read (``log.file.path``; a source that is itself a path stands for it),
    ``observer`` the machine that read it. ``ingested`` may be given already formatted (a parser
    formats its batch's time once).
    """
    ts = timestamp if isinstance(timestamp, str) else format_ts(timestamp)
    if path is None and is_file_source(source):
        path = source
    event: Event = {
        "@timestamp": ts,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "id": event_id(source, position),
            "kind": kind,
            "dataset": dataset,
            "module": module,
            "ingested": ingested if isinstance(ingested, str) else format_ts(ingested or datetime.now(UTC)),
        },
    }
    if path:
        event["log"] = {"file": {"path": path}}
    if original is not None:
        event["event"]["original"] = original
    if message is not None:
        event["message"] = message
    if host:
        event["host"] = {"name": host}
    if observer:
        event["observer"] = {"hostname": observer}
    return event


class _Slot:
    """Marks a path of a :class:`Shape` spec that takes its value per call."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


VALUE: Final = _Slot("VALUE")
OPTIONAL: Final = _Slot("OPTIONAL")  # like VALUE, but None leaves the field out (as set_many does)

# Constants are written into the compiled code as literals, so a list is a new list in every event.
_LITERALS = (str, int, bool)


class Shape:
    """A fixed set of dotted paths compiled once into a function that builds the nested event in one go.

    ``spec`` maps each path, in order, to :data:`VALUE` or :data:`OPTIONAL` (one positional argument
    of :attr:`build` each) or to a constant (str, int, bool, or a list of those). The event is equal to
    setting the paths one by one with :func:`set_many` on an empty dict, key order included unless an
    OPTIONAL value is None while a later path re-enters its parent object after another one.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec: dict[str, Any] = dict(spec)
        self.paths = tuple(p for p, v in self.spec.items() if v is VALUE or v is OPTIONAL)

    def __or__(self, more: Mapping[str, Any]) -> Shape:
        """This shape with ``more`` paths added (a path already here keeps its place, takes the new value)."""
        return Shape({**self.spec, **more})

    def __repr__(self) -> str:
        return f"Shape({self.spec!r})"

    @functools.cached_property
    def build(self) -> Callable[..., Event]:
        """``build(*values)``: the event, one value per VALUE/OPTIONAL path in spec order."""
        return _compile_shape(self.spec)

    def joined(self, body: Shape) -> Callable[[tuple[Any, ...], tuple[Any, ...]], Event]:
        """``build(head_values, body_values)``: this shape's event with ``body``'s paths added (``self | body``).

        Two tuples rather than ``build(*head, *body)``: unpacking them in the built function costs a
        fifth of that call. ``body`` may give head paths new constants, not new values.
        """
        both = self | body.spec
        if any(p in self.spec for p in body.paths) or both.paths != self.paths + body.paths:
            raise ValueError(f"{body!r}: a body can only add values after the head's")
        return _compile_shape(both.spec, split=len(self.paths))


Shaped = tuple[Shape, tuple[Any, ...]]  # a shape and the values for its build, as body parsers return them


def _literal(path: str, value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, _LITERALS) for v in items):
        raise TypeError(f"{path}: a Shape constant must be a str, int, bool or a list of those")
    return repr(value)


_SHAPE_NUMBERS = itertools.count(1)


def _compile_shape(spec: Mapping[str, Any], split: int | None = None) -> Callable[..., Event]:
    # Tree of the paths in first-seen order: a leaf is (code, optional), an object is a dict.
    root: dict[str, Any] = {}
    args: list[str] = []
    for path, value in spec.items():
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{path}: {part} is a value, not an object")
            node = child
        if isinstance(node.get(leaf), dict):
            raise ValueError(f"{path}: is an object already")
        if value is VALUE or value is OPTIONAL:
            node[leaf] = (f"a{len(args)}", value is OPTIONAL)
            args.append(path)
        else:
            node[leaf] = (_literal(path, value), False)

    def optional_inside(node: dict[str, Any]) -> bool:
        return any(optional_inside(v) if isinstance(v, dict) else v[1] for v in node.values())

    def all_optional(node: dict[str, Any]) -> bool:
        return all(all_optional(v) if isinstance(v, dict) else v[1] for v in node.values())

    def lone_leaf(node: dict[str, Any]) -> str | None:
        # The argument of an object holding one OPTIONAL value and nothing else ({"host": {"name": a8}}).
        if len(node) != 1:
            return None
        (child,) = node.values()
        if isinstance(child, dict):
            return lone_leaf(child)
        return child[0] if child[1] else None

    body: list[str] = []
    names: dict[int, str] = {}

    def display(node: dict[str, Any]) -> str:
        # Objects holding an OPTIONAL value get a local name, so the leftovers can be deleted from them.
        items = []
        for key, child in node.items():
            code = display(child) if isinstance(child, dict) else child[0]
            items.append(f"{key!r}: {code}")
        text = "{" + ", ".join(items) + "}"
        if node is not root and optional_inside(node) and lone_leaf(node) is None:
            name = names[id(node)] = f"n{len(names)}"
            body.append(f"    {name} = {text}")
            return name
        return text

    body.append(f"    ev = {display(root)}")
    names[id(root)] = "ev"

    def prune(node: dict[str, Any]) -> None:
        # None values first, then objects they left empty, deepest first (set_many never creates those).
        name = names[id(node)]
        for key, child in node.items():
            if isinstance(child, dict):
                lone = lone_leaf(child)
                if lone is not None:
                    body.append(f"    if {lone} is None:\n        del {name}[{key!r}]")
                elif id(child) in names:
                    prune(child)
                    if all_optional(child):
                        body.append(f"    if not {names[id(child)]}:\n        del {name}[{key!r}]")
            elif child[1]:
                body.append(f"    if {child[0]} is None:\n        del {name}[{key!r}]")

    prune(root)
    params = [f"a{i}" for i in range(len(args))]
    if split is None:
        header = f"def build({', '.join(params)}):\n"
    else:
        header = "def build(h, b):\n"
        for group, tup in ((params[:split], "h"), (params[split:], "b")):
            if group:
                header += f"    {', '.join(group)}, = {tup}\n"
    source = header + "\n".join(body) + "\n    return ev\n"
    namespace: dict[str, Any] = {}
    # A file name per shape, so that profiles tell the built functions apart.
    exec(compile(source, f"<canh.events.Shape {next(_SHAPE_NUMBERS)}>", "exec"), namespace)
    build: Callable[..., Event] = namespace["build"]
    build.__doc__ = source
    return build


def is_file_source(source: str) -> bool:
    """Whether a source name is a file path, which events carry as ``log.file.path``."""
    return source.startswith("/")


def head(*, log_file: bool, message: bool = True) -> dict[str, Any]:
    """:func:`new_event`'s fields as a :class:`Shape` spec.

    Values, in order: ``@timestamp`` (formatted), ``event.id``, ``event.dataset``, ``event.module``,
    ``event.ingested`` (formatted), ``event.original``, ``log.file.path`` (when ``log_file``: the file
    read), ``message`` (when ``message``), ``host.name`` and ``observer.hostname`` (None, not "", for none).
    """
    spec: dict[str, Any] = {
        "@timestamp": VALUE,
        "ecs.version": ECS_VERSION,
        "event.id": VALUE,
        "event.kind": "event",
        "event.dataset": VALUE,
        "event.module": VALUE,
        "event.ingested": VALUE,
        "event.original": OPTIONAL,
    }
    if log_file:
        spec["log.file.path"] = VALUE
    if message:
        spec["message"] = OPTIONAL
    spec["host.name"] = OPTIONAL
    spec["observer.hostname"] = OPTIONAL
    return spec


def prepare(
    event: Event,
    *,
    source: str,
    position: int | str,
    now: datetime | None = None,
    path: str | None = None,
    host: str | None = None,
    observer: str | None = None,
) -> Event:
    """Make a decoded ECS document (e.g. from JSON) fit to store: nested, id, timestamps in UTC ``Z`` form.

    ``path``, ``host`` and ``observer`` fill ``log.file.path``, ``host.name`` and ``observer.hostname``
    where the document has none. Raises ``ValueError`` naming the field when ``@timestamp`` cannot be read.
    """
    doc = expand(event) if any("." in k for k in event) else event
    ev = doc.setdefault("event", {})
    if not isinstance(ev, dict):
        raise ValueError("event: must be an object")
    ev.setdefault("id", event_id(source, position))
    stamp = doc.get("@timestamp")
    if stamp is None:
        stamp = ev.get("created") or ev.get("ingested")
    try:
        doc["@timestamp"] = (
            format_ts(parse_ts(stamp)) if stamp is not None else format_ts(now or datetime.now(UTC))
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"@timestamp: {stamp!r} is not a time ({exc})") from exc
    ev["ingested"] = format_ts(now or datetime.now(UTC))
    doc.setdefault("ecs", {"version": ECS_VERSION})
    if path:
        fill(doc, "log.file.path", path)
    if host:
        fill(doc, "host.name", host)
    if observer:
        fill(doc, "observer.hostname", observer)
    return doc


def fill(event: Event, path: str, value: Any) -> None:
    """Set dotted ``path`` unless the event has a value there; objects in the way are created,
    a value that is not an object is left alone (the document's own data wins)."""
    node = event
    parents, leaf = _SPLIT.get(path) or _split(path)
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif child.__class__ is not dict:
            return
        node = child
    if node.get(leaf) in (None, ""):
        node[leaf] = value


def shift(ts: str, delta: timedelta) -> str:
    """``@timestamp`` string moved by ``delta``."""
    return format_ts(parse_ts(ts) + delta)


def local_zone(name: str) -> timezone | Any:
    """A tz object for an IANA name (``Asia/Ho_Chi_Minh``) or a fixed offset (``+07:00``)."""
    from zoneinfo import ZoneInfo

    if name and name[0] in "+-" and ":" in name:
        sign = 1 if name[0] == "+" else -1
        hours, minutes = name[1:].split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    return ZoneInfo(name)
