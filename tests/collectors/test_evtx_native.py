"""The native EVTX reader gives the events the Python reader gives: same fields, values, types, key order.

Compared as orjson text (which keeps key order and tells 1 from "1"): every corpus EVTX file, the
SigmaHQ regression samples, damaged copies, and generated records of every shape (the native
mapping may hand a record to the Python one, never map it differently).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canh.collectors.evtx import EvtxReader, map_json_record, native_mapper
from canh.collectors.registry import LineContext, ReadProblem
from canh.events import format_ts

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
MAPPER = native_mapper()
pytestmark = pytest.mark.skipif(MAPPER is None, reason="native EVTX reader not built (or CANH_EVTX_NATIVE=0)")


def _as_text(items: Iterator[Any]) -> list[Any]:
    return [
        ("problem", i.where, i.reason, i.raw) if isinstance(i, ReadProblem) else orjson.dumps(i)
        for i in items
    ]


def _both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    ctx = LineContext(source=str(path), position=0, now=NOW, host="collector01")
    native = _as_text(EvtxReader().read(path, ctx))
    monkeypatch.setenv("CANH_EVTX_NATIVE", "0")
    python = _as_text(EvtxReader().read(path, ctx))
    monkeypatch.delenv("CANH_EVTX_NATIVE")
    return native, python


def _files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "evtx").rglob("*.evtx")) + sorted(
        (corpus / "sigma" / "regression_data").rglob("*.evtx")
    )
    if not files:
        pytest.skip("no evtx files in the corpus")
    return files


@pytest.mark.corpus
def test_every_corpus_file_reads_the_same(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = 0
    for path in _files(corpus):
        native, python = _both(path, monkeypatch)
        assert native == python, path
        records += len(native)
    assert records > 8255  # the EVTX corpus alone has 8,255 records


@pytest.mark.corpus
def test_the_native_reader_maps_nearly_all_corpus_records_itself(corpus: Path) -> None:
    """Records handed to the Python mapping are the unusual ones (here: one with ProcessingErrorData)."""
    assert MAPPER is not None
    mapped = deferred = 0
    for path in _files(corpus):
        reader = MAPPER.read(str(path), str(path), None, format_ts(NOW))
        for _ in reader:
            pass
        mapped, deferred = mapped + reader.counts[0], deferred + reader.counts[1]
    assert mapped > 8000 and deferred <= mapped // 1000


@pytest.mark.corpus
def test_damaged_files_give_the_same_problems(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = max(_files(corpus), key=lambda p: p.stat().st_size)
    data = big.read_bytes()
    rng = random.Random(3)
    spots = [4096 + 512 + 300, 4096 + 8, 4096 + 65536 + 40]  # records, chunk header, second chunk header
    spots += [rng.randrange(4096, len(data) - 64) for _ in range(12)]
    problems = 0
    for n, spot in enumerate(spots):
        bad = bytearray(data)
        bad[spot : spot + 48] = bytes(rng.randrange(256) for _ in range(48))
        path = tmp_path / f"damaged{n}.evtx"
        path.write_bytes(bytes(bad))
        native, python = _both(path, monkeypatch)
        assert native == python, spot
        problems += sum(1 for i in native if isinstance(i, tuple))
    assert problems >= 2  # the damage did reach the parser


def test_truncated_and_missing_files_raise_what_the_python_reader_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "short.evtx"
    short.write_bytes(b"ElfFile\x00" + bytes(100))
    for path in (short, tmp_path / "absent.evtx"):
        raised = []
        for native in ("1", "0"):
            monkeypatch.setenv("CANH_EVTX_NATIVE", native)
            with pytest.raises(Exception) as info:
                list(EvtxReader().read(path, LineContext(source=str(path), position=0, now=NOW)))
            raised.append((type(info.value), str(info.value)))
        assert raised[0] == raised[1]


def test_native_off_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANH_EVTX_NATIVE", "0")
    assert native_mapper() is None
    monkeypatch.delenv("CANH_EVTX_NATIVE")
    assert native_mapper() is MAPPER


# ---- generated records: the native mapping maps them as the Python one, or hands them over ----

_NAMES = ["SubjectUserName", "TargetUserName", "TargetDomainName", "TargetUserSid", "TargetSid", "IpAddress",
          "IpPort", "LogonType", "ProcessId", "Image", "ParentImage", "CommandLine", "Hashes", "Protocol",
          "Initiated", "Signed", "Signature", "User", "SubjectLogonId", "TargetLogonId", "OriginalFileName",
          "TargetFilename", "PipeName", "DestinationIp", "SourceIp", "DestinationPort", "SequenceNumber",
          "Data", "#attributes", "param1", "xml_name", "Company", "Path", "ScriptBlockText", "QueryName"]  # fmt: skip
_TEXTS = ["", "-", "NULL", "x", "10.0.0.5", "::1", "fe80::1%12", "::ffff:45.95.147.236", "1.2.3.4%eth0",
          "010.1.1.1", "256.1.1.1", "0x1358", "0X1f", "12", "-7", " 12", "1_000", "\u0663", "99999999999999999999",
          "SHA1=AB,MD5=CD, IMPHASH = EF ,x=", "TCP", "True", "false", "DOM\\user", "C:\\a\\b.exe", "/x/y",
          "kế.toán", "İ", "a\nb", "\\\\?\\C:", "3", "10", "2", "\u00e9"]  # fmt: skip
_STAMPS = ["2026-11-21T03:04:05.1234567Z", "2026-11-21T03:04:05Z", "2026-11-21T03:04:05.1Z",
           "2020-02-29T23:59:59.999999Z", "2020-02-30T13:18:23Z", "2026-11-21T03:04:60Z", "2026-11-21 03:04:05Z",
           "2026-11-21T03:04:05+07:00", "2026-11-21T03:04:05.Z", "", "0001-01-01T00:00:00Z",
           "2106-02-07T06:28:16Z", "1969-12-31T23:59:59Z", "2026-11-21T03:04:05.12\u0663Z"]  # fmt: skip
_CHANNELS = ["Security", "System", "Microsoft-Windows-Sysmon/Operational", "Windows PowerShell",
             "Microsoft-Windows-PowerShell/Operational", "Application", "", "İstanbul/Ops"]  # fmt: skip

_scalar = st.one_of(
    st.sampled_from(_TEXTS), st.integers(-(2**63), 2**64 - 1), st.booleans(), st.none(),
    st.text(max_size=8), st.sampled_from([1.5, 0.0]),
)  # fmt: skip
_value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["#text", "#attributes", "Leaf", "Name", "Data"]), inner, max_size=3
        )
    ),
    max_leaves=6,
)
_data = st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=6), _value, max_size=10)
_attrs_of = st.dictionaries(st.sampled_from(["Name", "Guid", "EventSourceName", "Qualifiers", "ProcessID",
                                             "ThreadID", "SystemTime", "UserID", "ActivityID"]), _scalar, max_size=4)  # fmt: skip
_node = st.one_of(_scalar, st.fixed_dictionaries({"#attributes": _attrs_of}), st.builds(lambda a, t: {"#attributes": a, "#text": t}, _attrs_of, _scalar))  # fmt: skip


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    eid = draw(st.sampled_from([4624, 4625, 4688, 4720, 1, 3, 7, 22, 104, 7036, 4104, 1102, 5]))
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": draw(st.sampled_from(["Microsoft-Windows-Sysmon", "", "SCM"])),
                                     "Guid": "{54849625}"}},
        "EventID": draw(st.sampled_from([eid, {"#attributes": {"Qualifiers": draw(_scalar)}, "#text": eid}, str(eid)])),
        "Version": draw(_scalar), "Level": draw(_scalar), "Task": draw(_scalar), "Opcode": draw(_scalar),
        "Keywords": draw(st.sampled_from(["0x8010000000000000", "0x8020000000000000", "0x0", "", "junk", 5, None])),
        "TimeCreated": {"#attributes": {"SystemTime": draw(st.sampled_from(_STAMPS))}},
        "EventRecordID": draw(st.sampled_from([137222, 0, -1, 2**32, None, "12"])),
        "Correlation": draw(_node), "Execution": draw(_node),
        "Channel": draw(st.sampled_from(_CHANNELS)), "Computer": draw(st.sampled_from(["DC01", "", None])),
        "Security": draw(_node),
    }  # fmt: skip
    for key in draw(st.lists(st.sampled_from(sorted(system)), max_size=3)):
        system.pop(key, None)
    event: dict[str, Any] = {"System": system}
    if draw(st.booleans()):
        event["EventData"] = draw(_data | _value)
    if draw(st.integers(0, 3)) == 0:
        event["UserData"] = draw(st.dictionaries(st.sampled_from(["LogFileCleared", "#attributes", "X"]), _data | _value, max_size=2))  # fmt: skip
    return {"Event": event}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _records(), st.sampled_from(["/logs/Security.evtx", "relative.evtx"]), st.sampled_from([None, "", "h1"])
)
def test_generated_records_map_the_same_or_go_to_the_python_mapping(
    record: dict[str, Any], source: str, host: str | None
) -> None:
    assert MAPPER is not None
    text = orjson.dumps(record).decode()
    native = MAPPER.map_json(text, source, host, format_ts(NOW), 7)
    try:
        python: Any = map_json_record(text, source=source, position=7, host=host, now=NOW)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        assert native is None, exc
        return
    if native is not None:
        assert orjson.dumps(native) == orjson.dumps(python)


def test_hand_made_records_are_mapped_natively_and_the_same() -> None:
    """The shapes the corpus has few of: UserData only, binary data, empty EventData, unnamed Data."""
    assert MAPPER is not None
    base = {"Provider": {"#attributes": {"Name": "Service Control Manager", "Guid": "{555908d1}",
                                         "EventSourceName": "SCM"}},
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045}, "Version": 0, "Level": 4,
            "Task": 0, "Opcode": 0, "Keywords": "0x8080000000000000",
            "TimeCreated": {"#attributes": {"SystemTime": "2026-11-21T03:04:05.1234567Z"}},
            "EventRecordID": 42, "Correlation": None, "Execution": {"#attributes": {"ProcessID": 640, "ThreadID": 0}},
            "Channel": "System", "Computer": "WS01", "Security": {"#attributes": {"UserID": "S-1-5-18"}}}  # fmt: skip
    cases = [
        {"EventData": {"Data": {"#text": ["Windows Update", "running"]}, "Binary": "570075006100"}},
        {"EventData": {"ServiceName": "evil", "ImagePath": "C:\\x.exe", "Binary": None}},
        {"EventData": {}},
        {"EventData": {"#attributes": {"Name": "x"}}},
        {"EventData": None},
        {
            "UserData": {
                "LogFileCleared": {
                    "#attributes": {"xmlns": "x"},
                    "SubjectUserName": "admin01",
                    "SubjectDomainName": "SOTTTT",
                }
            }
        },
        {"UserData": {"#attributes": {}, "EventXML": None}},
        {"EventData": {"Nested": {"A": 1, "B": {"#text": "b"}, "C": [True, None]}, "SubjectUserName": "u"}},
    ]
    for extra in cases:
        text = orjson.dumps({"Event": {"System": base, **extra}}).decode()
        native = MAPPER.map_json(text, "/l/System.evtx", None, format_ts(NOW), 1)
        python = map_json_record(text, source="/l/System.evtx", position=1, host=None, now=NOW)
        assert native is not None, extra
        assert orjson.dumps(native) == orjson.dumps(python), extra


def test_streaming_reader_holds_one_chunk_at_a_time(corpus: Path) -> None:
    """Runs of events come a chunk at most at a time (the file is never read whole)."""
    assert MAPPER is not None
    files = sorted((corpus / "evtx").rglob("*.evtx"))
    if not files:
        pytest.skip("no evtx files in the corpus")
    big = max(files, key=lambda p: p.stat().st_size)
    runs = [
        len(item) for item in MAPPER.read(str(big), str(big), None, format_ts(NOW)) if isinstance(item, list)
    ]
    assert len(runs) > 10 and sum(runs) > 500 and max(runs) < 1000  # 17 chunks of at most ~100 records


@pytest.fixture(autouse=True)
def _restore_switch() -> Iterator[None]:
    before = os.environ.get("CANH_EVTX_NATIVE")
    yield
    if before is None:
        os.environ.pop("CANH_EVTX_NATIVE", None)
    else:
        os.environ["CANH_EVTX_NATIVE"] = before
