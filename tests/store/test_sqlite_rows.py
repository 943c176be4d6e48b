"""The embedded store's row encoding: the inlined event path agrees with the generic one."""

from __future__ import annotations

import itertools
import math
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canh.events import format_ts, to_epoch_ms
from canh.store import sqlite_rows
from canh.store.base import record_id
from canh.store.sqlite import SQLiteStore
from canh.store.sqlite_rows import NULL, WIDTH, encode, epoch_ms


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN (the NULL marker) equal to itself."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _generic_values(recs: list[dict[str, Any]], now_ms: int) -> tuple[list[Any], list[tuple[str, str]]]:
    values: list[Any] = []
    failed: list[tuple[str, str]] = []
    for rec in recs:
        try:
            values += sqlite_rows._generic("events", rec, now_ms)
        except (ValueError, TypeError, orjson.JSONEncodeError) as exc:
            failed.append((str(record_id("events", rec) or "?"), str(exc)))
    return values, failed


_leaf = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers(0, 3)), max_size=3),
    st.dictionaries(st.sampled_from(["name", "ip"]), st.text(max_size=3), max_size=1),
)
_stamp = st.one_of(
    st.none(),
    st.just(""),
    st.datetimes(datetime(1971, 1, 1), datetime(2100, 1, 1)).map(lambda d: format_ts(d.replace(tzinfo=UTC))),
    st.sampled_from(["2026-11-21T00:00:00Z", "2026-11-21T07:00:00.5+07:00", "2026-11-21 00:00:00.000Z"]),
)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    ev: dict[str, Any] = {"id": draw(st.one_of(st.text(min_size=1, max_size=4), st.just(""), st.none()))}
    for key in ("dataset", "action"):
        if draw(st.booleans()):
            ev[key] = draw(_leaf)
    if draw(st.booleans()):
        ev["ingested"] = draw(_stamp)
    rec: dict[str, Any] = {"event": ev}
    if draw(st.booleans()):
        rec["@timestamp"] = draw(_stamp)
    for obj, key in (("host", "name"), ("source", "ip"), ("destination", "ip"), ("user", "name")):
        shape = draw(st.integers(0, 3))
        if shape == 1:
            rec[obj] = {key: draw(_leaf)}
        elif shape == 2:
            rec[obj] = draw(_leaf)  # not an object: the column stays empty
        elif shape == 3:
            rec[f"{obj}.{key}"] = draw(_leaf)  # flat key beside the nested event
    return rec


@settings(max_examples=300, deadline=None)
@given(st.lists(_records(), max_size=8))
def test_inlined_event_encoding_matches_the_generic_path(recs: list[dict[str, Any]]) -> None:
    now_ms = 1_795_000_000_000
    failed: list[tuple[str, str]] = []
    got = encode("events", recs, now_ms, failed, checked=True)
    want, want_failed = _generic_values(recs, now_ms)
    assert len(got) == len(want) and all(_same(a, b) for a, b in zip(got, want, strict=True)), (got, want)
    assert [rid for rid, _ in failed] == [rid for rid, _ in want_failed]


# Stamps of a few neighbouring minutes, some malformed after the minute, for the minute range the
# encoder keeps from one record to the next.
_minute_stamp = st.builds(
    lambda minute, rest: minute + rest,
    st.sampled_from(["2026-11-21T00:00", "2026-11-21T00:01", "2026-11-21T00:09", "2026-11-21T00:10",
                     "2026-11-21T01:00", "2026-12-31T23:59", "2027-01-01T00:00"]),
    st.one_of(
        st.builds(lambda s, ms: f":{s:02d}.{ms:03d}Z", st.integers(0, 59), st.integers(0, 999)),
        st.sampled_from([":60.000Z", ":00.000+", ":0a.000Z", ":00,000Z", ":00.000Z ", ":00Z", "Z"]),
    ),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_minute_stamp, min_size=1, max_size=30))
def test_stamps_sharing_minutes_encode_as_the_generic_path(stamps: list[str]) -> None:
    recs = [{"@timestamp": ts, "event": {"id": str(i)}} for i, ts in enumerate(stamps)]
    failed: list[tuple[str, str]] = []
    got = encode("events", recs, 0, failed)
    want, want_failed = _generic_values(recs, 0)
    assert got[1 :: WIDTH["events"]] == want[1 :: WIDTH["events"]]
    assert failed == want_failed


_COLS = "id, ts, ingested, host, dataset, action, src_ip, dst_ip, user_name, doc"
_examples = itertools.count()


