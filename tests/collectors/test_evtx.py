"""EVTX: the Winlogbeat-style mapping as a pure function on parser JSON, and the reader on real files."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canh.collectors.evtx import EvtxFolderSource, EvtxReader, build, map_json_record, record_from_json
from canh.collectors.registry import LineContext, ReadProblem, detect_file
from canh.collectors.winlog import WinRecord, dataset_for, record_identity
from canh.events import Event, get
from tests.conftest import CanhRun

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _record(system: dict[str, Any], event_data: Any = None, **extra: Any) -> str:
    base = {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "54849625"}},
        "EventID": 4625, "Version": 0, "Level": 0, "Task": 12544, "Opcode": 0,
        "Keywords": "0x8010000000000000",
        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-21T03:04:05.1234567Z"}},
        "EventRecordID": 137222, "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 640, "ThreadID": 684}},
        "Channel": "Security", "Computer": "DC01.sotttt.gov.vn", "Security": None,
    }  # fmt: skip
    base.update(system)
    event: dict[str, Any] = {"System": base}
    if event_data is not None:
        event["EventData"] = event_data
    event.update(extra)
    return orjson.dumps({"Event": event}).decode()


def _map(data: str) -> Event:
    return map_json_record(data, source="/logs/Security.evtx", position=1, host=None, now=NOW)


def test_security_4625_failed_logon_has_user_source_ip_and_outcome() -> None:
    ev = _map(_record({}, {
        "SubjectUserName": "-", "TargetUserName": "nguyen.van.a", "TargetDomainName": "SOTTTT",
        "TargetUserSid": "S-1-0-0", "LogonType": 3, "IpAddress": "185.220.101.47", "IpPort": "51234",
        "ProcessId": "0x1358", "Status": "0xc000006d",
    }))  # fmt: skip
    assert ev["@timestamp"] == "2026-11-21T03:04:05.123Z"
    assert get(ev, "event.code") == "4625"
    assert get(ev, "event.dataset") == "windows.security" and get(ev, "event.module") == "windows"
    assert get(ev, "event.provider") == "Microsoft-Windows-Security-Auditing"
    assert get(ev, "event.outcome") == "failure"
    assert get(ev, "event.category") == ["authentication"]
    assert get(ev, "user.name") == "nguyen.van.a" and get(ev, "user.domain") == "SOTTTT"
    assert get(ev, "source.ip") == "185.220.101.47" and get(ev, "source.port") == 51234
    assert get(ev, "process.pid") == 0x1358
    assert get(ev, "winlog.event_id") == 4625 and get(ev, "winlog.record_id") == 137222
    assert (
        get(ev, "winlog.computer_name") == "DC01.sotttt.gov.vn"
        and get(ev, "host.name") == "DC01.sotttt.gov.vn"
    )
    # Winlogbeat keeps every EventData value as a string under its original name.
    assert get(ev, "winlog.event_data.LogonType") == "3"
    assert get(ev, "winlog.event_data.SubjectUserName") == "-"
    assert get(ev, "winlog.logon.type") == "Network"
    assert get(ev, "winlog.keywords") == ["Audit Failure"]
    assert orjson.loads(get(ev, "event.original"))["Event"]["System"]["EventRecordID"] == 137222


def test_non_logon_security_event_is_about_the_subject() -> None:
    ev = _map(_record({"EventID": 4720, "Keywords": "0x8020000000000000"}, {
        "SubjectUserName": "admin01", "SubjectDomainName": "SOTTTT", "SubjectUserSid": "S-1-5-21-1",
        "TargetUserName": "support2", "TargetDomainName": "SOTTTT",
    }))  # fmt: skip
    assert get(ev, "user.name") == "admin01" and get(ev, "user.target.name") == "support2"
    assert get(ev, "event.outcome") == "success"
    assert get(ev, "event.type") == ["user", "creation"]


def test_sysmon_process_creation_fields_sigma_needs() -> None:
    ev = _map(_record(
        {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
         "Channel": "Microsoft-Windows-Sysmon/Operational", "Keywords": "0x8000000000000000", "Level": 4},
        {"ProcessId": 3388, "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd.exe /c whoami",
         "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "explorer.exe", "ParentProcessId": 2236,
         "User": "SOTTTT\\kế.toán", "OriginalFileName": "Cmd.Exe", "Hashes": "SHA1=AB,MD5=CD,IMPHASH=EF",
         "IntegrityLevel": "High", "CurrentDirectory": "C:\\"},
    ))  # fmt: skip
    assert get(ev, "event.dataset") == "windows.sysmon_operational" and get(ev, "event.module") == "sysmon"
    assert get(ev, "process.executable") == "C:\\Windows\\System32\\cmd.exe"
    assert get(ev, "process.name") == "cmd.exe"
    assert get(ev, "process.command_line") == "cmd.exe /c whoami"
    assert get(ev, "process.parent.executable") == "C:\\Windows\\explorer.exe"
    assert get(ev, "process.parent.name") == "explorer.exe"
    assert get(ev, "process.parent.command_line") == "explorer.exe"
    assert get(ev, "process.pid") == 3388 and get(ev, "process.parent.pid") == 2236
    assert get(ev, "process.pe.original_file_name") == "Cmd.Exe"
    assert get(ev, "process.hash.sha1") == "ab" and get(ev, "process.hash.imphash") == "ef"
    assert get(ev, "user.name") == "kế.toán" and get(ev, "user.domain") == "SOTTTT"
    assert get(ev, "winlog.event_data.ProcessId") == "3388"
    assert get(ev, "event.category") == ["process"] and get(ev, "event.type") == ["start"]
    assert get(ev, "log.level") == "information"


def test_sysmon_network_dns_registry() -> None:
    sysmon = {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
              "Channel": "Microsoft-Windows-Sysmon/Operational"}  # fmt: skip
    net = _map(_record({**sysmon, "EventID": 3}, {
        "Image": "C:\\x\\nc.exe", "Protocol": "tcp", "Initiated": "true", "SourceIp": "10.0.0.5",
        "SourcePort": "49152", "DestinationIp": "::ffff:45.95.147.236", "DestinationPort": "4444",
    }))  # fmt: skip
    assert get(net, "destination.ip") == "45.95.147.236" and get(net, "destination.port") == 4444
    assert get(net, "network.direction") == "egress" and get(net, "network.transport") == "tcp"
    dns = _map(_record({**sysmon, "EventID": 22}, {"QueryName": "evil.example", "Image": "C:\\a.exe"}))
    assert get(dns, "dns.question.name") == "evil.example"
    reg = _map(
        _record({**sysmon, "EventID": 13}, {"TargetObject": "HKLM\\Software\\Run\\x", "Details": "c:\\x"})
    )
    assert get(reg, "registry.path") == "HKLM\\Software\\Run\\x"
    bad = _map(_record({**sysmon, "EventID": 3}, {"SourceIp": "not-an-ip", "SourcePort": "-"}))
    assert get(bad, "source.ip") is None and get(bad, "winlog.event_data.SourceIp") == "not-an-ip"


def test_addresses_with_non_ascii_digits_are_not_source_ip() -> None:
    """int() reads Arabic-Indic digits, so a digit-by-digit check took "١٠.0.0.1" for an IPv4 address."""
    ev = _map(_record({"EventID": 4624}, {"IpAddress": "\u0661\u0660.0.0.1", "TargetUserName": "u"}))
    assert get(ev, "source.ip") is None
    assert get(ev, "winlog.event_data.IpAddress") == "\u0661\u0660.0.0.1"
    assert get(_map(_record({"EventID": 4624}, {"IpAddress": "10.0.0.1"})), "source.ip") == "10.0.0.1"


def test_event_data_values_become_strings_and_nested_elements_their_leaves() -> None:
    ev = _map(_record({}, {
        "A": "x", "N": 5, "F": 1.5, "T": True, "Z": None, "L": ["a", 2], "W": {"#text": "w"},
        "Nested": {"#attributes": {"k": "v"}, "Leaf1": "v", "Leaf2": 3}, "B": "y",
    }))  # fmt: skip
    data = get(ev, "winlog.event_data")
    assert list(data.items()) == [
        ("A", "x"), ("N", "5"), ("F", "1.5"), ("T", "true"), ("Z", ""), ("L", "a\n2"), ("W", "w"),
        ("Leaf1", "v"), ("Leaf2", "3"), ("B", "y"),
    ]  # fmt: skip


def test_events_share_no_mutable_parts() -> None:
    """Keyword names and categories are worked out once per value; every event must get its own lists."""
    first = _map(_record({}, {"TargetUserName": "a"}))
    first["winlog"]["keywords"].append("changed")
    first["event"]["category"].append("changed")
    second = _map(_record({}, {"TargetUserName": "a"}))
    assert get(second, "winlog.keywords") == ["Audit Failure"]
    assert get(second, "event.category") == ["authentication"]


_STAMPS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2038, 1, 1))  # 31-bit seconds
# Steps that land in the same minute, the next one, the same minute of another hour or day.
_STEPS = st.lists(st.sampled_from([0, 1, 59, 60, 61, 3600, 3660, 86400, -1, -60, -3600]) | st.integers(-10**6, 10**6),
                  max_size=12)  # fmt: skip


@given(_STAMPS, _STEPS, st.integers(0, 7), st.integers(0, (1 << 32) - 1))
def test_record_identity_second_matches_the_stamp(
    base: datetime, steps: list[int], digits: int, rid: int
) -> None:
    """The per-minute cache gives the same second as parsing each stamp (EVTX SystemTime, 0-7 digits)."""
    when = base
    for step in [0, *steps]:
        when = min(max(when + timedelta(seconds=step), datetime(1970, 1, 1)), datetime(2038, 1, 1))
        frac = f".{when.microsecond:06d}0"[: digits + 1] if digits else ""
        text = when.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"
        ident = record_identity(WinRecord("Security", 4624, None, "H", rid, text))
        seconds = int(when.replace(tzinfo=UTC).timestamp())
        assert ident == ("winlog://H/Security", (seconds << 32) | rid), text


@pytest.mark.parametrize("text", ["2020-02-30T13:18:23Z", "2020-09-09T13:18:60.1Z", "2020-09-09T13:18:2xZ",
                                  "2020-09-09T13:18:2\u0663Z", "2020-13-09T13:18:23Z"])  # fmt: skip
def test_record_identity_of_an_impossible_stamp_uses_second_zero(text: str) -> None:
    assert record_identity(WinRecord("Security", 1, None, "H", 7, text)) == ("winlog://H/Security", 7)


def test_classic_event_with_qualifiers_unnamed_data_and_user_data() -> None:
    ev = _map(_record(
        {"Provider": {"#attributes": {"Name": "Service Control Manager", "EventSourceName": "SCM"}},
         "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036}, "Channel": "System"},
        {"Data": {"#text": ["Windows Update", "running"]}, "Binary": "5700"},
    ))  # fmt: skip
    assert get(ev, "winlog.event_id") == 7036 and get(ev, "event.dataset") == "windows.system"
    assert get(ev, "winlog.event_data.param1") == "Windows Update"
    assert get(ev, "winlog.event_data.param2") == "running"
    cleared = _map(_record({"EventID": 104, "Channel": "System"}, None, UserData={"LogFileCleared": {
        "#attributes": {"xmlns": "x"}, "SubjectUserName": "admin01", "SubjectDomainName": "SOTTTT",
        "Channel": "Security"}}))  # fmt: skip
    assert get(cleared, "winlog.user_data.SubjectUserName") == "admin01"
    assert get(cleared, "winlog.user_data.xml_name") == "LogFileCleared"
    assert get(cleared, "user.name") == "admin01"


def test_powershell_script_block() -> None:
    ev = _map(_record(
        {"Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell"}}, "EventID": 4104,
         "Channel": "Microsoft-Windows-PowerShell/Operational", "Keywords": "0x0"},
        {"MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": "IEX (New-Object Net.WebClient)", "Path": ""},
    ))  # fmt: skip
    assert get(ev, "event.dataset") == "windows.powershell_operational"
    assert get(ev, "powershell.file.script_block_text") == "IEX (New-Object Net.WebClient)"
    assert get(ev, "winlog.event_data.MessageNumber") == "1"


def test_dataset_names() -> None:
    assert dataset_for("Security") == ("windows.security", "windows")
    assert dataset_for("Windows PowerShell") == ("windows.powershell", "windows")
    assert dataset_for("Microsoft-Windows-Bits-Client/Operational") == (
        "windows.microsoft-windows-bits-client_operational", "windows")  # fmt: skip


def test_event_id_is_the_record_wherever_it_was_read() -> None:
    """The same record in two copies of a log is one event; a cleared log (numbers restart) is not."""
    a = map_json_record(_record({}, {}), source="/a/Security.evtx", position=1, host=None, now=NOW)
    b = map_json_record(_record({}, {}), source="/b/copy.evtx", position=9, host=None, now=NOW)
    assert a["event"]["id"] == b["event"]["id"]
    later = _record({"TimeCreated": {"#attributes": {"SystemTime": "2026-11-22T00:00:00Z"}}}, {})
    assert _map(later)["event"]["id"] != a["event"]["id"]
    rec = record_from_json(orjson.loads(_record({}, {}))["Event"])
    assert record_identity(rec) is not None


def test_mapping_rejects_records_without_a_header() -> None:
    with pytest.raises(KeyError):
        _map(orjson.dumps({"Event": {"EventData": {}}}).decode())


def test_reader_claims_by_magic(tmp_path: Path) -> None:
    assert EvtxReader().claims(b"ElfFile\x00" + bytes(56), tmp_path / "x.bin")
    assert not EvtxReader().claims(b"<14>Nov 21 ...", tmp_path / "x.evtx")
    reader = detect_file(b"ElfFile\x00" + bytes(56), tmp_path / "a")
    assert reader is not None and reader.name == "evtx"


def _evtx_files(corpus: Path) -> list[Path]:
    files = sorted((corpus / "evtx").rglob("*.evtx"))
    if not files:
        pytest.skip("no evtx files in the corpus")
    return files


def test_corpus_every_record_read_and_sigma_fields_present(corpus: Path) -> None:
    reader = EvtxReader()
    events: list[Event] = []
    problems: list[ReadProblem] = []
    for path in _evtx_files(corpus):
        for item in reader.read(path, LineContext(source=str(path), position=0)):
            (problems if isinstance(item, ReadProblem) else events).append(item)  # type: ignore[arg-type]
    assert not problems
    assert len(events) == 8255  # MANIFEST.md: 8,255 records, no parser errors
    # 13 records are in the corpus twice: UACME_59_Sysmon.evtx (7) at the top and in Privilege
    # Escalation, byte for byte, and two pairs of exports from one log (the xp_cmdshell files, 4;
    # the scheduled-task files, 2). Each copy maps to the same event.id, so a store keeps one.
    by_id: dict[str, list[Event]] = {}
    for ev in events:
        by_id.setdefault(ev["event"]["id"], []).append(ev)
    copies = [group for group in by_id.values() if len(group) > 1]
    assert len(by_id) == 8242 and len(copies) == 13
    for group in copies:
        assert len({e["event"]["original"] for e in group}) == 1
        assert len({e["log"]["file"]["path"] for e in group}) == len(group)
    for ev in events:
        assert (
            ev["@timestamp"].endswith("Z")
            and get(ev, "event.code")
            and get(ev, "winlog.event_id") is not None
        )
        assert get(ev, "event.dataset", "").startswith("windows.")
    by = Counter((get(e, "winlog.channel"), get(e, "winlog.event_id")) for e in events)
    sysmon1 = [e for e in events if get(e, "winlog.channel") == "Microsoft-Windows-Sysmon/Operational"
               and get(e, "winlog.event_id") == 1]  # fmt: skip
    assert len(sysmon1) == by[("Microsoft-Windows-Sysmon/Operational", 1)] > 1000
    for ev in sysmon1:
        assert get(ev, "process.command_line") and get(ev, "process.executable")
        # Two records in the corpus have ParentImage "-" (parent unknown to Sysmon); nothing else lacks it.
        assert get(ev, "process.parent.executable") or get(ev, "winlog.event_data.ParentImage") == "-"
    failed = [
        e for e in events if get(e, "winlog.channel") == "Security" and get(e, "winlog.event_id") == 4625
    ]
    assert failed and all(get(e, "user.name") and get(e, "event.outcome") == "failure" for e in failed)
    with_ip = [e for e in events if get(e, "winlog.event_data.IpAddress") not in (None, "-", "")]
    assert with_ip and all(get(e, "source.ip") for e in with_ip)
    ps = [e for e in events if get(e, "winlog.event_id") == 4104]
    assert ps and all(get(e, "powershell.file.script_block_text") for e in ps)
    assert by[("System", 7045)] and by[("Security", 4624)]


def test_damaged_chunk_is_a_problem_and_reading_goes_on(corpus: Path, tmp_path: Path) -> None:
    big = max(_evtx_files(corpus), key=lambda p: p.stat().st_size)
    data = bytearray(big.read_bytes())
    data[4096 + 512 + 300 : 4096 + 512 + 364] = b"\xff" * 64  # inside the first chunk's records
    bad = tmp_path / "damaged.evtx"
    bad.write_bytes(bytes(data))
    items = list(EvtxReader().read(bad, LineContext(source=str(bad), position=0)))
    problems = [i for i in items if isinstance(i, ReadProblem)]
    good = [i for i in items if not isinstance(i, ReadProblem)]
    assert len(problems) == 1 and "damaged.evtx:records 1-" in problems[0].where
    assert len(good) > 100


def test_canh_ingest_evtx_file(corpus: Path, canh: CanhRun) -> None:
    path = (
        corpus
        / "evtx"
        / "EVTX-ATTACK-SAMPLES"
        / "Credential Access"
        / "CA_4624_4625_LogonType2_LogonProc_chrome.evtx"
    )
    if not path.exists():
        pytest.skip("sample not in corpus")
    first = canh("ingest", str(path), check=True)
    assert "4 new event(s)" in first.stdout
    found = canh.json(
        "events", "search", "event.code:4625 AND user.name:IEUser", "--since", "2020-01-01T00:00:00Z"
    )
    assert len(found) == 1 and found[0]["winlog"]["channel"] == "Security"
    again = canh("ingest", str(path), check=True)
    assert "0 new event(s)" in again.stdout and "4 already present" in again.stdout


def test_folder_source_reads_each_file_once_and_checkpoints(corpus: Path, tmp_path: Path) -> None:
    folder = tmp_path / "evtx"
    folder.mkdir()
    files = [p for p in _evtx_files(corpus) if p.stat().st_size < 100_000][:3]
    for i, p in enumerate(files):
        (folder / f"{i}.evtx").write_bytes(p.read_bytes())
    state = tmp_path / "state"

    def run_once() -> list[Event]:
        got: list[Event] = []
        stop = threading.Event()
        src = EvtxFolderSource(folder, name="t", state_dir=state, poll=0.05)

        def emit(batch: list[Event], commit: Any) -> None:
            got.extend(batch)
            if commit:
                commit()
            if src.stats()["files"] >= len(files):
                stop.set()

        t = threading.Thread(target=src.run, args=(emit, stop))
        t.start()
        t.join(5)
        stop.set()
        t.join(5)
        return got

    first = run_once()
    expected = sum(
        1 for p in files for i in EvtxReader().read(p, LineContext(source=str(p), position=0))
        if not isinstance(i, ReadProblem)
    )  # fmt: skip
    assert len(first) == expected
    assert run_once() == []  # checkpointed: nothing read again


def test_build_from_config(tmp_path: Path) -> None:
    from canh.config import SourceConfig
    from canh.errors import ConfigError

    src = build(SourceConfig(type="evtx", name="dc01", path=str(tmp_path)), None)
    assert isinstance(src, EvtxFolderSource) and src.name == "dc01"
    with pytest.raises(ConfigError):
        build(SourceConfig(type="evtx"), None)
