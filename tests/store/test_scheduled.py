"""Scheduled (query-time) detection on every store: ingest-time windows, late events, leases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from canh.clock import ManualClock
from canh.events import format_ts
from canh.store.base import Store
from canh.store.scheduled import ScheduledDetection, ScheduledRule, alert_id

RULES = [
    ScheduledRule(
        "r-ssh", "SSH password guessing", 'event.dataset:linux.auth AND message:"failed password"', "high"
    ),
    ScheduledRule("r-sqlmap", "sqlmap user agent", "user_agent.original:sqlmap", "medium"),
]


def ev(n: int, ts: str, ingested: str, **fields: Any) -> dict[str, Any]:
    return {
        "@timestamp": ts,
        "event": {"id": f"e{n}", "ingested": ingested, "dataset": "linux.auth"},
        **fields,
    }


def test_a_late_event_is_evaluated_once(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    store.write(
        "events",
        [
            ev(
                1,
                "2026-11-22T00:59:00.000Z",
                format_ts(now - timedelta(seconds=30)),
                message="Failed password for root",
            ),
            ev(
                2,
                "2026-11-22T00:59:10.000Z",
                format_ts(now - timedelta(seconds=20)),
                message="Accepted password",
            ),
        ],
    )
    det = ScheduledDetection(store, RULES, clock=clock, owner="A")
    first = det.run_once()
    assert (first.status, first.alerts_written) == ("ran", 1)
    clock.advance("1m")
    assert det.run_once().alerts_written == 0  # the overlap sees e1 again: same alert id, no double
    # An event from four hours ago arrives now (a collector was offline): event time is long past
    # every window, ingest time is not.
    store.write(
        "events",
        [
            ev(
                3,
                "2026-11-21T21:00:00.000Z",
                format_ts(clock.now() - timedelta(seconds=10)),
                message="FAILED PASSWORD for admin",
            )
        ],
    )
    clock.advance("1m")
    late = det.run_once()
    assert late.alerts_written == 1 and late.per_rule["r-ssh"] >= 1
    clock.advance("5m")
    assert det.run_once().alerts_written == 0
    store.refresh()
    alerts = store.search("alerts", "rule.id:r-ssh", limit=10, order="asc")
    assert sorted(a["id"] for a in alerts) == sorted([alert_id("r-ssh", "e1"), alert_id("r-ssh", "e3")])
    assert {a["related"]["event_ids"][0] for a in alerts} == {"e1", "e3"}
    assert all(a["event"]["severity_label"] == "high" for a in alerts)


def test_checkpoint_survives_a_restart(store: Store, clock: ManualClock) -> None:
    ScheduledDetection(store, RULES, clock=clock, owner="A").run_once()
    cp = store.get_doc("state", "detect-checkpoint:default")
    assert cp is not None and cp.doc["ingested_until"] == format_ts(clock.now() - timedelta(seconds=2))
    clock.advance("30s")
    again = ScheduledDetection(store, RULES, clock=clock, owner="A").run_once()  # a new process
    assert again.since == clock.now() - timedelta(seconds=30) - timedelta(seconds=2) - timedelta(minutes=2)


def test_a_second_instance_stands_by_then_takes_over(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    store.write(
        "events",
        [
            ev(
                i,
                "2026-11-22T00:58:00.000Z",
                format_ts(now - timedelta(seconds=40 - i)),
                message="Failed password for root",
                user_agent={"original": "sqlmap/1.7"},
            )
            for i in range(5)
        ],
    )
    a = ScheduledDetection(store, RULES, clock=clock, owner="A", lease=timedelta(minutes=1))
    b = ScheduledDetection(store, RULES, clock=clock, owner="B", lease=timedelta(minutes=1))
    assert a.run_once().status == "ran"
    assert b.run_once().status == "standby"
    clock.advance("30s")
    assert a.run_once().status == "ran"  # renews its lease
    assert b.run_once().status == "standby"
    clock.advance("2m")  # A has died: its lease runs out
    assert b.run_once().status == "ran"
    assert a.run_once().status == "standby"
    store.refresh()
    assert store.count("alerts") == 10  # 5 events x 2 rules, whoever ran and however often
