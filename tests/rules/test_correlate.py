"""Correlations: Sigma semantics checked against brute-force references and specific cases."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from canh.errors import RuleError
from canh.rules.correlate import (
    MAX_HIT_IDS,
    CorrelationHit,
    CorrelationSpec,
    Correlator,
    check,
    parse_timespan,
)

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
FAILED = "11111111-0000-4000-8000-000000000001"
OK = "11111111-0000-4000-8000-000000000002"


def spec(kind: str = "event_count", **kw: Any) -> CorrelationSpec:
    rules = kw.pop("rules", (frozenset({"a", FAILED}),))
    return CorrelationSpec(
        id=kw.pop("id", "corr"),
        title="t",
        type=kind,
        rules=rules,
        timespan=kw.pop("timespan", timedelta(seconds=60)),
        **kw,
    )


def ev(i: int | str, **fields: Any) -> dict[str, Any]:
    return {"event.id": str(i), **fields}


def feed_all(c: Correlator, items: Sequence[tuple[set[str], dict[str, Any], float]]) -> list[CorrelationHit]:
    hits: list[CorrelationHit] = []
    for matched, event, secs in items:
        hits += c.feed(matched, event, T0 + timedelta(seconds=secs))
    return hits


def jittered(times: list[int], jitter: list[int]) -> list[int]:
    """Indices of ``times`` in an arrival order where no event is later than the lateness allows."""
    return sorted(range(len(times)), key=lambda i: (times[i] + jitter[i], i))


# --- properties ------------------------------------------------------------------------------

timeline = st.lists(st.integers(0, 600), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(times=timeline, n=st.integers(1, 6), span=st.integers(1, 120), data=st.data())
def test_event_count_fires_iff_some_window_holds_enough_events_in_any_order_within_lateness(
    times: list[int], n: int, span: int, data: st.DataObject
) -> None:
    lateness = 30
    jitter = data.draw(st.lists(st.integers(0, lateness), min_size=len(times), max_size=len(times)))
    s = spec(bounds=(("gte", n),), timespan=timedelta(seconds=span))
    c = Correlator([s], lateness=timedelta(seconds=lateness))
    order = jittered(times, jitter)
    hits = feed_all(c, [({"a"}, ev(i), times[i]) for i in order])
    srt = sorted(times)
    expected = any(sum(1 for u in srt if t - span <= u <= t) >= n for t in srt)
    assert bool(hits) == expected
    assert c.stats()["late"] == 0
    used: set[str] = set()
    for h in hits:  # each hit is a real window: enough events, within the timespan, never reused
        assert h.events >= n and h.value == h.events
        assert (h.last - h.first).total_seconds() <= span
        assert not used & set(h.event_ids)
        used |= set(h.event_ids)


@settings(max_examples=200, deadline=None)
@given(times=timeline, n=st.integers(1, 6), span=st.integers(1, 120))
def test_event_count_in_order_equals_brute_force_sliding_window_count(
    times: list[int], n: int, span: int
) -> None:
    srt = sorted(times)
    c = Correlator([spec(bounds=(("gt", n - 1),), timespan=timedelta(seconds=span))])
    hits = feed_all(c, [({"a"}, ev(i), t) for i, t in enumerate(srt)])
    # Reference: at each event count the unconsumed events in [t - span, t]; a full window is consumed.
    pending: list[int] = []
    expected = []
    for i, t in enumerate(srt):
        pending.append(i)
        window = [j for j in pending if srt[j] >= t - span]
        if len(window) >= n:
            expected.append([str(j) for j in window])
            pending = [j for j in pending if j not in window]
    assert [h.event_ids for h in hits] == expected


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(st.tuples(st.integers(0, 300), st.sampled_from("uvwxyz")), min_size=1, max_size=30),
    n=st.integers(1, 5),
    span=st.integers(1, 90),
    data=st.data(),
)
def test_value_count_fires_iff_some_window_holds_enough_distinct_values(
    items: list[tuple[int, str]], n: int, span: int, data: st.DataObject
) -> None:
    lateness = 20
    jitter = data.draw(st.lists(st.integers(0, lateness), min_size=len(items), max_size=len(items)))
    s = spec(
        "value_count", bounds=(("gte", n),), value_fields=("user.name",), timespan=timedelta(seconds=span)
    )
    c = Correlator([s], lateness=timedelta(seconds=lateness))
    order = jittered([t for t, _ in items], jitter)
    hits = feed_all(c, [({"a"}, ev(i, **{"user.name": items[i][1]}), items[i][0]) for i in order])
    expected = any(len({v for u, v in items if t - span <= u <= t}) >= n for t, _ in items)
    assert bool(hits) == expected
    for h in hits:
        assert h.value is not None and h.value >= n


@settings(max_examples=150, deadline=None)
@given(
    times=st.lists(st.integers(0, 400), min_size=1, max_size=25, unique=True),
    kinds=st.data(),
    span=st.integers(1, 100),
)
def test_temporal_ordered_fires_iff_a_then_b_within_timespan(
    times: list[int], kinds: st.DataObject, span: int
) -> None:
    labels = kinds.draw(st.lists(st.sampled_from("ab"), min_size=len(times), max_size=len(times)))
    jitter = kinds.draw(st.lists(st.integers(0, 10), min_size=len(times), max_size=len(times)))
    s = spec("temporal_ordered", rules=(frozenset({"a"}), frozenset({"b"})), timespan=timedelta(seconds=span))
    c = Correlator([s], lateness=timedelta(seconds=10))
    hits = feed_all(c, [({labels[i]}, ev(i), times[i]) for i in jittered(times, jitter)])
    expected = any(
        labels[i] == "a" and labels[j] == "b" and times[i] < times[j] <= times[i] + span
        for i in range(len(times))
        for j in range(len(times))
    )
    assert bool(hits) == expected


@settings(max_examples=150, deadline=None)
@given(times=st.lists(st.integers(0, 400), min_size=1, max_size=25), data=st.data(), span=st.integers(1, 100))
def test_temporal_fires_iff_both_rules_seen_within_timespan_in_any_order(
    times: list[int], data: st.DataObject, span: int
) -> None:
    labels = data.draw(st.lists(st.sampled_from("ab"), min_size=len(times), max_size=len(times)))
    jitter = data.draw(st.lists(st.integers(0, 15), min_size=len(times), max_size=len(times)))
    s = spec(
        "temporal",
        rules=(frozenset({"a"}), frozenset({"b"})),
        bounds=(("gte", 2),),
        timespan=timedelta(seconds=span),
    )
    c = Correlator([s], lateness=timedelta(seconds=15))
    hits = feed_all(c, [({labels[i]}, ev(i), times[i]) for i in jittered(times, jitter)])
    expected = any(
        labels[i] == "a" and labels[j] == "b" and abs(times[i] - times[j]) <= span
        for i in range(len(times))
        for j in range(len(times))
    )
    assert bool(hits) == expected


@settings(max_examples=200, deadline=None)
@given(
    times=timeline,
    op=st.sampled_from(["lt", "lte", "eq", "neq"]),
    n=st.integers(1, 5),
    span=st.integers(1, 120),
    data=st.data(),
)
def test_upper_bound_conditions_equal_tumbling_windows_from_each_groups_first_event(
    times: list[int], op: str, n: int, span: int, data: st.DataObject
) -> None:
    lateness = 20
    jitter = data.draw(st.lists(st.integers(0, lateness), min_size=len(times), max_size=len(times)))
    c = Correlator(
        [spec(bounds=((op, n),), timespan=timedelta(seconds=span))], lateness=timedelta(seconds=lateness)
    )
    hits = feed_all(c, [({"a"}, ev(i), times[i]) for i in jittered(times, jitter)]) + c.flush()
    # Reference: windows open at the first event not yet in a window and hold everything up to +span.
    srt = sorted(times)
    expected = []
    k = 0
    while k < len(srt):
        end = k
        while end < len(srt) and srt[end] <= srt[k] + span:
            end += 1
        if check(((op, n),), end - k):
            expected.append(end - k)
        k = end
    assert sorted(h.value for h in hits if h.value is not None) == sorted(expected)


# --- specific cases --------------------------------------------------------------------------


def test_groups_are_counted_separately() -> None:
    c = Correlator([spec(bounds=(("gte", 3),), group_by=("source.ip",))])
    items = [
        ({"a"}, ev(i, **{"source.ip": ip}), i)
        for i, ip in enumerate(["1.1.1.1", "2.2.2.2"] * 2 + ["1.1.1.1"])
    ]
    hits = feed_all(c, items)
    assert [(h.group, h.event_ids) for h in hits] == [({"source.ip": "1.1.1.1"}, ["0", "2", "4"])]


def test_group_by_reads_nested_ecs_and_several_fields() -> None:
    c = Correlator([spec(bounds=(("gte", 2),), group_by=("source.ip", "host.name"))])
    e1 = {"event": {"id": "x"}, "source": {"ip": "9.9.9.9"}, "host": {"name": "web-01"}}
    e2 = {"event": {"id": "y"}, "source": {"ip": "9.9.9.9"}, "host": {"name": "web-01"}}
    assert c.feed({"a"}, e1, T0) == []
    (hit,) = c.feed({FAILED}, e2, T0 + timedelta(seconds=1))
    assert hit.group == {"source.ip": "9.9.9.9", "host.name": "web-01"}
    assert hit.event_ids == ["x", "y"] and hit.first == T0 and hit.last == T0 + timedelta(seconds=1)


def test_events_outside_the_timespan_do_not_count() -> None:
    c = Correlator([spec(bounds=(("gte", 3),), timespan=timedelta(seconds=10))])
    assert feed_all(c, [({"a"}, ev(i), i * 6) for i in range(5)]) == []


def test_aliases_group_events_of_different_rules_by_their_own_fields() -> None:
    s = spec(
        "temporal",
        rules=(frozenset({"web"}), frozenset({"fw"})),
        bounds=(("gte", 2),),
        group_by=("ip",),
        aliases={"ip": {0: "client.ip", 1: "source.ip"}},
    )
    c = Correlator([s])
    assert c.feed({"web"}, ev(1, **{"client.ip": "5.5.5.5"}), T0) == []
    assert c.feed({"fw"}, ev(2, **{"source.ip": "6.6.6.6"}), T0) == []
    (hit,) = c.feed({"fw"}, ev(3, **{"source.ip": "5.5.5.5"}), T0 + timedelta(seconds=2))
    assert hit.group == {"ip": "5.5.5.5"} and hit.event_ids == ["1", "3"] and hit.value == 2


def test_an_event_matching_two_referenced_rules_counts_once() -> None:
    c = Correlator([spec(rules=(frozenset({"a"}), frozenset({"b"})), bounds=(("gte", 2),))])
    assert c.feed({"a", "b"}, ev(1), T0) == []
    assert len(c.feed({"a", "b"}, ev(2), T0)) == 1


def test_value_count_counts_distinct_values_and_skips_events_without_the_field() -> None:
    s = spec("value_count", bounds=(("gte", 3),), group_by=("source.ip",), value_fields=("user.name",))
    c = Correlator([s])
    users = ["root", "root", None, "admin", "root", "oracle"]
    hits = feed_all(
        c, [({"a"}, ev(i, **{"source.ip": "1.2.3.4", "user.name": u}), i) for i, u in enumerate(users)]
    )
    (hit,) = hits
    assert hit.value == 3 and hit.event_ids == ["0", "1", "3", "4", "5"]


def test_lt_condition_is_checked_when_the_window_closes() -> None:
    s = spec(bounds=(("lt", 3),), group_by=("host.name",), timespan=timedelta(seconds=60))
    c = Correlator([s], lateness=timedelta(seconds=0))
    assert c.feed({"a"}, ev(1, **{"host.name": "quiet"}), T0) == []
    for i in range(4):
        assert c.feed({"a"}, ev(10 + i, **{"host.name": "busy"}), T0 + timedelta(seconds=i)) == []
    # Time moves past the windows: "busy" had 4 (no hit), "quiet" had 1 (hit).
    hits = c.feed({"a"}, ev(99, **{"host.name": "quiet"}), T0 + timedelta(seconds=200))
    assert [(h.group, h.value) for h in hits] == [({"host.name": "quiet"}, 1)]
    assert [(h.group, h.value) for h in c.flush()] == [({"host.name": "quiet"}, 1)]


def test_range_condition_eq_and_neq() -> None:
    assert check((("gte", 2), ("lte", 4)), 3) and not check((("gte", 2), ("lte", 4)), 5)
    assert check((("eq", 2),), 2) and not check((("neq", 2),), 2)
    s = spec(bounds=(("gte", 2), ("lte", 3)))
    c = Correlator([s])
    feed_all(c, [({"a"}, ev(i), i) for i in range(5)])
    assert c.flush() == []  # five in one window: outside the range
    c = Correlator([s])
    feed_all(c, [({"a"}, ev(i), i) for i in range(3)])
    assert [h.value for h in c.flush()] == [3]


def test_too_late_events_are_counted_and_dropped() -> None:
    c = Correlator([spec(bounds=(("gte", 2),))], lateness=timedelta(seconds=5))
    assert c.feed({"a"}, ev(1), T0 + timedelta(seconds=100)) == []
    assert c.feed({"a"}, ev(2), T0 + timedelta(seconds=90)) == []
    assert c.stats()["late"] == 1
    assert len(c.feed({"a"}, ev(3), T0 + timedelta(seconds=97))) == 1  # within lateness: counted


def test_max_keys_evicts_the_least_recently_used_group_and_counts_it() -> None:
    c = Correlator([spec(bounds=(("gte", 2),), group_by=("source.ip",))], max_keys=3)
    for i in range(5):
        c.feed({"a"}, ev(i, **{"source.ip": f"10.0.0.{i}"}), T0)
    assert c.stats()["keys"] == 3 and c.stats()["evicted"] == 2
    # 10.0.0.4 is still held: its second event fires; 10.0.0.0 was evicted and starts over.
    assert len(c.feed({"a"}, ev(9, **{"source.ip": "10.0.0.4"}), T0)) == 1
    assert c.feed({"a"}, ev(8, **{"source.ip": "10.0.0.0"}), T0) == []


def test_idle_groups_whose_window_passed_are_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    import canh.rules.correlate as mod

    monkeypatch.setattr(mod, "SWEEP_EVERY", 10)
    c = Correlator([spec(bounds=(("gte", 100),), group_by=("source.ip",), timespan=timedelta(seconds=60))])
    for i in range(1000):
        c.feed({"a"}, ev(i, **{"source.ip": f"10.0.{i // 256}.{i % 256}"}), T0 + timedelta(seconds=i))
    stats = c.stats()
    assert stats["keys"] < 200 and stats["expired"] > 800


def test_hit_lists_at_most_100_event_ids_with_the_full_count() -> None:
    c = Correlator([spec("event_count", bounds=(("gte", 250),), timespan=timedelta(hours=1))])
    hits = feed_all(c, [({"a"}, ev(i), i) for i in range(250)])
    (hit,) = hits
    assert (
        len(hit.event_ids) == MAX_HIT_IDS
        and hit.event_ids[0] == "0"
        and hit.events == 250
        and hit.value == 250
    )


def test_chained_correlation_success_after_brute_force() -> None:
    bf = spec(id="bf", rules=(frozenset({"failed"}),), bounds=(("gte", 3),), group_by=("source.ip",))
    then = spec(
        "temporal_ordered",
        id="then",
        rules=(frozenset({"bf"}), frozenset({"ok"})),
        group_by=("source.ip",),
        timespan=timedelta(minutes=30),
    )
    c = Correlator([bf, then])
    ip = {"source.ip": "185.220.101.47"}
    # A success before the brute force does not count; one after it, 14 minutes later, does.
    assert c.feed({"ok"}, ev("early", **ip), T0) == []
    hits = feed_all(c, [({"failed"}, ev(f"f{i}", **ip), 60 + i) for i in range(3)])
    assert [h.spec.id for h in hits] == ["bf"]
    (hit,) = c.feed({"ok"}, ev("win", **ip), T0 + timedelta(minutes=15))
    assert hit.spec.id == "then" and hit.event_ids == ["f0", "f1", "f2", "win"]
    assert hit.group == {"source.ip": "185.220.101.47"}
    assert c.feed({"ok"}, ev("other", **{"source.ip": "1.1.1.1"}), T0 + timedelta(minutes=16)) == []


def test_extended_temporal_condition() -> None:
    s = spec(
        "temporal",
        rules=(frozenset({"a"}), frozenset({"b"}), frozenset({"c"})),
        expression="a and (b or c)",
    )
    c = Correlator([s])
    assert c.feed({"b"}, ev(1), T0) == []
    assert c.feed({"c"}, ev(2), T0) == []
    assert len(c.feed({"a"}, ev(3), T0 + timedelta(seconds=1))) == 1


def test_from_sigma_reads_the_correlation_and_resolves_names_and_ids() -> None:
    text = f"""
