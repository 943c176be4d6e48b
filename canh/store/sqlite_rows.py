"""Records to SQLite parameter values: the embedded store's encoding hot path.

A batch is encoded into one flat list (``width`` values per record) that the store binds into
multi-row INSERT statements. Absent column values are :data:`NULL`, not ``None`` (see there).
Where the compiled encoder (``canh.store._rows_native``, built from native/rows) is installed, it
encodes events, handing the few records it cannot encode identically to :func:`_encode_events`, which
stays the reference; ``CANH_ROWS_NATIVE=0`` (read at import) turns it off.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from canh.events import CANONICAL_STAMP, get, to_epoch_ms
from canh.store.base import Stream, record_id

NULL = float("nan")
"""What the encoder binds for an absent column. Python's sqlite3 sends ``None`` through its adapter
lookup (a failed attribute search per value: ~3,000 instructions, a fifth of an event's insert),
while a float binds directly; SQLite stores a NaN double as NULL, so the column reads back NULL."""

_FIELDS: dict[Stream, tuple[str, ...]] = {
    "events": ("host.name", "event.dataset", "event.action", "source.ip", "destination.ip", "user.name"),
    "alerts": ("rule.id", "event.severity_label", "host.name"),
    "audit": ("object.id",),
}
# Dotted top-level keys that would override a nested column field (canh.events.get reads a dotted
# key first): a record holding one of them goes through the generic path.
_DOTTED_COLUMNS = frozenset({"event.id", "event.ingested", *_FIELDS["events"]})
WIDTH: dict[Stream, int] = {s: 4 + len(f) for s, f in _FIELDS.items()}
"""Values per record: id, time, ingest time, the indexed fields above, the document."""

# A canonical stamp is read in three lookups: its minute (cached), ":SS." and "mmmZ"; the tables
# accept only what the canonical form allows, so anything else takes the full parse.
_SECONDS = {f":{i:02d}.": i * 1000 for i in range(60)}
_MILLIS = {f"{i:03d}Z": i for i in range(1000)}
_MINUTES: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM" of a canonical stamp -> its epoch ms
# ":SS.mmmZ" of a canonical stamp -> its milliseconds into the minute: one slice and lookup where
# the two tables take two (a slice is a new string, ~1,000 instructions). Filled as tails are
# seen; at most the 60,000 valid ones (a few MB when a source has every millisecond).
_TAILS: dict[str, int] = {}


def _tail(stamp: str) -> int | None:
    """The milliseconds into its minute of a 24-character stamp's tail, if canonical (remembered)."""
    sec, frac = _SECONDS.get(stamp[16:20]), _MILLIS.get(stamp[20:])
    if sec is None or frac is None:
        return None
    tail = _TAILS[stamp[16:]] = sec + frac
    return tail


def epoch_ms(stamp: Any, default: int) -> int:
    """``stamp`` as epoch milliseconds (``default`` when empty); exact integer arithmetic.

    Canh's own form (``2026-11-21T00:00:00.000Z``) is read from a cache of whole minutes: events
    arrive in time order, so most share their minute with one seen before (a full parse costs
    ~30x a cached read).
    """
    if type(stamp) is str and len(stamp) == 24:
        base = _MINUTES.get(stamp[:16])
        if base is not None:
            sec, frac = _SECONDS.get(stamp[16:20]), _MILLIS.get(stamp[20:])
            if sec is not None and frac is not None:
                return base + sec + frac
    if not stamp:
        return default
    # Seconds 60-99 fit the pattern but are no time: the full parse refuses them (ValueError).
    if type(stamp) is str and CANONICAL_STAMP.fullmatch(stamp) and stamp[16:20] in _SECONDS:
        if len(_MINUTES) >= 16384:
            _MINUTES.clear()
        base = _MINUTES[stamp[:16]] = to_epoch_ms(stamp[:16] + ":00Z")
        return base + _SECONDS[stamp[16:20]] + _MILLIS[stamp[20:]]
    return to_epoch_ms(stamp)


def scalar(value: Any) -> Any:
    """Indexed columns hold one scalar: the first item of a (nested) list, nothing for objects; any
    other value SQLite cannot bind as its text, so one odd event never fails its batch."""
    while isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, str | int | float | bytes):
        return value
    return None if isinstance(value, dict) else str(value)


def _column(value: Any) -> Any:
    value = scalar(value)
    return NULL if value is None else value


def encode(
    stream: Stream,
    recs: Sequence[Mapping[str, Any]],
    now_ms: int,
    failed: list[tuple[str, str]],
    *,
    checked: bool = False,
) -> list[Any]:
    """Every record's column values, flat; a record that cannot be stored goes to ``failed``.

    Unless ``checked``, an event's column values are passed on as read (see :func:`_encode_events`).
    """
    if stream == "events":
        if _NATIVE_EVENTS is not None:
            return _native_events(recs, now_ms, failed, checked)
        return _encode_events(recs, now_ms, failed, checked)
    values: list[Any] = []
    for rec in recs:
        try:
            values += _generic(stream, rec, now_ms)
        except (ValueError, TypeError, orjson.JSONEncodeError) as exc:
            failed.append((str(record_id(stream, rec) or "?"), str(exc)))
    return values


