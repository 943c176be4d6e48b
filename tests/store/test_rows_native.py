"""The compiled event row encoder (native/rows) gives exactly the Python encoder's values and failures."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canh.events import format_ts
from canh.ingest import Ingester
from canh.store import sqlite_rows
from canh.store.base import Stream, WriteResult

native = pytest.importorskip("canh.store._rows_native")
if not hasattr(native, "encode_events"):
    pytest.skip("canh.store._rows_native is not built", allow_module_level=True)

NOW_MS = 1_795_300_000_000


def _python(recs: list[Any], checked: bool) -> tuple[list[Any], list[tuple[str, str]]]:
    failed: list[tuple[str, str]] = []
    return sqlite_rows._encode_events(recs, NOW_MS, failed, checked), failed


def _native(recs: list[Any], checked: bool) -> tuple[list[Any], list[tuple[str, str]], Counter[str]]:
    """The native encoder's values and failures, and why it handed records back (reason -> count)."""
    failed: list[tuple[str, str]] = []
    handed: Counter[str] = Counter()

    def one(rec: Any, why: str) -> list[Any]:
        handed[why] += 1
        return sqlite_rows._encode_events((rec,), NOW_MS, failed, checked)

    values = native.encode_events(recs, NOW_MS, checked, sqlite_rows.NULL, sqlite_rows._DOTTED_COLUMNS, one)
    return values, failed, handed


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and (a is b or a == b)


def _assert_same(recs: list[Any], checked: bool = False) -> Counter[str]:
    want, want_failed = _python(recs, checked)
    got, got_failed, handed = _native(recs, checked)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert _same(g, w), (i, g, w)
    assert got_failed == want_failed
    return handed


# Values as events hold them, and the odd ones the encoder must hand back or fail like Python.
_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=("Cs",))
    | st.sampled_from(["\x00", "\x1f", "\x7f", '"', "\\", "\u2028", "\u0301", "\U0001f600", "é", "ệ"]),
    max_size=40,
) | st.sampled_from(["e\u0301", "Vie\u0302\u0323t Nam", "a\U0001f600\u0301"])
_FLOATS = st.floats() | st.sampled_from(
    [-0.0, 0.0, 1e16, 1e15, 9999999999999998.0, 1e-5, 9.99999e-6, 1e-7, 0.1, 1.5, float("nan"), float("-inf")]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**63) - 2, max_value=2**64 + 2)
    | _FLOATS
    | _TEXT
    | st.sampled_from(["\ud800", "a\udfffb"])  # lone surrogates: orjson refuses them
)
_VALUES = st.recursive(
    _SCALARS | st.datetimes().map(lambda d: d),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_TEXT | st.sampled_from(["a.b", "x"]), inner, max_size=4)
    ),
    max_leaves=8,
)
_STAMPS = (
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(format_ts)
    | st.sampled_from(
        [
            "",
            "2026-11-21T00:00:00.000Z",
            "2026-02-30T00:00:00.000Z",
            "2026-11-21T00:00:60.000Z",
            "2026-11-21T24:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "2026-11-21T00:00:00Z",
            "2026-11-21T07:00:00.000+07:00",
            "2026-11-21T00:00:00.123456789Z",
            "２０２６-11-21T00:00:00.000Z",
            "not a time",
        ]
    )
    | st.none()
    | st.integers(min_value=0, max_value=2_000_000_000_000)
)
_IDS = st.text(min_size=1, max_size=8) | st.sampled_from(["", None, 0, 7])


@st.composite
def _records(draw: st.DrawFn) -> Any:
    ev: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        ev["id"] = draw(_IDS)
    if draw(st.booleans()):
        ev["ingested"] = draw(_STAMPS)
    for field in ("dataset", "action", "kind"):
        if draw(st.booleans()):
            ev[field] = draw(_TEXT | _VALUES)
    rec: dict[str, Any] = {}
    if draw(st.integers(0, 3)):
        rec["@timestamp"] = draw(_STAMPS)
    rec["event"] = ev if draw(st.integers(0, 19)) else draw(_VALUES)
    for obj, field in (("host", "name"), ("source", "ip"), ("destination", "ip"), ("user", "name")):
        if draw(st.booleans()):
            rec[obj] = {field: draw(_TEXT | _VALUES), "x": 1} if draw(st.integers(0, 4)) else draw(_VALUES)
    for key in draw(
        st.lists(_TEXT | st.sampled_from([*sorted(sqlite_rows._DOTTED_COLUMNS), "a.b"]), max_size=3)
    ):
        rec[key] = draw(_VALUES)
    return rec