title: failed
id: {FAILED}
name: ssh_failed
logsource: {{product: linux, service: auth}}
detection: {{sel: {{event.action: ssh_login}}, condition: sel}}
---
title: Spray
id: 22222222-0000-4000-8000-000000000003
name: spray
correlation:
  type: value_count
  rules: [ssh_failed]
  group-by: [src]
  timespan: 10m
  condition: {{gte: 5, field: User}}
  aliases:
    src: {{ssh_failed: source.ip}}
  generate: true
"""
    rule = next(r for r in SigmaCollection.from_yaml(text) if isinstance(r, SigmaCorrelationRule))
    s = CorrelationSpec.from_sigma(rule, fields={"User": "user.name"})
    assert s.type == "value_count" and s.timespan == timedelta(minutes=10)
    assert s.bounds == (("gte", 5),) and s.value_fields == ("user.name",)
    assert s.rules == (frozenset({"ssh_failed", FAILED}),)
    assert s.group_by == ("src",) and s.aliases == {"src": {0: "source.ip"}}
    assert s.generate and s.name == "spray" and s.keys == {"spray", "22222222-0000-4000-8000-000000000003"}
    c = Correlator([s])
    hits = feed_all(
        c, [({FAILED}, ev(i, **{"source.ip": "7.7.7.7", "user.name": f"u{i}"}), i) for i in range(5)]
    )
    assert [h.group for h in hits] == [{"src": "7.7.7.7"}]


def test_temporal_default_condition_needs_every_rule() -> None:
    text = """
