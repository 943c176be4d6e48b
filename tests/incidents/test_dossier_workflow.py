"""Dossier workflow per regulation.md: the expert-opinion step for levels 4-5, the Prime Minister's list
and the plan for level 5, superseded when the level is re-determined, ND331's incompleteness notice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from canh.errors import WorkflowError
from canh.i18n import set_language
from canh.incidents.calendar import add_working_days
from canh.incidents.register import (
    Decision,
    System,
    dossier_deadlines,
    dossier_due,
    move_dossier,
    supersede_if_redetermined,
)
from canh.incidents.regulation import allowed_moves
from canh.incidents.reports import register_doc, register_report, to_markdown

AT = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday
DECISION = Decision(number="15/QĐ-UBND", date=date(2026, 11, 20), authority="Chủ tịch UBND tỉnh")


def _system(level: int, regime: str = "ND85", **kw: object) -> System:
    return System(code=f"HT-L{level}", name_vi="Hệ thống thử", proposed_level=level, regime=regime, **kw)  # type: ignore[arg-type]


def _walk(s: System, *steps: str) -> System:
    for step in steps:
        s = move_dossier(s, step, by="lan", at=AT, decision=DECISION if step == "approved" else None)
    return s


@pytest.mark.parametrize("regime", ["ND85", "ND331"])
def test_levels_4_and_5_need_the_expert_opinion_before_submission(regime: str) -> None:
    for level in (4, 5):
        with pytest.raises(WorkflowError) as e:
            move_dossier(_system(level, regime), "submitted", by="lan", at=AT)
        assert e.value.key == "register.expert_opinion_first"
        assert f"level {level} dossier" in e.value.render("en") and "expert_opinion" in e.value.render("en")
        assert "ý kiến chuyên môn" in e.value.render("vi")
        s = _walk(_system(level, regime), "expert_opinion", "submitted", "appraised", "approved")
        assert [h.status for h in s.dossier.history] == [
            "expert_opinion",
            "submitted",
            "appraised",
            "approved",
        ]
    # Levels 1-3 go straight to appraisal and may not ask for the opinion.
    assert _walk(_system(3, regime), "submitted").dossier.status == "submitted"
    assert allowed_moves("draft", 3, regime) == ("submitted",)
    assert allowed_moves("draft", 4, regime) == ("expert_opinion",)


def test_a_returned_level4_dossier_is_resubmitted_without_a_second_opinion() -> None:
    s = _walk(_system(4), "expert_opinion", "submitted")
    s = move_dossier(s, "needs_supplement", by="hung", at=AT, reasons="Thiếu đánh giá rủi ro chi tiết")
    assert move_dossier(s, "submitted", by="lan", at=AT).dossier.status == "submitted"
    # Back to a draft (rejected, then redrafted): the opinion is asked again.
    s = move_dossier(_walk(_system(4), "expert_opinion", "submitted"), "rejected", by="h", at=AT, reasons="x")
    with pytest.raises(WorkflowError):
        _walk(s, "draft", "submitted")


def test_level5_goes_on_the_prime_ministers_list_then_its_plan_is_approved() -> None:
    s = _walk(_system(5, "ND331"), "expert_opinion", "submitted", "appraised", "pending_approval", "approved")
    s = _walk(s, "pm_list_pending", "plan_approved")
    assert s.dossier.status == "plan_approved" and s.approved_level == 5
    with pytest.raises(WorkflowError) as e:  # level 4: no Prime Minister's list
        _walk(_system(4), "expert_opinion", "submitted", "appraised", "approved", "pm_list_pending")
    assert e.value.key == "register.pm_list_level5"
    with pytest.raises(WorkflowError):  # the plan comes after the list
        _walk(_system(5), "expert_opinion", "submitted", "appraised", "approved", "plan_approved")
    # Approved-and-after all count as an approved dossier in the compliance report.
    data = register_report([s], set(), date(2026, 12, 1))
    assert data["approved"] == 1 and data["by_level"]["5"]["approved"] == 1


def test_redetermining_the_level_supersedes_the_approved_dossier_and_restarts_the_procedure() -> None:
    approved = _walk(_system(3), "submitted", "appraised", "approved")
    assert approved.approved_level == 3
    raised = supersede_if_redetermined(
        approved, approved.model_copy(update={"proposed_level": 4}), by="lan", at=AT
    )
    assert raised.dossier.status == "superseded" and raised.dossier.history[-1].reasons
    assert raised.level == 3  # the approved level stays in force meanwhile
    # Same procedure as the first time: for the new level 4, the expert opinion first.
    with pytest.raises(WorkflowError):
        move_dossier(raised, "submitted", by="lan", at=AT)
    again = _walk(raised, "expert_opinion", "submitted", "appraised", "approved")
    assert again.approved_level == 4 and again.dossier.decision.number == "15/QĐ-UBND"
    # An unchanged level, or a dossier not yet approved, is not superseded.
    assert supersede_if_redetermined(approved, approved, by="x", at=AT).dossier.status == "approved"
    draft = _system(2)
    assert supersede_if_redetermined(draft, _system(3), by="x", at=AT).dossier.status == "draft"


def test_nd331_shows_the_incompleteness_notice_beside_the_appraisal_deadline() -> None:
    s331 = _walk(_system(3, "ND331"), "submitted")
    assert dossier_deadlines(s331) == [
        ("completeness", add_working_days(AT.date(), 5)),
        ("appraisal", add_working_days(AT.date(), 15)),
    ]
    assert dossier_deadlines(s331)[0][1] == date(2026, 11, 9)  # Mon + 5 working days
    assert dossier_due(s331) == dossier_deadlines(s331)[-1]  # the console's "late" is still appraisal
    s85 = _walk(_system(3, "ND85"), "submitted").model_copy(update={"code": "HT-85"})
    assert [k for k, _ in dossier_deadlines(s85)] == ["appraisal"]  # ND85 sets no such notice
    data = register_report([s331, s85], set(), date(2026, 11, 10))
    rows = {r["code"]: r for r in data["dossiers_waiting"]}
    assert rows["HT-L3"]["dossier_completeness_due"] == "2026-11-09"
    assert rows["HT-85"]["dossier_completeness_due"] is None
    md = to_markdown(register_doc(data, "vi"))
    assert "Hạn thông báo hồ sơ chưa đầy đủ" in md
    waiting = md.split("## Hồ sơ đang chờ")[1].split("##")[0]
    line = next(x for x in waiting.splitlines() if x.startswith("| HT-L3 "))
    assert "2026-11-09" in line and "thẩm định" in line and "appraisal" not in line


def test_systems_show_puts_the_incompleteness_notice_beside_the_appraisal_deadline() -> None:
    from canh.cli.systems import _show_rows

    rows = dict(_show_rows(_walk(_system(3, "ND331"), "submitted"), date(2026, 11, 3), False, "en"))
    assert rows["Dossier deadline"] == "incompleteness notice by 2026-11-09; appraisal by 2026-11-23"
    set_language("vi")
    try:
        rows = dict(_show_rows(_walk(_system(3, "ND85"), "submitted"), date(2026, 11, 3), False, "vi"))
    finally:
        set_language(None)
    assert rows["Hạn xử lý hồ sơ"] == "thẩm định trước 2026-11-17"  # ND85: 15 calendar days, no notice