@settings(max_examples=250, deadline=None)
@given(st.lists(_records(), max_size=6), st.booleans())
def test_same_values_and_failures_as_the_python_encoder(recs: list[Any], checked: bool) -> None:
    _assert_same(recs, checked)


@settings(max_examples=300, deadline=None)
@given(st.floats())
def test_floats_are_written_as_orjson_writes_them(x: float) -> None:
    rec = {"event": {"id": "f"}, "n": x, "l": [x, -x]}
    values, failed, handed = _native([rec], False)
    assert not failed
    assert values[-1] == orjson.dumps(rec, default=str).decode()
    if x == 0 or not math.isfinite(x) or (1e-5 <= abs(x) < 1e16 and _significant(x) < 16):
        assert not handed


def _significant(x: float) -> int:
    """Significant digits of a float's shortest text (16 or more: two writers may round a tie apart)."""
    mantissa = repr(abs(x)).split("e")[0].replace(".", "").strip("0")
    return len(mantissa)


def test_plain_decimal_floats_match_orjson_in_bulk() -> None:
    # Random bit patterns and decimal-looking values in the range the encoder writes itself.
    import random

    rng = random.Random(3)
    xs = [rng.uniform(1e-5, 1e16) for _ in range(3000)]
    xs += [round(rng.uniform(0, 1e6), rng.randrange(0, 8)) for _ in range(3000)]
    xs += [rng.uniform(-1, 1) * 10.0 ** rng.randrange(-5, 16) for _ in range(3000)]
    recs = [{"event": {"id": str(i)}, "x": x} for i, x in enumerate(xs)]
    values, _failed, handed = _native(recs, False)
    docs = values[9::10]
    assert docs == [orjson.dumps(r).decode() for r in recs]
    # Most have 16-17 digits and go back; the short ones are written here.
    assert 0 < sum(handed.values()) < len(recs) - 3000


def test_odd_records_are_handed_back_and_keep_their_place() -> None:
    recs = [
        {"event": {"id": "a"}, "@timestamp": "2026-11-21T00:00:01.500Z"},
        {"event": {"id": "b"}, "when": datetime(2026, 1, 1, tzinfo=UTC)},
        {"event": {"id": ""}},
        {"event": {"id": "c"}, "host.name": "dotted"},
        {"event": {"id": "d"}, "@timestamp": "2026-02-30T00:00:00.000Z"},
        {"event": {"id": "e"}, "big": 2**64},
        {"event": {"id": "f"}, "s": "\ud800"},
        {"event": {"id": "g"}, "@timestamp": "2026-11-21T07:00:00+07:00", 1: "non-str key"},
        {"event": {"id": "h"}, "host": {"name": ["x", "y"]}},
    ]
    for checked in (False, True):
        handed = _assert_same(recs, checked)
        assert sum(handed.values()) == 7


def _events_from(paths: list[Path], fmt: str | None, tmp: Path) -> list[Any]:
    """The events Canh's collectors make of files, as `canh ingest` hands them to the store."""

    class Capture:
        def __init__(self) -> None:
            self.events: list[Any] = []

        def write(self, stream: Stream, records: Any) -> WriteResult:
            batch = list(records)
            self.events += batch
            return WriteResult(written=len(batch))

    store = Capture()
    Ingester(store, dead_letter=tmp / "dead.jsonl", host="test-host").run(paths, fmt)  # type: ignore[arg-type]
    return store.events


