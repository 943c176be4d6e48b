"""Syslog headers: RFC 3164 time in the source's zone, year inference, RFC 5424, RFC 3339, text safety."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import get_parser
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore
from tests.collectors.parsing import ctx, fields, parse


def test_december_lines_read_in_january_land_in_the_old_year() -> None:
    ev = parse("Dec 31 23:59:59 h cron[1]: tick", now=datetime(2027, 1, 1, 2, 0, tzinfo=UTC))
    assert ev["@timestamp"] == "2026-12-31T16:59:59.000Z"


def test_rfc5424_dispatches_on_app_name() -> None:
    ev = parse(
        "<38>1 2026-11-21T02:10:01.123+07:00 bastion-01 sshd 21253 - - Failed password for root from 1.2.3.4 port 22 ssh2"
    )
    assert fields(
        ev, "@timestamp", "event.dataset", "event.action", "log.syslog.priority", "log.syslog.facility.code"
    ) == {
        "@timestamp": "2026-11-20T19:10:01.123Z",
        "event.dataset": "system.auth",
        "event.action": "ssh_login",
        "log.syslog.priority": 38,
        "log.syslog.facility.code": 4,
    }


def test_rfc3339_rsyslog_lines() -> None:
    ev = parse(
        "2026-11-21T02:10:01.123456+07:00 bastion-01 sudo: an : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id"
    )
    assert fields(ev, "@timestamp", "event.action", "host.name") == {
        "@timestamp": "2026-11-20T19:10:01.123Z",
        "event.action": "sudo",
        "host.name": "bastion-01",
    }


def test_generic_program_keeps_message_and_headerless_lines_too() -> None:
    ev = parse("Nov 21 07:00:30 dvc-01 dvc-app[2211]: Người dùng tranthib đăng nhập thành công")
    assert fields(ev, "event.dataset", "process.name", "message") == {
        "event.dataset": "syslog",
        "process.name": "dvc-app",
        "message": "Người dùng tranthib đăng nhập thành công",
    }
    bare = parse("just some text")
    assert bare["message"] == "just some text"


def test_vietnamese_nfc_and_invalid_bytes_end_to_end(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Người dùng đăng nhập thất bại")
    log = tmp_path / "app.log"
    log.write_bytes(
        f"Nov 21 07:00:30 dvc-01 dvc-app[1]: {decomposed}\n".encode()
        + b"Nov 21 07:00:31 dvc-01 dvc-app[1]: bad \xff\xfe bytes\n"
    )
    store = SQLiteStore(tmp_path / "c.db")
    report = Ingester(store, dead_letter=tmp_path / "dead.jsonl").run([log])
    assert report.written == 2 and not report.problems
    events = store.search("events", "*", limit=10, order="asc")
    assert events[0]["message"] == "Người dùng đăng nhập thất bại"
    assert unicodedata.is_normalized("NFC", events[0]["message"])
    assert events[1]["event"]["original"].endswith("bad \\xff\\xfe bytes")
    assert "\ufffd" in events[1]["message"]
    store.close()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_without_raising(text: str) -> None:
    parser = get_parser("syslog")
    for line in (
        text,
        f"Nov 21 02:10:01 h {text}",
        f"<13>1 {text}",
        f"<13>{text}",
        f"2026-11-21T02:10:01Z h {text}",
    ):
        ev = parser.parse(line, ctx())
        assert ev is None or "@timestamp" in ev


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_and_parse(raw: bytes) -> None:
    from canh.events import decode_line

    text, _ = decode_line(raw)
    get_parser("syslog").parse(text, ctx())


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["Asia/Ho_Chi_Minh", "America/New_York", "+05:30", "UTC", "Europe/London"]),
    st.integers(min_value=0, max_value=3),
)
def test_rfc3164_stamps_from_the_hour_table_match_the_local_time_computed_whole(
    when: datetime, zone: str, later: int
) -> None:
    from canh.collectors.registry import LineContext
    from canh.collectors.syslog import infer_year
    from canh.events import format_ts, local_zone

    tz = local_zone(zone)
    now = when.replace(tzinfo=UTC) + timedelta(days=later)
    parser = get_parser("syslog")
    for minute, second in ((when.minute, when.second), ((when.minute + 29) % 60, (when.second + 7) % 60)):
        # A line cannot say which of a DST fold's two hours it means: it is read as the first
        # (fold=0), as datetime reads a local time.
        local = when.replace(minute=minute, second=second, microsecond=0, fold=0)
        line = f"{_MONTHS[local.month - 1]} {local.day:2d} {local:%H:%M:%S} h cron[1]: tick"
        ev = parser.parse(line, LineContext(source="/var/log/syslog", position=0, tz=tz, now=now))
        assert ev is not None
        year = infer_year(local.month, local.day, now.astimezone(tz))
        try:
            expected = format_ts(local.replace(year=year, tzinfo=tz))
        except ValueError:  # Feb 29 of a year that has none
            expected = format_ts(now)
        assert ev["@timestamp"] == expected, line


def test_rfc5424_header_fields_and_structured_data_are_kept_ecs_style() -> None:
    line = (
        '<165>1 2026-11-21T02:10:01Z portal-01 evntslog 8710 ID47 [exampleSDID@32473 iut="3" '
        'eventSource="App\\"lic\\]ation" eventID="1011"][origin ip="10.0.0.1" ip="10.0.0.2"] An application event'
    )
    ev = parse(line)
    assert fields(
        ev, "log.syslog.hostname", "log.syslog.appname", "log.syslog.procid", "log.syslog.msgid", "message"
    ) == {
        "log.syslog.hostname": "portal-01",
        "log.syslog.appname": "evntslog",
        "log.syslog.procid": "8710",
        "log.syslog.msgid": "ID47",
        "message": "An application event",
    }
    sd = ev["log"]["syslog"]["structured_data"]
    assert sd["exampleSDID@32473"] == {"iut": "3", "eventSource": 'App"lic]ation', "eventID": "1011"}
    assert sd["origin"] == {"ip": ["10.0.0.1", "10.0.0.2"]}  # a repeated parameter keeps both values
    assert ev["log"]["syslog"]["structured_data_raw"].startswith("[exampleSDID@32473 ")


def test_rfc5424_text_procid_is_kept_but_is_no_pid() -> None:
    ev = parse("<14>1 2026-11-21T02:10:01Z h app worker-3 - - hello")
    assert fields(ev, "log.syslog.procid", "process.pid") == {
        "log.syslog.procid": "worker-3",
        "process.pid": None,
    }


def test_rfc3164_header_fields() -> None:
    ev = parse("<38>Nov 21 07:00:30 bastion-01 sshd[21253]: Connection closed by 1.2.3.4 port 22")
    assert fields(ev, "log.syslog.hostname", "log.syslog.appname", "log.syslog.procid", "process.pid") == {
        "log.syslog.hostname": "bastion-01",
        "log.syslog.appname": "sshd",
        "log.syslog.procid": "21253",
        "process.pid": 21253,
    }


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(
            st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='= ]"'),
            min_size=1,
            max_size=8,
        ),
        st.dictionaries(
            st.text(
                st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='= ]"'), min_size=1
            ),
            st.text(max_size=20),
            max_size=4,
        ),
        max_size=3,
    )
)
def test_structured_data_round_trips(elements: dict[str, dict[str, str]]) -> None:
    from canh.collectors.syslog import structured_data

    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")

    text = "".join(
        f"[{i}" + "".join(f' {k}="{esc(v)}"' for k, v in ps.items()) + "]" for i, ps in elements.items()
    )
    assert structured_data(text) == elements


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    st.sampled_from(["Z", "+07:00", "-05:30", "+00:00", "+14:00", "-12:00"]),
    st.sampled_from(["", ".1", ".12", ".123", ".123456", ".123456789"]),
)
def test_rfc5424_stamps_read_through_the_minute_cache_equal_a_full_parse(
    when: datetime, zone: str, frac: str
) -> None:
    from canh.events import format_ts, parse_ts

    ts = when.strftime("%Y-%m-%dT%H:%M:%S") + frac + zone
    parser = get_parser("syslog")
    line = f"<14>1 {ts} h app - - - hello"
    first = parser.parse(line, ctx())
    again = parser.parse(line, ctx())  # the second read comes from the cache
    assert first is not None and again is not None
    assert first["@timestamp"] == again["@timestamp"] == format_ts(parse_ts(ts))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 2**64 - 1, 2**64])),
    st.sampled_from(["/var/log/auth.log", "/var/log/secure", "syslog://10.0.0.1"]),
    st.sampled_from(
        [
            "Nov 21 07:00:01 h sshd[9]: Failed password for root from 1.2.3.4 port 22 ssh2",
            "<38>1 2026-11-21T02:10:01.123+07:00 h sshd 21253 - - Invalid user x from 1.2.3.4",
            "2026-11-21T02:10:01+07:00 h cron[1]: tick",
        ]
    ),
)
def test_event_id_is_event_id_of_source_and_position_on_every_header_path(
    position: int, source: str, line: str
) -> None:
    from canh.events import event_id

    parser = get_parser("syslog")  # one parser across sources: its per-batch id prefix must follow
    for src in (source, "/var/log/other.log"):
        context = ctx(src, position)
        ev = parser.parse(line, context)
        assert ev is not None
        assert ev["event"]["id"] == event_id(src, position)
