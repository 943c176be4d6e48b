"""The Vietnamese rules the register and the incident reports follow, as data.

Two regimes coexist (Decree 85/2016 and Decree 331/2026); every figure below is looked up in one
table keyed by regime, so an amendment is a change to this table and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

Regime = Literal["ND85", "ND331"]
REGIMES: tuple[Regime, ...] = ("ND85", "ND331")
LEVELS = (1, 2, 3, 4, 5)

# Dossier statuses (hồ sơ đề xuất cấp độ) and their Vietnamese names as the regulation words them.
DOSSIER_STATUSES: dict[str, str] = {
    "draft": "Đang dự thảo",
    "expert_opinion": "Xin ý kiến chuyên môn",
    "submitted": "Đã gửi thẩm định",
    "needs_supplement": "Yêu cầu bổ sung",
    "appraised": "Đã thẩm định",
    "pending_approval": "Trình phê duyệt",
    "approved": "Đã được phê duyệt",
    "rejected": "Bị từ chối",
    "superseded": "Đã thay thế",
}

# Allowed moves; "returned" moves (needs_supplement, rejected) must carry reasons.
DOSSIER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted", "expert_opinion"),
    "expert_opinion": ("submitted", "draft"),
    "submitted": ("appraised", "needs_supplement", "rejected"),
    "needs_supplement": ("submitted", "draft"),
    "appraised": ("pending_approval", "approved", "needs_supplement"),
    "pending_approval": ("approved", "rejected", "needs_supplement"),
    "approved": ("superseded",),
    "rejected": ("draft",),
    "superseded": (),
}
RETURN_STATUSES = frozenset({"needs_supplement", "rejected"})


@dataclass(frozen=True)
class RegimeRules:
    """Every figure one regime sets."""

    inspection_every: dict[int, timedelta]
    appraisal_days: dict[int, int]  # from a complete dossier
    appraisal_working_days: bool
    approval_working_days: int
    expert_opinion_from_level: int
    appraiser: dict[int, str]
    approver: dict[int, str]
    initial_report: timedelta  # normal incidents: notify within
    initial_report_serious: timedelta
    detail_report_serious: timedelta | None
    closing_report: timedelta  # after the response ends
    monitoring_window: timedelta = field(default=timedelta(hours=24))


_YEAR = timedelta(days=365)
_UNIT = "Đơn vị chuyên trách về an toàn thông tin của chủ quản"
_OWNER = "Chủ quản hệ thống thông tin"

RULES: dict[str, RegimeRules] = {
    "ND85": RegimeRules(
        # The whole organisation every 2 years; L3-L4 yearly; L5 every 6 months.
        inspection_every={1: 2 * _YEAR, 2: 2 * _YEAR, 3: _YEAR, 4: _YEAR, 5: timedelta(days=182)},
        appraisal_days={1: 15, 2: 15, 3: 15, 4: 30, 5: 30},
        appraisal_working_days=False,
        approval_working_days=7,
        expert_opinion_from_level=4,
        appraiser={
            1: _UNIT,
            2: _UNIT,
            3: _UNIT,
            4: "Bộ Thông tin và Truyền thông",
            5: "Bộ Thông tin và Truyền thông",
        },
        approver={1: _UNIT, 2: _UNIT, 3: _OWNER, 4: _OWNER, 5: _OWNER},
        initial_report=timedelta(days=5),
        initial_report_serious=timedelta(days=5),
        detail_report_serious=None,
        closing_report=timedelta(days=5),
    ),
    "ND331": RegimeRules(
        # Cadence is set by level and risk (configurable); these are the defaults we ship.
        inspection_every={1: 2 * _YEAR, 2: 2 * _YEAR, 3: _YEAR, 4: _YEAR, 5: timedelta(days=182)},
        appraisal_days={1: 15, 2: 15, 3: 15, 4: 25, 5: 25},
        appraisal_working_days=True,
        approval_working_days=7,
        expert_opinion_from_level=4,
        appraiser={1: _UNIT, 2: _UNIT, 3: _UNIT, 4: "Bộ Công an (A05)", 5: "Bộ Công an (A05)"},
        approver={1: _UNIT, 2: _UNIT, 3: _OWNER, 4: _OWNER, 5: _OWNER},
        initial_report=timedelta(days=5),
        initial_report_serious=timedelta(hours=24),
        detail_report_serious=timedelta(hours=72),
        closing_report=timedelta(days=5),
    ),
}

# Incident categories as the national portal lists them (key → vi, en).
CATEGORIES: dict[str, tuple[str, str]] = {
    "dos": ("Tấn công từ chối dịch vụ", "Denial of service"),
    "phishing": ("Giả mạo, lừa đảo", "Spoofing / phishing"),
    "malware": ("Mã độc", "Malware"),
    "intrusion": ("Truy cập trái phép, chiếm quyền điều khiển", "Unauthorised access or takeover"),
    "defacement": ("Thay đổi giao diện", "Defacement"),
    "ransomware": ("Mã hóa dữ liệu, thiết bị", "Encryption of data or devices (ransomware)"),
    "destruction": ("Phá hủy dữ liệu", "Destruction of data"),
    "espionage": ("Gián điệp, đánh cắp dữ liệu", "Espionage or data theft"),
    "combined": ("Tấn công tổng hợp", "Combined attack"),
    "other": ("Khác", "Other"),
}


def rules_for(regime: str) -> RegimeRules:
    """The table row of a regime (unknown names fall back to ND85, the regime systems start in)."""
    return RULES.get(regime, RULES["ND85"])


def can_move(current: str, target: str) -> bool:
    """Whether a dossier may go from ``current`` to ``target``."""
    return target in DOSSIER_TRANSITIONS.get(current, ())
