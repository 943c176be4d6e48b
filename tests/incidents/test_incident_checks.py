"""Incident input is checked (levels, categories, ATT&CK ids), the analyst can overrule the computed
"serious" classification (report deadlines follow), and the timeline reads in the user's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.errors import InputError
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import Entry, is_serious, valid_technique
from canh.incidents.reports import incident_doc, incident_report, to_markdown
from canh.incidents.timeline import action_name, detail_text
from canh.store.base import Store
from tests.incidents.fixtures import sample_register


@pytest.fixture
def desk(sqlite_store: Store, clock: ManualClock) -> IncidentDesk:
    return IncidentDesk(sqlite_store, clock, IncidentsConfig(), actor="lan", systems=sample_register())


def test_levels_categories_and_techniques_are_checked(desk: IncidentDesk) -> None:
    with pytest.raises(InputError) as e:
        desk.create("x", alert_level_="bogus")
    assert "bogus" in str(e.value) and "critical" in str(e.value)
    with pytest.raises(InputError) as e:
        desk.create("x", category="nonsense")
    assert "nonsense" in str(e.value) and "ransomware" in str(e.value)
    assert desk.create("x", alert_level_="85", category="ransomware").alert_level == "high"
    inc = desk.create("y")
    for bad in ("T9999", "T123", "T1110.1", "1110", "TA0001", "T1110.001x"):
        with pytest.raises(InputError):
            desk.update(inc.id, technique=bad)
        with pytest.raises(InputError):
            valid_technique(bad)
    with pytest.raises(InputError):
        desk.update(inc.id, category="bogus")
    inc = desk.update(inc.id, technique="t1110.001")
    inc = desk.update(inc.id, technique="T0855")  # ATT&CK for ICS
    assert inc.techniques == ["T1110.001", "T0855"]


def test_the_cli_refuses_bad_values_in_one_line_naming_the_option(canh) -> None:  # type: ignore[no-untyped-def]
    for args, option in [
        (["create", "Dò quét", "--level", "bogus"], "--level"),
        (["create", "Dò quét", "--category", "nonsense"], "--category"),
    ]:
        proc = canh("incidents", *args)
        assert (
            proc.returncode == 1
            and proc.stderr.startswith(f"canh: {option}: ")
            and proc.stderr.count("\n") == 1
        )
    assert canh.json("incidents", "list") == []
    [inc] = canh.json("incidents", "create", "Dò quét", "--level", "high")
    for args, option in [(["--technique", "T9999"], "--technique"), (["--category", "x"], "--category"),
                         (["--serious", "yes"], "--serious")]:  # fmt: skip
        proc = canh("incidents", "update", inc["id"], *args)
        assert proc.returncode == 1 and proc.stderr.startswith(f"canh: {option}: "), proc.stderr
    [shown] = canh.json("incidents", "show", inc["id"])
    assert shown["version"] == 1 and shown["techniques"] == []


def test_the_analysts_say_on_serious_sets_the_report_deadlines(
    desk: IncidentDesk, clock: ManualClock
) -> None:
    inc = desk.create("Web shell", alert_level_="high", systems=["HT-KHCN-01"])  # level 4, ND331 → P1
    assert inc.priority == "P1" and is_serious(inc)
    data = incident_report(inc, desk.systems, IncidentsConfig(), clock.now())
    assert data["serious"] and data["deadlines"]["initial"] == "2026-11-23T01:00:00+00:00"  # 24 h
    with pytest.raises(InputError):
        desk.update(inc.id, serious=(False, " "))  # a decision needs its reason
    inc = desk.update(inc.id, serious=(False, "Đã cô lập, dữ liệu không bị ảnh hưởng"))
    assert not is_serious(inc) and inc.serious_override is False
    entry = inc.timeline[-1]
    assert entry.action == "serious" and entry.detail["from"] is True and entry.detail["to"] is False
    data = incident_report(inc, desk.systems, IncidentsConfig(), clock.now())
    assert not data["serious"] and data["deadlines"]["initial"] == "2026-11-27T01:00:00+00:00"  # 5 days
    assert data["deadlines"]["detail"] is None
    assert data["serious_basis"] == {
        "by": "analyst",
        "rule": True,
        "reason": "Đã cô lập, dữ liệu không bị ảnh hưởng",
    }
    assert "do người xử lý xác định: Đã cô lập" in to_markdown(incident_doc(data, "vi"))
    # The other way: a P3 incident the analyst judges serious gets the 24 h / 72 h deadlines.
    minor = desk.create("Rò rỉ dữ liệu", alert_level_="medium", systems=["HT-TC-09"])  # ND331 level 3
    assert not is_serious(minor)
    minor = desk.update(minor.id, serious=(True, "Lộ dữ liệu ngân sách, có thể lan sang LGSP"))
    data = incident_report(minor, desk.systems, IncidentsConfig(), clock.now())
    assert data["serious"] and data["deadlines"]["detail"] == "2026-11-25T01:00:00+00:00"
    minor = desk.update(minor.id, serious=(None, ""))  # auto: the rule decides again
    assert minor.serious_override is None and not is_serious(minor)


def test_timeline_actions_and_details_read_as_words() -> None:
    at = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    status = Entry(
        at=at, by="lan", action="status", detail={"from": "new", "to": "triage", "reason": "xem log"}
    )
    assert (
        action_name("status", "vi") == "đổi trạng thái"
        and action_name("alert.linked", "en") == "alert linked"
    )
    assert detail_text(status, lang="vi") == "new → triage, lý do: xem log"
    auto = Entry(at=at, by="canh", action="priority", detail={"from": "P3", "to": "P1", "auto": True})
    assert detail_text(auto, lang="en") == "P3 → P1 (automatic)"
    sla = Entry(
        at=at,
        by="canh",
        action="sla.breach",
        detail={"target": "acknowledge", "due": "2026-11-22T01:15:00+00:00"},
    )
    assert detail_text(sla, lambda ts: "08:15", "vi") == "mục tiêu: tiếp nhận, hạn: 08:15"
    linked = Entry(
        at=at, by="canh", action="alert.linked", detail={"alert": "a1", "rule": "ssh", "manual": False}
    )
    assert detail_text(linked, lang="en") == "alert: a1, rule: ssh"
    assert detail_text(Entry(at=at, by="lan", action="technique", detail={"id": "T1110"})) == "T1110"
    assert action_name("made.up") == "made.up"  # an action the catalogue lacks shows as it is


def test_incidents_show_translates_the_timeline(canh) -> None:  # type: ignore[no-untyped-def]
    [inc] = canh.json("incidents", "create", "Dò quét", "--level", "high")
    canh("incidents", "update", inc["id"], "--status", "triage", "--reason", "xem log", check=True)
    out = canh("--lang", "vi", "incidents", "show", inc["id"], check=True).stdout
    flat = " ".join(out.split())
    assert "mở sự cố" in flat and "đổi trạng thái" in flat and "new → triage, lý do: xem log" in flat
    assert "from=" not in flat and "to=" not in flat and " created " not in flat
