"""The Vietnamese rules the register and the incident reports follow, as data.

Two regimes coexist (Decree 85/2016 and Decree 331/2026); every figure below is looked up in one
table keyed by regime, so an amendment is a change to this table and nothing else. The inspection
cadence may also be overridden from canh.yml (``register.inspection_every``): ND331 leaves it to
level and risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from canh.config import RegisterConfig

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
    "pm_list_pending": "Chờ Thủ tướng phê duyệt danh mục",
    "plan_approved": "Đã phê duyệt phương án",
    "rejected": "Bị từ chối",
    "superseded": "Đã thay thế",
}

# Allowed moves whatever the level; "returned" moves (needs_supplement, rejected) must carry reasons.
# A superseded dossier (the level is being re-determined) goes through the same procedure again.
DOSSIER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted", "expert_opinion"),
    "expert_opinion": ("submitted", "draft"),
    "submitted": ("appraised", "needs_supplement", "rejected"),
    "needs_supplement": ("submitted", "draft"),
    "appraised": ("pending_approval", "approved", "needs_supplement"),
    "pending_approval": ("approved", "rejected", "needs_supplement"),
    "approved": ("pm_list_pending", "superseded"),
    "pm_list_pending": ("plan_approved", "superseded"),
    "plan_approved": ("superseded",),
    "rejected": ("draft",),
    "superseded": ("draft", "expert_opinion", "submitted"),
}
RETURN_STATUSES = frozenset({"needs_supplement", "rejected"})
# The level is approved from here on (level 5 then waits for the Prime Minister's list and the plan).
APPROVED_STATUSES = frozenset({"approved", "pm_list_pending", "plan_approved"})
# Statuses a dossier starts (again) from: a first draft, or a level being re-determined.
START_STATUSES = frozenset({"draft", "superseded"})


@dataclass(frozen=True)
class RegimeRules:
    """Every figure one regime sets."""

    inspection_every: dict[int, timedelta]
    appraisal_days: dict[int, int]  # from a complete dossier
    appraisal_working_days: bool
    approval_working_days: int
    expert_opinion_from_level: int  # the dedicated unit's professional opinion before submission
    pm_list_from_level: int  # the Prime Minister approves the list of these systems
    completeness_notice_working_days: int | None  # the appraiser says a dossier is incomplete within
    external_assessor_from_level: int  # assessed by a licensed/appointed organisation from this level
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
        pm_list_from_level=5,
        completeness_notice_working_days=None,
        external_assessor_from_level=3,
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
        pm_list_from_level=5,
        completeness_notice_working_days=5,
        # Internal assessment is allowed when independent of the operator; L5 needs an external one
        # (national-security systems too, whatever their level).
        external_assessor_from_level=5,
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

# -- register vocabularies: code → (vi, en); spreadsheets may use either name or the code ----------

INFO_CLASSES: dict[str, tuple[str, str]] = {
    "public": ("Công khai", "Public"),
    "private": ("Riêng", "Private"),
    "personal": ("Cá nhân", "Personal data"),
    "state_secret": ("Bí mật nhà nước", "State secret"),
}
# State-secret grades (Law on Protection of State Secrets 2018), lowest first.
SECRET_GRADES: dict[str, tuple[str, str]] = {
    "mat": ("Mật", "Confidential"),
    "toi_mat": ("Tối mật", "Secret"),
    "tuyet_mat": ("Tuyệt mật", "Top secret"),
}
HOSTING: dict[str, tuple[str, str]] = {
    "on_prem": ("Tại chỗ", "On premises"),
    "data_centre": ("Trung tâm dữ liệu", "Data centre"),
    "cloud": ("Điện toán đám mây", "Cloud"),
}
# Services as form BM03 ticks them (web, mail, database, other), plus a few the "other" box names.
SERVICES: dict[str, tuple[str, str]] = {
    "web": ("Dịch vụ web", "Web"),
    "mail": ("Thư điện tử", "Mail"),
    "database": ("Cơ sở dữ liệu", "Database"),
    "dns": ("DNS", "DNS"),
    "file": ("Chia sẻ tệp", "File sharing"),
    "remote_access": ("Truy cập từ xa (VPN)", "Remote access (VPN)"),
    "other": ("Khác", "Other"),
}
PLAN_STATUSES: dict[str, tuple[str, str]] = {
    "not_started": ("Chưa triển khai", "Not started"),
    "partial": ("Triển khai một phần", "Partly done"),
    "complete": ("Đã hoàn thành", "Complete"),
}
# Network trust labels (nhãn tín nhiệm mạng) NCSC grants; an attribute of web assets, not a level.
TRUST_LABEL_KINDS: dict[str, tuple[str, str]] = {
    "website": ("Website", "Website"),
    "organisation": ("Tổ chức", "Organisation"),
    "system": ("Hệ thống", "System"),
    "device": ("Thiết bị", "Device"),
}
TRUST_LABEL_STATUSES: dict[str, tuple[str, str]] = {
    "applied": ("Đang đề nghị", "Applied for"),
    "valid": ("Còn hiệu lực", "Valid"),
    "suspended": ("Tạm đình chỉ", "Suspended"),
    "revoked": ("Bị thu hồi", "Revoked"),
    "expired": ("Hết hạn", "Expired"),
}
# Test classes of a technical assessment (ND331).
TEST_CLASSES: dict[str, tuple[str, str]] = {
    "black": ("Hộp đen", "Black box"),
    "grey": ("Hộp xám", "Grey box"),
    "white": ("Hộp trắng", "White box"),
}
VOCABULARIES: dict[str, dict[str, tuple[str, str]]] = {
    "info_class": INFO_CLASSES,
    "secret_grade": SECRET_GRADES,
    "hosting": HOSTING,
    "service": SERVICES,
    "plan_status": PLAN_STATUSES,
    "trust_label_kind": TRUST_LABEL_KINDS,
    "trust_label_status": TRUST_LABEL_STATUSES,
    "test_class": TEST_CLASSES,
}


# Short forms people write in spreadsheets, besides the codes and the names above.
ALIASES: dict[str, dict[str, str]] = {
    "info_class": {"riêng tư": "private", "dữ liệu cá nhân": "personal", "bmnn": "state_secret"},
    "hosting": {"đám mây": "cloud", "cloud": "cloud", "on-premises": "on_prem", "tttl": "data_centre"},
    "plan_status": {"chưa": "not_started", "một phần": "partial", "hoàn thành": "complete"},
    "trust_label_status": {"hiệu lực": "valid", "đã cấp": "valid", "thu hồi": "revoked"},
}


def vocabulary_code(vocabulary: str, text: str) -> str | None:
    """The code a cell names, by code, by its Vietnamese or English name or a short form (any case;
    ``data-centre`` and ``data centre`` for ``data_centre``)."""
    key = " ".join(text.strip().lower().split())
    as_code = key.replace("-", "_").replace(" ", "_")
    for code, names in VOCABULARIES[vocabulary].items():
        if as_code == code or key in (n.lower() for n in names):
            return code
    return ALIASES.get(vocabulary, {}).get(key)


def term(vocabulary: str, code: str, lang: str) -> str:
    """A code's name in ``lang`` (unknown codes as they are)."""
    names = VOCABULARIES[vocabulary].get(code)
    return (names[0] if lang == "vi" else names[1]) if names else code


