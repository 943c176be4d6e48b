"""The register: dossier workflow, inspection due dates, asset matching, CSV/YAML import and export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from canh.clock import ManualClock
from canh.errors import ConflictError, WorkflowError
from canh.incidents.register import (
    AssetIndex,
    Decision,
    Inspection,
    System,
    independent_inspection_ok,
    is_overdue,
    move_dossier,
    next_inspection_due,
)
from canh.incidents.register_io import read_csv, read_yaml, write_csv, write_yaml
from canh.incidents.systems import Register
from canh.store.base import Store
from tests.incidents.fixtures import sample_register

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _system(level: int = 3, **kw: object) -> System:
    return System(code="HT-X", name_vi="Hệ thống thử", proposed_level=level, **kw)  # type: ignore[arg-type]


def test_dossier_goes_draft_submitted_appraised_approved_with_decision() -> None:
    s = _system()
    s = move_dossier(s, "submitted", by="lan", at=NOW)
    s = move_dossier(s, "appraised", by="hung", at=NOW)
    s = move_dossier(
        s,
        "approved",
        by="hung",
        at=NOW,
        decision=Decision(number="15/QĐ-UBND", date=date(2026, 11, 20), authority="Chủ tịch UBND tỉnh"),
    )
    assert s.dossier.status == "approved"
    assert s.approved_level == 3
    assert [h.status for h in s.dossier.history] == ["submitted", "appraised", "approved"]
    assert s.dossier.decision.number == "15/QĐ-UBND"


def test_dossier_return_needs_reasons_and_skipping_steps_is_refused() -> None:
    s = move_dossier(_system(), "submitted", by="lan", at=NOW)
    with pytest.raises(WorkflowError) as e:
        move_dossier(s, "needs_supplement", by="hung", at=NOW)
    assert "reasons" in str(e.value)
    s = move_dossier(s, "needs_supplement", by="hung", at=NOW, reasons="Thiếu sơ đồ mạng")
    assert s.dossier.return_reasons == "Thiếu sơ đồ mạng"
    with pytest.raises(WorkflowError):
        move_dossier(_system(), "approved", by="x", at=NOW)
    with pytest.raises(WorkflowError):  # approval without decision number
        move_dossier(
            move_dossier(move_dossier(_system(), "submitted", by="a", at=NOW), "appraised", by="a", at=NOW),
            "approved",
            by="a",
            at=NOW,
        )
    with pytest.raises(WorkflowError):  # expert opinion is for L4-5 only
        move_dossier(_system(3), "expert_opinion", by="a", at=NOW)
    assert move_dossier(_system(4), "expert_opinion", by="a", at=NOW).dossier.status == "expert_opinion"


def test_next_inspection_due_follows_level_and_regime_table() -> None:
    base = dict(inspections=[Inspection(date=date(2026, 1, 10), external=True)])
    assert next_inspection_due(_system(3, **base)) == date(2027, 1, 10)
    assert next_inspection_due(_system(2, **base)) == date(2028, 1, 10)
    assert next_inspection_due(_system(5, **base)) == date(2026, 7, 11)
    assert is_overdue(_system(5, **base), date(2026, 11, 22))
    assert not is_overdue(_system(3, **base), date(2026, 11, 22))
    assert independent_inspection_ok(_system(3, **base), date(2026, 11, 22))
    assert not independent_inspection_ok(_system(3, **base), date(2027, 3, 1))
    assert is_overdue(_system(3), date(2026, 11, 22))  # a level and no date at all: overdue


def test_assets_link_events_to_systems_by_host_cidr_url_and_glob() -> None:
    idx = AssetIndex(sample_register())
    assert idx.match({"host": {"name": "dvc-01"}}) == {"HT-VP-03"}
    assert idx.match({"host": {"name": "DB-01.example.local"}}) == {"HT-VP-03"}
    assert idx.match({"destination": {"ip": "10.20.0.10"}}) == {"HT-VP-02"}
    assert idx.match({"url": {"original": "https://congthongtin.example.gov.vn/tin-tuc"}}) == {"HT-VP-02"}
    assert idx.match({"host": {"name": "core-sw-3"}}) == {"HT-KHCN-01"}
    assert idx.match({"source": {"ip": "185.220.101.47"}}) == set()
    assert idx.match({"host": {"name": "fw-01"}, "destination": {"ip": "10.20.0.10"}}) == {
        "HT-KHCN-01",
        "HT-VP-02",
    }


def test_sample_spreadsheet_has_30_systems_10_agencies_levels_1_to_4_and_round_trips() -> None:
    systems = sample_register()
    assert len(systems) == 30
    assert len({s.owner_org for s in systems}) == 10
    assert {s.level for s in systems} == {1, 2, 3, 4}
    assert any("ữ" in s.name_vi for s in systems)
    again = read_csv(write_csv(systems))
    assert not again.errors
    assert [s.doc() for s in again.systems] == [s.doc() for s in systems]
    y = read_yaml(write_yaml(systems))
    assert [s.doc() for s in y.systems] == [s.doc() for s in systems]


def test_bad_rows_name_row_and_column_and_good_rows_import() -> None:
    text = write_csv(sample_register()[:4])
    lines = text.splitlines()
    lines[2] = lines[2].replace(",3,3,approved,", ",3,ba,approved,")  # row 3: approved_level not a number
    lines[3] = lines[3].replace("10.20.1.0/24", "10.20.1.0/33")  # row 4: bad CIDR
    lines.append("HT-BAD,Hệ thống lỗi,,,,,internal,ND85,7" + "," * 21)  # row 6: level out of range
    result = read_csv("\n".join(lines), "ht.csv")
    msgs = [str(e) for e in result.errors]
    assert len(result.systems) == 2
    assert any("ht.csv: row 3" in m and "approved_level" in m for m in msgs), msgs
    assert any("row 4" in m and "cidrs" in m for m in msgs), msgs
    assert any("row 6" in m and "proposed_level" in m for m in msgs), msgs


def test_vietnamese_headers_and_semicolons_are_read() -> None:
    text = "Mã hệ thống;Tên hệ thống;Cấp độ đề xuất;hosts\nHT-1;Cổng dịch vụ công;3;a-01;b-01\n"
    r = read_csv(text)
    assert not r.errors and r.systems[0].name_vi == "Cổng dịch vụ công" and r.systems[0].proposed_level == 3


def test_register_in_store_audits_every_change_and_refuses_stale_updates(store: Store) -> None:
    clock = ManualClock(NOW)
    reg = Register(store, clock, actor="lan")
    for s in sample_register()[:3]:
        assert reg.upsert(s) == "created"
    assert reg.upsert(sample_register()[0]) == "unchanged"
    s, v = reg.get_versioned("HT-VP-02")
    changed = s.model_copy(update={"notes": "Đã nâng cấp"})
    reg.save(changed, expect=v)
    with pytest.raises(ConflictError) as e:
        reg.save(s.model_copy(update={"notes": "cũ"}), expect=v)
    assert e.value.current.doc["notes"] == "Đã nâng cấp"
    clock.advance(timedelta(minutes=5))
    reg.move("HT-VP-02", "superseded")
    store.refresh()
    trail = sorted(
        store.search("audit", 'object.id:"systems/HT-VP-02"'), key=lambda a: a["object"]["version"]
    )
    assert [a["action"] for a in trail] == ["create", "update", "dossier.superseded"]
    assert trail[1]["changes"]["notes"] == ["", "Đã nâng cấp"]
    assert trail[2]["user"]["name"] == "lan"
    assert [s.code for s in reg.all()] == ["HT-KHCN-01", "HT-VP-02", "HT-VP-03"]


def test_monitoring_layer_is_derived_from_events_of_the_last_24h(sqlite_store: Store) -> None:
    clock = ManualClock(NOW)
    reg = Register(sqlite_store, clock)
    for s in sample_register():
        reg.upsert(s)
    sqlite_store.write(
        "events",
        [
            {"@timestamp": "2026-11-21T20:00:00Z", "event": {"id": "e1"}, "host": {"name": "dvc-01"}},
            {"@timestamp": "2026-11-20T20:00:00Z", "event": {"id": "e2"}, "host": {"name": "mail-01"}},
            # The portal only appears as a destination in a firewall's log: it sent nothing itself.
            {
                "@timestamp": "2026-11-21T21:00:00Z",
                "event": {"id": "e3", "dataset": "fortinet.firewall"},
                "host": {"name": "fw-01"},
                "destination": {"ip": "10.20.0.10"},
            },
        ],
    )
    assert reg.monitored(reg.index()) == {"HT-VP-03", "HT-KHCN-01"}
    sqlite_store.write(
        "events",
        [{"@timestamp": "2026-11-21T22:00:00Z", "event": {"id": "e4"}, "host": {"ip": "10.20.0.10"}}],
    )
    assert reg.monitored(reg.index()) == {"HT-VP-03", "HT-KHCN-01", "HT-VP-02"}


def test_firewall_alerts_belong_to_the_system_attacked_not_the_firewalls_owner() -> None:
    index = AssetIndex(sample_register())
    scan = {"event": {"dataset": "fortinet.firewall"}, "host": {"name": "fw-01"},
            "source": {"ip": "45.95.147.236"}, "destination": {"ip": "10.20.0.10"}}  # fmt: skip
    assert index.match(scan) == {"HT-VP-02"}  # the portal, not the data centre that runs fw-01
    unknown_target = {**scan, "destination": {"ip": "198.51.100.7"}}
    assert index.match(unknown_target) == {"HT-KHCN-01"}  # no target known: the observer's system
    ssh = {
        "event": {"dataset": "system.auth"},
        "host": {"name": "bastion-01"},
        "source": {"ip": "185.220.101.47"},
    }
    assert index.match(ssh) == {"HT-KHCN-01"}  # a host's own log is about the host


def test_dossier_deadlines_count_working_days_and_skip_tet() -> None:
    from canh.incidents.calendar import add_working_days
    from canh.incidents.register import dossier_due

    # 2027-02-04 (Thu): the next working day is 10/02, after the weekend and Tết (05-09/02).
    assert add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 10)
    at = datetime(2027, 2, 5, 3, 0, tzinfo=UTC)
    s331 = move_dossier(_system(3, regime="ND331"), "submitted", by="lan", at=at)
    assert dossier_due(s331) == ("appraisal", add_working_days(date(2027, 2, 5), 15))
    assert dossier_due(s331)[1] > date(2027, 2, 26)  # 15 working days land after three calendar weeks
    opinion = move_dossier(_system(4, regime="ND85"), "expert_opinion", by="lan", at=at)  # L4: first
    s85 = move_dossier(opinion, "submitted", by="lan", at=at)
    assert dossier_due(s85) == ("appraisal", date(2027, 3, 7))  # ND85: 30 calendar days for level 4
    appraised = move_dossier(s85, "appraised", by="hung", at=datetime(2027, 4, 29, tzinfo=UTC))
    assert dossier_due(appraised) == ("approval", date(2027, 5, 11))  # 30/4, 1/5 and weekends skipped


def test_spreadsheet_dossier_dates_start_the_deadlines_and_round_trip() -> None:
    from canh.incidents.register import dossier_due

    by_code = {s.code: s for s in sample_register()}
    # HT-GD-16 (ND85, level 3) was submitted on 2026-10-20: appraisal is due 15 days later.
    assert dossier_due(by_code["HT-GD-16"]) == ("appraisal", date(2026, 11, 4))
    kind, due = dossier_due(by_code["HT-TP-21"]) or ("", None)
    assert kind == "approval" and due is not None and due > date(2026, 11, 12)
    assert dossier_due(by_code["HT-KHCN-01"]) is None  # approved: nothing waits
    again = {s.code: s for s in read_csv(write_csv(list(by_code.values()))).systems}
    assert dossier_due(again["HT-GD-16"]) == dossier_due(by_code["HT-GD-16"])
