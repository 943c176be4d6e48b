"""The ECS event helpers every part builds events with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from canh import events as ecs


def test_get_reads_nested_and_dotted_keys() -> None:
    ev = {"source": {"ip": "10.0.0.1"}, "winlog": {"event_data.TargetUserName": "bob"}, "a.b": 1}
    assert ecs.get(ev, "source.ip") == "10.0.0.1"
    assert ecs.get(ev, "winlog.event_data.TargetUserName") == "bob"
    assert ecs.get(ev, "a.b") == 1
    assert ecs.get(ev, "source.port", 0) == 0
    assert ecs.get(ev, "source.ip.x") is None


def test_set_field_creates_parents_and_expand_nests_dotted_keys() -> None:
    ev: dict = {}
    ecs.set_field(ev, "destination.geo.country_iso_code", "VN")
    assert ev == {"destination": {"geo": {"country_iso_code": "VN"}}}
    assert ecs.expand({"source.ip": "1.2.3.4", "source": {"port": 22}}) == {"source": {"ip": "1.2.3.4", "port": 22}}


def test_event_id_is_deterministic_and_sorts_in_reading_order() -> None:
    a = [ecs.event_id("/var/log/auth.log", off) for off in (0, 97, 4096, 10**9)]
    assert a == sorted(a)
    assert len(set(a)) == 4
    assert ecs.event_id("/var/log/auth.log", 97) == a[1]
    assert ecs.event_id("/var/log/other.log", 97) != a[1]
    assert len(ecs.event_id("syslog://10.0.0.1", "record-x")) == 32


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_format_ts_round_trips_at_millisecond_precision(when: datetime) -> None:
    text = ecs.format_ts(when)
    assert text.endswith("Z") and len(text) == 24
    assert ecs.parse_ts(text) == when.replace(microsecond=when.microsecond // 1000 * 1000)


def test_parse_ts_accepts_offsets_nanoseconds_and_epochs() -> None:
    assert ecs.format_ts(ecs.parse_ts("2026-11-22T08:00:00+07:00")) == "2026-11-22T01:00:00.000Z"
    assert ecs.format_ts(ecs.parse_ts("2026-11-22T01:00:00.123456789Z")) == "2026-11-22T01:00:00.123Z"
    assert ecs.parse_ts(1795305600) == ecs.parse_ts(1795305600000)
    ict = timezone(timedelta(hours=7))
    assert ecs.format_ts(datetime(2026, 11, 22, 8, tzinfo=ict)) == "2026-11-22T01:00:00.000Z"


def test_decode_line_keeps_vietnamese_and_flags_bad_bytes() -> None:
    decomposed = "Nguye\u0302\u0303n".encode()  # combining marks, as some Windows tools write it
    text, bad = ecs.decode_line(decomposed)
    assert text == "Nguyễn" and not bad
    text, bad = ecs.decode_line(b"ok \xff end")
    assert bad and text == "ok \ufffd end"
    assert ecs.escaped_original(b"ok \xff end") == "ok \\xff end"


def test_prepare_normalises_time_and_keeps_given_id() -> None:
    doc = ecs.prepare({"@timestamp": "2026-11-22T08:00:00+07:00", "event.id": "given"}, source="s", position=1)
    assert doc["@timestamp"] == "2026-11-22T01:00:00.000Z"
    assert doc["event"]["id"] == "given"
    assert "ingested" in doc["event"]
