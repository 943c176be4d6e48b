"""The ECS event helpers every part builds events with."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given
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
    assert ecs.expand({"source.ip": "1.2.3.4", "source": {"port": 22}}) == {
        "source": {"ip": "1.2.3.4", "port": 22}
    }


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
    doc = ecs.prepare(
        {"@timestamp": "2026-11-22T08:00:00+07:00", "event.id": "given"}, source="s", position=1
    )
    assert doc["@timestamp"] == "2026-11-22T01:00:00.000Z"
    assert doc["event"]["id"] == "given"
    assert "ingested" in doc["event"]


def test_shape_builds_nested_event_with_constants_and_fresh_lists() -> None:
    shape = ecs.Shape(
        {
            "event.kind": "event",
            "event.category": ["authentication"],
            "source.ip": ecs.VALUE,
            "source.port": ecs.OPTIONAL,
        }
    )
    assert shape.paths == ("source.ip", "source.port")
    a = shape.build("10.0.0.1", 22)
    b = shape.build("10.0.0.2", None)
    assert a == {
        "event": {"kind": "event", "category": ["authentication"]},
        "source": {"ip": "10.0.0.1", "port": 22},
    }
    assert b == {"event": {"kind": "event", "category": ["authentication"]}, "source": {"ip": "10.0.0.2"}}
    a["event"]["category"].append("x")  # a hook changing one event must not change the next ones
    assert shape.build("10.0.0.3", 1)["event"]["category"] == ["authentication"]


def test_shape_drops_objects_left_empty_and_keeps_empty_strings() -> None:
    shape = ecs.Shape(
        {"a": ecs.VALUE, "host.name": ecs.OPTIONAL, "x.y.z": ecs.OPTIONAL, "x.y.w": ecs.OPTIONAL}
    )
    assert shape.build(1, None, None, None) == {"a": 1}
    assert shape.build(1, "", None, 0) == {"a": 1, "host": {"name": ""}, "x": {"y": {"w": 0}}}


def test_shape_or_keeps_the_place_of_a_path_and_takes_the_new_value() -> None:
    base = ecs.Shape({"event.dataset": ecs.VALUE, "event.module": "system", "message": ecs.VALUE})
    auth = base | {"event.dataset": "system.auth", "user.name": ecs.VALUE}
    assert auth.paths == ("message", "user.name")
    ev = auth.build("m", "root")
    assert list(ev) == ["event", "message", "user"]
    assert list(ev["event"].items()) == [("dataset", "system.auth"), ("module", "system")]


def test_shape_refuses_paths_that_clash_and_constants_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="source"):
        _ = ecs.Shape({"source": ecs.VALUE, "source.ip": ecs.VALUE}).build
    with pytest.raises(TypeError, match="constant"):
        _ = ecs.Shape({"a": {"b": 1}}).build


def _nested_paths() -> st.SearchStrategy[list[str]]:
    part = st.sampled_from(["a", "b", "c", "source", "ip", "name"])
    return st.lists(st.lists(part, min_size=1, max_size=3).map(".".join), min_size=1, max_size=8, unique=True)


@given(
    _nested_paths(),
    st.data(),
)
def test_shape_builds_what_set_many_builds(paths: list[str], data: st.DataObject) -> None:
    # Paths where one is the parent of another cannot be a shape (set_many would overwrite one with the other).
    assume(not any(q.startswith(p + ".") for p in paths for q in paths))
    kinds = data.draw(
        st.lists(st.sampled_from(["value", "optional", "constant"]), min_size=len(paths), max_size=len(paths))
    )
    values = data.draw(
        st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2)),
                 min_size=len(paths), max_size=len(paths))
    )  # fmt: skip
    spec: dict[str, object] = {}
    args = []
    fields: dict[str, object] = {}
    for path, kind, value in zip(paths, kinds, values, strict=True):
        if kind == "constant":
            value = value if value is not None else "k"
            spec[path] = value
        elif kind == "value":
            value = value if value is not None else 0
            spec[path] = ecs.VALUE
            args.append(value)
        else:
            spec[path] = ecs.OPTIONAL
            args.append(value)
        fields[path] = value
    expected: dict = {}
    ecs.set_many(expected, fields)
    built = ecs.Shape(spec).build(*args)
    assert built == expected
    if None not in args:
        assert json.dumps(built) == json.dumps(expected)  # key order too


def test_joined_builds_head_and_body_from_two_tuples_as_one_shape_would() -> None:
    head = ecs.Shape({"@timestamp": ecs.VALUE, "event.dataset": "syslog", "host.name": ecs.OPTIONAL})
    body = ecs.Shape({"event.dataset": "system.auth", "user.name": ecs.VALUE, "source.ip": ecs.OPTIONAL})
    build = head.joined(body)
    assert build(("t", None), ("root", "10.0.0.1")) == (head | body.spec).build("t", None, "root", "10.0.0.1")
    assert build(("t", "h"), ("root", None)) == {
        "@timestamp": "t",
        "event": {"dataset": "system.auth"},
        "host": {"name": "h"},
        "user": {"name": "root"},
    }
    with pytest.raises(ValueError, match="body"):
        head.joined(ecs.Shape({"host.name": ecs.VALUE}))  # the value would come from the head's tuple


def test_prepare_fills_host_and_path_only_where_the_document_has_none() -> None:
    from canh.events import prepare

    named = prepare({"@timestamp": "2026-11-21T00:00:00Z", "host": {"name": "web-01"}}, source="s", position=1,
                    path="/var/log/a.json", host="collector", observer="collector")  # fmt: skip
    assert named["host"]["name"] == "web-01"  # the line's own host wins
    assert named["log"]["file"]["path"] == "/var/log/a.json"
    assert named["observer"]["hostname"] == "collector"
    odd = prepare(
        {"@timestamp": "2026-11-21T00:00:00Z", "host": "web-02"}, source="s", position=2, host="collector"
    )
    assert odd["host"] == "web-02"  # a non-object where ECS has one is the document's data: left alone
