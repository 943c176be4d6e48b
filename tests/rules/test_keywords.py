"""Keyword (field-less) searches over Windows records: a record's event.original that only repeats
its fields as JSON (EVTX, Winlogbeat) is not searched; one that holds more (NXLog's header, a text
log's raw line) still is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from canh.collectors.evtx import map_json_record
from canh.collectors.registry import LineContext
from canh.collectors.winlogjson import WinlogJsonParser
from canh.rules.compile import Doc, flatten, original_is_copy
from tests.rules.ruleutil import matches, sigma

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
IMAGE = "C:\\Windows\\System32\\cmd.exe"


def _line(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc).decode()


def evtx_event(**data: str) -> dict[str, Any]:
    record = {"Event": {"System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-21T03:20:30.000000Z"}}, "EventRecordID": 7,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "PC01"},
        "EventData": {"Image": IMAGE, "CommandLine": 'cmd /c "whoami"', **data}}}  # fmt: skip
    return map_json_record(_line(record), source="/x/Sysmon.evtx", position=7, host=None, now=NOW)


def _ctx() -> LineContext:
    return LineContext(source="/var/log/win.json", position=0, host=None, now=NOW)


def winlogbeat_event() -> dict[str, Any]:
    doc = {"@timestamp": "2026-11-21T03:20:30.000Z", "agent": {"type": "winlogbeat"},
           "message": "Process Create: RuleName: -", "winlog": {
               "channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "record_id": 7,
               "computer_name": "PC01", "event_data": {"Image": IMAGE, "CommandLine": 'cmd /c "whoami"'}}}  # fmt: skip
    ev = WinlogJsonParser().parse(_line(doc), _ctx())
    assert ev is not None
    return ev


def nxlog_event() -> dict[str, Any]:
    doc = {"EventTime": "2026-11-21 10:20:30", "Hostname": "PC01", "EventID": 1, "Channel":
           "Microsoft-Windows-Sysmon/Operational", "SourceName": "Microsoft-Windows-Sysmon",
           "Message": "Process Create: launched by the updater", "Image": IMAGE}  # fmt: skip
    ev = WinlogJsonParser().parse(_line(doc), _ctx())
    assert ev is not None
    return ev


KEYWORDS = "  keywords:\n    - '{}'\n  condition: keywords"
SYSMON = "product: windows\n  service: sysmon"


def keyword_rule(word: str) -> str:
    return sigma(KEYWORDS.format(word.replace("'", "''")), logsource=SYSMON)


def test_which_originals_are_copies_of_the_fields() -> None:
    assert original_is_copy(evtx_event()["event"]["original"])
    assert original_is_copy(winlogbeat_event()["event"]["original"])
    assert original_is_copy('{"winlog.channel": "Security", "winlog.event_id": 4625}')
    assert not original_is_copy(nxlog_event()["event"]["original"])
    # a value naming winlog is no key (its quotes are escaped inside a JSON string)
    assert not original_is_copy('{"EventID": 1, "Image": "C:\\\\tools\\\\winlog\\":x"}')
    assert not original_is_copy("Nov 21 10:20:30 bastion-01 sshd[811]: Failed password for root")


def test_the_keyword_text_of_evtx_and_winlogbeat_records_leaves_their_json_copy_out() -> None:
    for ev in (evtx_event(), winlogbeat_event()):
        text = Doc(ev).text(raw=True)
        assert ev["event"]["original"] not in text
        assert IMAGE in text and 'cmd /c "whoami"' in text
    nx = nxlog_event()
    assert nx["event"]["original"] in Doc(nx).text(raw=True)  # its Message has no field of its own


def test_the_copy_is_found_alike_in_nested_and_dotted_events() -> None:
    for ev in (evtx_event(), winlogbeat_event(), nxlog_event()):
        nested, dotted = Doc(ev).original_copy(), Doc(ev, flatten(ev)).original_copy()
        assert nested == dotted
        assert (nested is not None) is original_is_copy(ev["event"]["original"])
    ev = evtx_event()
    ev["winlog"].pop("event_id")
    assert Doc(ev).original_copy() is None is Doc(ev, flatten(ev)).original_copy()


def test_keywords_match_the_values_not_their_json_escaping() -> None:
    for ev in (evtx_event(), winlogbeat_event()):
        assert matches(keyword_rule("\\System32\\cmd.exe"), ev)
        assert matches(keyword_rule('/c "whoami"'), ev)
        # the escaped spellings were only ever in the JSON copy
        assert not matches(keyword_rule("C:\\\\\\\\Windows"), ev)  # Sigma: C:\\Windows, two backslashes
        assert not matches(keyword_rule('\\"whoami\\"'), ev)
        assert not matches(keyword_rule('"Image":'), ev)  # a key of the JSON, no value of the event


def test_nxlog_and_text_logs_keep_searching_their_raw_record() -> None:
    assert matches(keyword_rule("launched by the updater"), nxlog_event())
    line = "Nov 21 10:20:30 bastion-01 sshd[811]: Failed password for root from 203.0.113.9 port 4711 ssh2"
    event = {"event.dataset": "system.auth", "event.module": "system", "process.name": "sshd",
             "event.original": line, "message": "Failed password for root"}  # fmt: skip
    rule = sigma("  keywords:\n    - 'bastion-01 sshd[811]'\n  condition: keywords")
    assert matches(rule, event)  # the header the fields split up is only in the raw line


@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_any_event_data_value_is_found_as_written(value: str) -> None:
    ev = evtx_event(Extra=value)
    assert value in Doc(ev).text(raw=True)
    assert ev["event"]["original"] not in Doc(ev).text(raw=True)