def _load_native() -> Callable[..., list[Any]] | None:
    """The compiled event encoder, or None: not built, or CANH_ROWS_NATIVE=0."""
    if os.environ.get("CANH_ROWS_NATIVE") == "0":
        return None
    try:
        module = importlib.import_module("canh.store._rows_native")
    except ImportError:
        return None
    encoder: Callable[..., list[Any]] | None = getattr(module, "encode_events", None)
    return encoder


_NATIVE_EVENTS = _load_native()


def _native_events(
    recs: Sequence[Mapping[str, Any]], now_ms: int, failed: list[tuple[str, str]], checked: bool
) -> list[Any]:
    """:func:`_encode_events`'s values from the compiled encoder; a record it hands back (a type or
    stamp it does not read the same way, a record that fails) is encoded here, in its place."""

    def one(rec: Mapping[str, Any], _why: str) -> list[Any]:
        return _encode_events((rec,), now_ms, failed, checked)

    assert _NATIVE_EVENTS is not None
    batch = recs if type(recs) is list else list(recs)
    return _NATIVE_EVENTS(batch, now_ms, checked, NULL, _DOTTED_COLUMNS, one)


def _encode_events(
    recs: Sequence[Mapping[str, Any]], now_ms: int, failed: list[tuple[str, str]], checked: bool
) -> list[Any]:
    # One loop with the field reads inlined: a Python call per column would cost more than the
    # column. Every branch here must give what _generic gives for the same record, except that
    # column values are not reduced to scalars unless `checked`: ECS makes these fields strings,
    # and a string, number, boolean or null binds as scalar() would give it, while a list or object
    # makes SQLite refuse the statement and the store encodes the batch again, checked. A test per
    # column cost an eighth of the encoding.
    values: list[Any] = []
    dumps = orjson.dumps
    null = NULL
    ingested, ingested_ms = None, now_ms  # a batch usually shares one ingest stamp
    minutes, tails = _MINUTES, _TAILS
    # The last canonical minute read ("YYYY-MM-DDTHH:MM"), its epoch ms and the string after every
    # string it starts (its last digit plus one): events come in time order, so most share it, and
    # the strings in [minute_text, minute_end) are those starting with minute_text. Two string
    # comparisons cost a fifth of slicing the minute out and looking it up (a slice is a new
    # string, ~1,000 instructions). An empty range at first.
    minute_text, minute_end, minute_ms = "1", "0", 0
    for rec in recs:
        try:
            ev = rec.get("event")
            if type(ev) is not dict or not _DOTTED_COLUMNS.isdisjoint(rec):
                values += _generic("events", rec, now_ms)
                continue
            rid = ev.get("id")
            if not rid:
                raise ValueError("record has no event.id")
            stamp = ev.get("ingested")
            if stamp is not ingested:
                ingested, ingested_ms = stamp, epoch_ms(stamp, now_ms)
            host, src, dst, user = rec.get("host"), rec.get("source"), rec.get("destination"), rec.get("user")
            # epoch_ms's cached path inlined (a call per event was a twentieth of the encoding), the
            # minute compared with the last one (see minute_text).
            ts = rec.get("@timestamp")
            if (
                type(ts) is str
                and len(ts) == 24
                and minute_text <= ts < minute_end
                and ((tail := tails.get(ts[16:])) is not None or (tail := _tail(ts)) is not None)
            ):
                ts_ms = minute_ms + tail
            else:
                ts_ms = epoch_ms(ts, now_ms)
                if type(ts) is str and len(ts) == 24 and (minute := minutes.get(ts[:16])) is not None:
                    minute_text, minute_ms = ts[:16], minute
                    minute_end = minute_text[:15] + chr(ord(minute_text[15]) + 1)
            row = (
                rid,
                ts_ms,
                ingested_ms,
                host.get("name", null) if type(host) is dict else null,
                ev.get("dataset", null),
                ev.get("action", null),
                src.get("ip", null) if type(src) is dict else null,
                dst.get("ip", null) if type(dst) is dict else null,
                user.get("name", null) if type(user) is dict else null,
                dumps(rec, default=str).decode(),
            )
            values += _columns(row) if checked else row
        except (ValueError, TypeError, orjson.JSONEncodeError) as exc:
            failed.append((str(record_id("events", rec) or "?"), str(exc)))
    return values


def _columns(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:3], *map(_column, row[3:-1]), row[-1])


def _generic(stream: Stream, rec: Mapping[str, Any], now_ms: int) -> tuple[Any, ...]:
    rid = record_id(stream, rec) or (get(rec, "event.id") if stream == "events" else None)
    if not rid:
        raise ValueError("record has no id (event.id for events, id for alerts and audit)")
    ts_ms = epoch_ms(rec.get("@timestamp"), now_ms)
    ing_ms = epoch_ms(get(rec, "event.ingested"), now_ms)
    columns = (_column(get(rec, field)) for field in _FIELDS[stream])
    return (rid, ts_ms, ing_ms, *columns, orjson.dumps(rec, default=str).decode())