def _typical(tmp: Path) -> list[Any]:
    auth = tmp / "auth.log"
    auth.write_text(
        "Nov 21 00:00:01 srv-01 sshd[1201]: Failed password for root from 185.220.101.7 port 40522 ssh2\n"
        "Nov 21 00:00:02 srv-01 sshd[1201]: Accepted publickey for deploy from 14.161.28.9 port 51000 ssh2\n"
        "Nov 21 00:00:03 srv-02 sudo:   admin : TTY=pts/0 ; PWD=/home/admin ; USER=root ; COMMAND=/bin/ls\n"
        "Nov 21 00:00:04 srv-02 CRON[77]: pam_unix(cron:session): session opened for user root by (uid=0)\n",
        encoding="utf-8",
    )
    web = tmp / "access.log"
    web.write_text(
        '113.160.1.2 - - [21/Nov/2026:07:00:00 +0700] "GET /tra-cuu-ho-so?ma=1 HTTP/1.1" 200 512 "-" "curl/8.5.0"\n'
        '27.72.3.4 - - [21/Nov/2026:07:00:01 +0700] "POST /đăng-nhập HTTP/1.1" 403 0 "-" "Mozilla/5.0 (tiếng Việt)"\n',
        encoding="utf-8",
    )
    eve = tmp / "eve.json"
    eve.write_text(
        json.dumps(
            {
                "timestamp": "2026-11-21T07:00:00.123456+0700",
                "event_type": "alert",
                "src_ip": "10.0.0.5",
                "src_port": 51515,
                "dest_ip": "8.8.8.8",
                "dest_port": 53,
                "proto": "UDP",
                "alert": {"signature": "ET DNS Query", "signature_id": 2027863, "severity": 2},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    return (
        _events_from([auth], "syslog", tmp)
        + _events_from([web], "web", tmp)
        + _events_from([eve], "suricata-eve", tmp)
    )


def test_typical_events_are_encoded_natively(tmp_path: Path) -> None:
    events = _typical(tmp_path)
    assert len(events) >= 7
    for checked in (False, True):
        assert _assert_same(events, checked) == Counter()


def test_corpus_events(corpus: Path, tmp_path: Path) -> None:
    logs = [
        corpus / p
        for p in (
            "logs/loghub/Linux/Linux_2k.log",
            "logs/loghub/OpenSSH/OpenSSH_2k.log",
            "logs/loghub/Apache/Apache_2k.log",
            "logs/elastic-examples/apache_logs",
        )
        if (corpus / p).exists()
    ]
    evtx = sorted((corpus / "evtx").rglob("*.evtx"))[:40]
    pcaps = sorted((corpus / "pcap").rglob("*.pcap"))[:10]
    events = _events_from(logs + evtx + pcaps, None, tmp_path)
    assert len(events) > 1000
    for checked in (False, True):
        handed = _assert_same(events, checked)
        # Only records with values the encoder cannot prove it writes as orjson does go back.
        assert sum(handed.values()) < len(events) // 100, handed


class _Attrs:
    def __init__(self) -> None:
        self.a, self.b = 1, "two"


def test_every_dict_layout_is_read_in_order() -> None:
    # Combined str-key tables with removed members, general tables (a non-str key was there), split
    # tables (an instance's __dict__): all walked in insertion order, as orjson does.
    removed = {"a": 1, "b": 2, "c": 3, "d": 4}
    del removed["b"]
    removed["e"] = 5
    general: dict[Any, Any] = {1: "x", "k": "v", "m": [1]}
    del general[1]
    split = _Attrs().__dict__
    grown = {f"k{i}": i for i in range(300)}
    for i in range(0, 300, 3):
        del grown[f"k{i}"]
    rec = {"event": {"id": "d"}, "removed": removed, "general": general, "split": split, "grown": grown}
    handed = _assert_same([rec, {"event": {"id": "e"}, **split}])
    assert handed == Counter()


def test_long_texts_with_escapes() -> None:
    # event.original of an EVTX record is JSON text: quotes and backslashes every few bytes, at
    # every offset within a word; the same with non-ASCII and astral characters.
    inner = json.dumps({"Path": "C:\\Users\\IEUser\\AppData", "Tab": "a\tb", "Nul": "\x00", "Rule": ""})
    texts = [inner * k + "x" * j for k in (1, 7) for j in range(9)]
    texts += (
        [t.replace("Users", "Người dùng") for t in texts]  # 2-byte code points
        + [t.replace("Tab", "Microsoft® Windows®\x80ÿ") for t in texts]  # Latin-1
        + [t + "\U0001f600\x1f" for t in texts]
    )
    recs = [{"event": {"id": str(i), "original": t}, "message": t[::-1]} for i, t in enumerate(texts)]
    assert _assert_same(recs) == Counter()