# -- what depends on the level ---------------------------------------------------------------------


def rules_for(regime: str) -> RegimeRules:
    """The table row of a regime (unknown names fall back to ND85, the regime systems start in)."""
    return RULES.get(regime, RULES["ND85"])


def can_move(current: str, target: str) -> bool:
    """Whether the workflow has a move from ``current`` to ``target`` at some level."""
    return target in DOSSIER_TRANSITIONS.get(current, ())


def level_gate(current: str, target: str, level: int | None, regime: str) -> str | None:
    """Why a move the workflow has is closed to this level (a catalogue key), or None when it is open.

    Levels 4-5 ask the dedicated unit's professional opinion before the dossier is submitted, and
    only level-5 systems go on the Prime Minister's list.
    """
    rules = rules_for(regime)
    high = (level or 0) >= rules.expert_opinion_from_level
    if target == "expert_opinion" and not high:
        return "register.no_expert_opinion"
    if target == "submitted" and current in START_STATUSES and high:
        return "register.expert_opinion_first"
    if target == "pm_list_pending" and (level or 0) < rules.pm_list_from_level:
        return "register.pm_list_level5"
    return None


def allowed_moves(current: str, level: int | None, regime: str) -> tuple[str, ...]:
    """The dossier moves open to a system of this level and regime."""
    return tuple(
        t for t in DOSSIER_TRANSITIONS.get(current, ()) if level_gate(current, t, level, regime) is None
    )


# -- inspection cadence: the table, unless canh.yml overrides it ------------------------------------

_cadence_overrides: dict[str, dict[int, timedelta]] = {}


def use_cadence(overrides: Mapping[str, Mapping[int, timedelta]]) -> None:
    """Install the configured per-level cadence (regime → level → every) for this process."""
    _cadence_overrides.clear()
    for regime, levels in overrides.items():
        _cadence_overrides[regime] = dict(levels)


def use_register_config(config: RegisterConfig) -> None:
    """Install canh.yml's ``register.inspection_every`` (level keys and durations already validated)."""
    from canh.clock import parse_duration

    use_cadence(
        {
            regime: {int(level): parse_duration(every) for level, every in levels.items()}
            for regime, levels in config.inspection_every.items()
        }
    )


def inspection_every(regime: str, level: int) -> timedelta:
    """How often a system of this level is inspected: canh.yml's override, else the regime's table."""
    override = _cadence_overrides.get(regime if regime in RULES else "ND85", {}).get(level)
    return override if override is not None else rules_for(regime).inspection_every[level]
