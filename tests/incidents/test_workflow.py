"""Incident workflow, priority from alert level × system level, SLA clocks, grouping (controlled clock)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.errors import ConflictError, WorkflowError
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import breached, priority_for
from canh.store.base import Store
from tests.incidents.fixtures import alert, sample_register


@pytest.fixture
def desk(sqlite_store: Store, clock: ManualClock) -> IncidentDesk:
    return IncidentDesk(sqlite_store, clock, IncidentsConfig(), actor="lan", systems=sample_register())


def test_priority_combines_alert_level_and_highest_system_level() -> None:
    assert priority_for("high", 4) == "P1"
    assert priority_for("high", 3) == "P2"
    assert priority_for("high", None) == "P3"
    assert priority_for("critical", 3) == "P1"
    assert priority_for("low", 1) == "P4"
    assert priority_for("medium", 5) == "P1"


def test_status_moves_follow_the_workflow_and_stamp_the_timeline(
    desk: IncidentDesk, clock: ManualClock
) -> None:
    inc = desk.create("Dò quét cổng", alert_level_="medium")
    with pytest.raises(WorkflowError) as e:
        desk.move(inc.id, "resolved")
    assert "new" in str(e.value) and "resolved" in str(e.value)
    clock.advance("10m")
    triaged_at = clock.now()
    desk.move(inc.id, "triage")
    desk.assign(inc.id, "hung", "ca-1")
    desk.move(inc.id, "in_progress")
    desk.comment(inc.id, "Đã chặn IP trên tường lửa")
    desk.move(inc.id, "contained")
    inc = desk.move(inc.id, "closed", reason="Đã xử lý xong")
    assert inc.status == "closed" and inc.resolution == "Đã xử lý xong"
    actions = [(e.action, e.detail.get("to")) for e in inc.timeline]
    assert actions[0][0] == "created"
    assert ("status", "resolved") in actions and actions[-1] == ("status", "closed")
    assert all(e.by == "lan" for e in inc.timeline)
    assert inc.acknowledged_at == triaged_at
    assert inc.comments[0].text == "Đã chặn IP trên tường lửa"
    inc = desk.move(inc.id, "in_progress", reason="tái diễn")
    assert inc.closed_at is None and inc.is_open


def test_sla_due_times_warnings_and_breaches_from_config(sqlite_store: Store, clock: ManualClock) -> None:
    desk = IncidentDesk(sqlite_store, clock, IncidentsConfig(), systems=sample_register())
    inc = desk.create("Web shell", alert_level_="high", systems=["HT-KHCN-01"])  # level 4 → P1
    assert inc.priority == "P1"
    assert inc.sla["acknowledge"].due == inc.created_at + timedelta(minutes=15)
    assert inc.sla["resolve"].due == inc.created_at + timedelta(hours=24)
    clock.advance("12m")
    assert desk.check_slas() == {inc.id: ["warning:acknowledge"]}
    assert desk.check_slas() == {}  # recorded once
    clock.advance("4m")
    assert desk.check_slas()[inc.id] == ["breach:acknowledge"]
    inc = desk.move(inc.id, "triage")
    assert inc.sla["acknowledge"].met_at is not None and breached(inc) == ["acknowledge"]
    clock.advance("1h")
    inc = desk.move(inc.id, "contained")
    assert inc.sla["contain"].breached_at is None
    kinds = [e.action for e in inc.timeline]
    assert kinds.count("sla.warning") == 1 and kinds.count("sla.breach") == 1


def test_escalation_tightens_the_sla_and_survives_new_alerts(desk: IncidentDesk) -> None:
    inc = desk.create("Đăng nhập bất thường", alert_level_="low")
    assert inc.priority == "P4"
    inc = desk.escalate(inc.id, reason="tài khoản quản trị")
    assert inc.priority == "P3" and inc.priority_manual
    assert inc.sla["acknowledge"].due == inc.created_at + timedelta(hours=2)


def test_alerts_group_by_rule_and_host_within_window(desk: IncidentDesk, clock: ManualClock) -> None:
    a1 = alert("ssh-brute", "bastion-01", "2026-11-21T03:00:00Z", src="185.220.101.47", tags=["attack.t1110"])
    a2 = alert("ssh-brute", "bastion-01", "2026-11-21T03:05:00Z", src="185.220.101.48")
    a3 = alert("ssh-brute", "bastion-01", "2026-11-23T03:05:00Z", src="185.220.101.49")  # outside 24h
    desk.store.write("alerts", [a1, a2, a3])
    linked = desk.group_alerts([a1, a2, a3])
    assert sorted(len(v) for v in linked.values()) == [1, 2]
    first = desk.get(next(k for k, v in linked.items() if len(v) == 2))[0]
    assert first.systems == ["HT-KHCN-01"] and first.max_level == 4
    assert first.priority == "P1"  # high alert on a level-4 system
    assert "T1110" in first.techniques and first.category == "intrusion"
    assert {o.value for o in first.observables if o.type == "ip"} == {"185.220.101.47", "185.220.101.48"}
    stored = desk.store.get_records("alerts", [a1["id"]])[0]
    assert stored["canh"]["incident"]["id"] == first.id
    assert desk.group_alerts(desk.store.get_records("alerts", [a1["id"], a2["id"]])) == {}  # already linked


def test_same_attacker_ip_across_systems_and_correlation_group_join(desk: IncidentDesk) -> None:
    a1 = alert("web-scan", "portal-01", "2026-11-21T08:00:00Z", src="45.95.147.236", level="medium")
    a2 = alert("sql-injection", "dvc-01", "2026-11-21T09:00:00Z", src="45.95.147.236", level="high")
    c1 = alert("r1", "db-01", "2026-11-21T10:00:00Z", group="corr-7")
    c2 = alert("r2", "mail-01", "2026-11-22T12:00:00Z", group="corr-7")  # later than the window: still joins
    desk.store.write("alerts", [a1, a2, c1, c2])
    linked = desk.group_alerts([a1, a2, c1, c2])
    assert sorted(len(v) for v in linked.values()) == [2, 2]
    ip_inc = next(desk.get(k)[0] for k, v in linked.items() if a1["id"] in v)
    assert ip_inc.systems == ["HT-VP-02", "HT-VP-03"] and ip_inc.priority == "P2"
    assert ip_inc.alert_level == "high"


def test_manual_attach_detach_and_closed_incidents_do_not_collect_alerts(desk: IncidentDesk) -> None:
    a1 = alert("x", "dvc-01", "2026-11-21T08:00:00Z")
    a2 = alert("y", "dvc-01", "2026-11-21T08:01:00Z")
    desk.store.write("alerts", [a1, a2])
    inc = desk.create("Thủ công")
    inc = desk.attach(inc.id, [a1["id"], a2["id"]])
    assert inc.alerts == [a1["id"], a2["id"]] and inc.systems == ["HT-VP-03"]
    inc = desk.detach(inc.id, [a2["id"]])
    assert inc.alerts == [a1["id"]]
    assert any(e.action == "alert.detached" for e in inc.timeline)
    desk.move(inc.id, "false_positive", reason="quét định kỳ")
    a3 = alert("x", "dvc-01", "2026-11-21T08:02:00Z")
    desk.store.write("alerts", [a3])
    linked = desk.group_alerts([a3])
    assert inc.id not in linked


def test_stale_update_is_refused_with_the_fresh_state(store: Store, clock: ManualClock) -> None:
    a = IncidentDesk(store, clock, actor="lan")
    b = IncidentDesk(store, clock, actor="hung")
    inc = a.create("Sự cố thử")
    _, seen_by_b = b.get(inc.id)
    a.comment(inc.id, "ghi chú của Lan")
    with pytest.raises(ConflictError) as e:
        b.assign(inc.id, "hung", expect=seen_by_b)
    assert "version 2" in e.value.render("en") and "comment by lan" in e.value.render("en")
    assert e.value.current.doc["comments"][0]["text"] == "ghi chú của Lan"
    with pytest.raises(ConflictError):
        b.comment(inc.id, "x", expect=1)  # the version the user saw on screen
    inc = b.assign(inc.id, "hung", expect=2)
    assert inc.assignee == "hung" and inc.comments[0].by == "lan"


def test_a_late_check_stamps_the_breach_at_its_due_time(sqlite_store: Store, clock: ManualClock) -> None:
    # Nobody ran a check overnight: the breach still happened 15 minutes after creation, and the
    # report must say so rather than the time of the morning's check.
    desk = IncidentDesk(sqlite_store, clock, IncidentsConfig(), systems=sample_register())
    inc = desk.create("Web shell", alert_level_="high", systems=["HT-KHCN-01"])
    clock.advance("9h")
    assert desk.check_slas()[inc.id] == ["breach:acknowledge", "breach:contain"]
    inc = desk.get(inc.id)[0]
    assert inc.sla["acknowledge"].breached_at == inc.created_at + timedelta(minutes=15)
    assert inc.sla["contain"].breached_at == inc.created_at + timedelta(hours=4)
    assert inc.sla["acknowledge"].warned_at is not None
    assert inc.sla["acknowledge"].warned_at < inc.sla["acknowledge"].breached_at
    assert inc.sla["resolve"].breached_at is None