@settings(max_examples=150, deadline=None)
@given(recs=st.lists(_records(), min_size=1, max_size=8))
def test_stored_columns_are_what_the_generic_encoding_gives(
    recs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Lists and objects in a column reach SQLite unreduced first: the store must end up with
    # exactly the rows the generic, per-column path describes.
    n = next(_examples)
    for i, rec in enumerate(recs):
        if rec["event"].get("id"):
            rec["event"]["id"] = f"{n}-{i}"  # distinct, so every stored row is compared
    path = tmp_path_factory.mktemp("rows") / "canh.db"
    store = SQLiteStore(path, batch_size=5)
    result = store.write("events", recs)
    store.close()
    want, want_failed = _generic_values(recs, -1)  # -1: the time of the write
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TEMP TABLE ref AS SELECT {_COLS} FROM events WHERE 0")
    marks = ",".join("?" * WIDTH["events"])
    rows = [want[i : i + WIDTH["events"]] for i in range(0, len(want), WIDTH["events"])]
    conn.executemany(f"INSERT INTO ref VALUES ({marks})", rows)
    stored = conn.execute(f"SELECT {_COLS} FROM events ORDER BY id").fetchall()
    expected = conn.execute(f"SELECT {_COLS} FROM ref ORDER BY id").fetchall()
    conn.close()
    assert len(result.failed) == len(want_failed)
    assert [r[:1] + r[3:] for r in stored] == [r[:1] + r[3:] for r in expected]
    for got, exp in zip(stored, expected, strict=True):
        assert all(e == -1 or g == e for g, e in zip(got[1:3], exp[1:3], strict=True))


def test_absent_columns_are_the_null_marker_and_documents_are_whole() -> None:
    rec = {
        "@timestamp": "2026-11-21T00:00:01.250Z",
        "event": {"id": "a1", "dataset": "x"},
        "host": {"name": ["h1", "h2"]},
    }
    values = encode("events", [rec], 7, [], checked=True)
    assert len(values) == WIDTH["events"]
    rid, ts, ingested, host, dataset, action, src, dst, user, doc = values
    assert (rid, ts, ingested, host, dataset) == ("a1", 1_795_219_201_250, 7, "h1", "x")
    assert all(v is NULL for v in (action, src, dst, user))
    assert orjson.loads(doc) == rec


def test_a_record_that_cannot_be_encoded_is_reported_and_the_rest_kept() -> None:
    good = {"@timestamp": "2026-11-21T00:00:00.000Z", "event": {"id": "ok"}}
    failed: list[tuple[str, str]] = []
    values = encode(
        "events",
        [{"event": {"dataset": "x"}}, {"event": {"id": "bad"}, "@timestamp": "nope"}, good],
        0,
        failed,
    )
    assert values[0] == "ok" and len(values) == WIDTH["events"]
    assert [rid for rid, _ in failed] == ["?", "bad"]


@settings(max_examples=500, deadline=None)
@given(st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1)), st.integers(0, 999))
def test_canonical_stamps_read_from_the_seconds_cache_equal_a_full_parse(when: datetime, ms: int) -> None:
    stamp = format_ts(when.replace(microsecond=ms * 1000, tzinfo=UTC))
    first = epoch_ms(stamp, 0)  # fills the cache for this second
    again = epoch_ms(stamp, 0)
    neighbour = format_ts(when.replace(microsecond=(999 - ms) * 1000, tzinfo=UTC))
    exact = (when.replace(microsecond=ms * 1000, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        milliseconds=1
    )
    assert first == again == exact
    assert epoch_ms(neighbour, 0) == exact - ms + (999 - ms)
    assert abs(to_epoch_ms(stamp) - exact) <= 1  # the float path can truncate a millisecond, far from now


def test_a_cached_second_does_not_accept_a_malformed_remainder() -> None:
    epoch_ms("2026-11-21T00:00:00.000Z", 0)
    for odd in ("2026-11-21T00:00:00,5+0Z", "2026-11-21T00:00:00.1_2Z", "2026-11-21T00:00:60.000Z"):
        try:
            got: int | None = epoch_ms(odd, 0)
        except ValueError:
            got = None
        try:
            want: int | None = to_epoch_ms(odd)
        except ValueError:
            want = None
        assert got == want


@pytest.mark.parametrize("odd", [{"@timestamp": ["2026-11-21T00:00:00.000Z"]}, {"event.ingested": {"x": 1}}])
def test_a_list_or_object_as_a_time_fails_its_record_not_the_batch(odd: dict[str, Any]) -> None:
    good = {"@timestamp": "2026-11-21T00:00:00.000Z", "event": {"id": "good"}}
    bad = {"@timestamp": "2026-11-21T00:00:00.000Z", "event": {"id": "bad"}} | odd
    failed: list[tuple[str, str]] = []
    values = encode("events", [bad, good], 0, failed)
    assert len(values) == WIDTH["events"] and values[0] == "good"
    assert [rid for rid, _ in failed] == ["bad"] and "not a time" in failed[0][1]