title: T
correlation:
  type: temporal
  rules: [a, b, c]
  timespan: 1m
"""
    rule = SigmaCorrelationRule.from_yaml(text)
    s = CorrelationSpec.from_sigma(rule)
    assert s.bounds == (("gte", 3),)


def test_unsupported_type_and_bad_timespan_are_rule_errors() -> None:
    text = """
title: Sum
correlation:
  type: value_sum
  rules: [a]
  timespan: 1m
  condition: {gte: 5, field: bytes}
"""
    with pytest.raises(RuleError) as err:
        CorrelationSpec.from_sigma(SigmaCorrelationRule.from_yaml(text))
    assert "value_sum" in str(err.value)
    with pytest.raises(RuleError):
        parse_timespan("5 minutes")
    assert parse_timespan("2h") == timedelta(hours=2)
    with pytest.raises(RuleError):
        spec("event_count", bounds=(("about", 3),))


def test_events_no_correlation_references_are_ignored_cheaply() -> None:
    c = Correlator([spec()])
    assert c.feed({"unrelated"}, ev(1), T0) == [] and c.stats()["fed"] == 0
    assert "a" in c.references and FAILED in c.references


def test_shuffled_brute_force_within_lateness_gives_the_same_groups() -> None:
    rnd = random.Random(7)
    items = [({"a"}, ev(i, **{"source.ip": f"10.0.0.{i % 7}"}), i) for i in range(300)]

    def groups(seq: Sequence[tuple[set[str], dict[str, Any], float]]) -> set[str]:
        c = Correlator(
            [spec(bounds=(("gte", 5),), group_by=("source.ip",), timespan=timedelta(seconds=40))],
            lateness=timedelta(seconds=30),
        )
        return {h.group["source.ip"] for h in feed_all(c, seq)}

    shuffled = sorted(items, key=lambda x: x[2] + rnd.uniform(0, 30))
    assert groups(items) == groups(shuffled) == {f"10.0.0.{k}" for k in range(7)}


def test_advance_closes_windows_once_the_idle_time_passes_timespan_and_lateness() -> None:
    s = spec(bounds=(("lt", 3),), group_by=("user.name",), timespan=timedelta(seconds=60))
    c = Correlator([s], lateness=timedelta(seconds=30))
    assert c.advance(1000) == []  # nothing fed yet: nothing to close
    assert c.feed({"a"}, ev(1, **{"user.name": "an"}), T0) == []
    assert c.feed({"a"}, ev(2, **{"user.name": "binh"}), T0 + timedelta(seconds=20)) == []
    assert c.advance(60) == []  # an's window ends at 60 s, plus 30 s lateness: still open at 80 s
    hits = c.advance(75)  # stream time 95 s: an's window (0-60 s) closed, binh's (20-80 s) not yet
    assert [(h.group, h.value, h.event_ids) for h in hits] == [({"user.name": "an"}, 1, ["1"])]
    assert [h.group for h in c.advance(200)] == [{"user.name": "binh"}]
    assert c.flush() == [] and c.stats()["keys"] == 0


def test_flush_also_closes_windows_a_closing_window_opens_further_up_a_chain() -> None:
    inner = spec(id="inner", bounds=(("lt", 2),), group_by=("host.name",))
    outer = spec(id="outer", rules=(frozenset({"inner"}),), bounds=(("eq", 1),), group_by=("host.name",))
    c = Correlator([inner, outer])
    assert c.feed({"a"}, ev(1, **{"host.name": "h"}), T0) == []
    hits = c.flush()
    assert [(h.spec.id, h.group) for h in hits] == [
        ("inner", {"host.name": "h"}),
        ("outer", {"host.name": "h"}),
    ]
    assert c.stats()["keys"] == 0
