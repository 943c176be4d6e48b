"""The security-level register: one record per information system (Decree 85 / Decree 331).

Pure data and rules: no store, no clock of its own. Persistence is in :mod:`canh.incidents.systems`.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from canh.errors import WorkflowError
from canh.events import get
from canh.i18n import t
from canh.incidents.regulation import (
    APPROVED_STATUSES,
    DOSSIER_STATUSES,
    RETURN_STATUSES,
    VOCABULARIES,
    can_move,
    inspection_every,
    level_gate,
    rules_for,
)

SystemType = Literal["internal", "services", "infrastructure", "industrial", "other"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _coded(vocabulary: str, *fields: str) -> Any:
    """A validator keeping ``fields`` to the codes of a regulation vocabulary (one value or a list)."""

    def check(cls: type, v: Any) -> Any:
        known = VOCABULARIES[vocabulary]
        for code in v if isinstance(v, list) else [v]:
            if code is not None and code not in known:
                raise ValueError(t("register.not_one_of", value=code, known=", ".join(known)))
        return v

    return field_validator(*fields)(classmethod(check))


class Contact(_Model):
    """A person to call about the system."""

    name: str
    role: str = ""
    phone: str = ""
    email: str = ""


class Assets(_Model):
    """What links events to the system: host names (globs allowed), CIDRs and URLs."""

    hosts: list[str] = Field(default_factory=list)
    cidrs: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)

    @field_validator("cidrs")
    @classmethod
    def _valid_cidrs(cls, v: list[str]) -> list[str]:
        for c in v:
            try:
                ipaddress.ip_network(c, strict=False)
            except ValueError:
                raise ValueError(t("register.bad_cidr", value=c)) from None
        return v


class Decision(_Model):
    """The approval decision (quyết định phê duyệt cấp độ)."""

    number: str = ""
    date: dt.date | None = None
    authority: str = ""


class DossierStep(_Model):
    """One move of the dossier, with who, when and (for returns) why."""

    status: str
    at: datetime
    by: str
    reasons: str = ""


class Dossier(_Model):
    """The level dossier (hồ sơ đề xuất cấp độ) and its workflow."""

    status: str = "draft"
    history: list[DossierStep] = Field(default_factory=list)
    decision: Decision = Field(default_factory=Decision)
    return_reasons: str = ""

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        if v not in DOSSIER_STATUSES:
            raise ValueError(t("register.unknown_status", value=v, known=", ".join(DOSSIER_STATUSES)))
        return v


class Inspection(_Model):
    """An inspection or assessment (kiểm tra, đánh giá)."""

    date: dt.date
    assessor: str = ""
    external: bool = False
    result: str = ""
    test_class: str | None = None  # black, grey or white box (ND331)

    _test_class = _coded("test_class", "test_class")


class Coverage(_Model):
    """The four protection layers that people declare (layer 2 and 3 are derived from data)."""

    onsite_team: bool = False
    monitoring_provider: str = ""
    national_connection: bool = False


class PersonalData(_Model):
    """How many people's personal data the system processes (the level thresholds count them)."""

    basic: int | None = Field(default=None, ge=0)
    sensitive: int | None = Field(default=None, ge=0)


class SecurityRegulation(_Model):
    """The system's security regulation (quy chế bảo đảm an toàn thông tin); ND331 wants it before approval."""

    number: str = ""
    date: dt.date | None = None


class SecurityPlan(_Model):
    """How far the security plan for the level is carried out, and by when it will be."""

    status: str = "not_started"
    eta: dt.date | None = None

    _status = _coded("plan_status", "status")


class TrustLabel(_Model):
    """A network trust label (nhãn tín nhiệm mạng) NCSC granted to one of the system's web assets."""

    kind: str = "website"
    asset: str
    status: str = "valid"
    expires: dt.date | None = None

    _kind = _coded("trust_label_kind", "kind")
    _status = _coded("trust_label_status", "status")

    def state(self, today: date) -> str:
        """The status as of ``today``: a valid label past its expiry is expired."""
        if self.status == "valid" and self.expires is not None and self.expires < today:
            return "expired"
        return self.status


class System(_Model):
    """An information system of the register."""

    code: str
    name_vi: str
    name_en: str = ""
    owner_org: str = ""
    operator_unit: str = ""
    security_unit: str = ""
    system_type: SystemType = "internal"
    regime: Literal["ND85", "ND331"] = "ND85"
    proposed_level: int | None = Field(default=None, ge=1, le=5)
    approved_level: int | None = Field(default=None, ge=1, le=5)
    requires_24x7: bool = False
    admin_procedures: bool = False
    national_security: bool = False  # on the list of systems important to national security
    parent: str = ""
    info_classes: list[str] = Field(default_factory=list)
    secret_grade: str | None = None  # Mật, Tối mật, Tuyệt mật (with the state_secret class)
    personal_data: PersonalData = Field(default_factory=PersonalData)
    hosting: str | None = None
    services: list[str] = Field(default_factory=list)
    os: list[str] = Field(default_factory=list)
    public_ips: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    security_regulation: SecurityRegulation = Field(default_factory=SecurityRegulation)
    plan: SecurityPlan = Field(default_factory=SecurityPlan)
    last_risk_assessment: dt.date | None = None
    dossier: Dossier = Field(default_factory=Dossier)
    inspections: list[Inspection] = Field(default_factory=list)
    coverage: Coverage = Field(default_factory=Coverage)
    contacts: list[Contact] = Field(default_factory=list)
    assets: Assets = Field(default_factory=Assets)
    trust_labels: list[TrustLabel] = Field(default_factory=list)
    notes: str = ""

    _info_classes = _coded("info_class", "info_classes")
    _grade = _coded("secret_grade", "secret_grade")
    _hosting = _coded("hosting", "hosting")
    _services = _coded("service", "services")

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.strip()
        if not v or any(c.isspace() for c in v):
            raise ValueError(t("register.code_one_word"))
        return v

    @field_validator("secret_grade")
    @classmethod
    def _grade_needs_secret(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and "state_secret" not in info.data.get("info_classes", ()):
            raise ValueError(t("register.grade_needs_secret"))
        return v

    @field_validator("public_ips")
    @classmethod
    def _ips(cls, v: list[str]) -> list[str]:
        for ip in v:
            try:
                ipaddress.ip_network(ip, strict=False)  # an address or a published range
            except ValueError:
                raise ValueError(t("register.bad_ip", value=ip)) from None
        return v

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        for d in v:
            if not _DOMAIN.fullmatch(d):
                raise ValueError(t("register.bad_domain", value=d))
        return v

    @field_validator("trust_labels")
    @classmethod
    def _labels_on_web_assets(cls, v: list[TrustLabel], info: ValidationInfo) -> list[TrustLabel]:
        # A website label attests one of this system's sites: it must name a declared domain or URL.
        assets = info.data.get("assets")
        web = {d.lower() for d in info.data.get("domains", ())}
        web |= {url_host(u) for u in (assets.urls if isinstance(assets, Assets) else ())}
        for label in v:
            if label.kind == "website" and url_host(label.asset) not in web:
                raise ValueError(t("register.label_not_an_asset", asset=label.asset))
        return v

    @property
    def level(self) -> int | None:
        """The level in force: the approved one, else the proposed one."""
        return self.approved_level or self.proposed_level

    @property
    def dossier_level(self) -> int | None:
        """The level the dossier argues for (a re-determined level, while the old one stays in force)."""
        return self.proposed_level or self.approved_level

    def doc(self) -> dict[str, Any]:
        """The store document."""
        return self.model_dump(mode="json")


# A host name: labels of letters (any script: IDN), digits and hyphens, at least one dot.
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:(?!-)[\w-]{1,63}(?<!-)\.)+(?!-)[\w-]{1,63}(?<!-)\.?", re.UNICODE)


def move_dossier(
    system: System, target: str, *, by: str, at: datetime, reasons: str = "", decision: Decision | None = None
) -> System:
    """The system with its dossier moved to ``target``; a forbidden move is a WorkflowError."""
    current = system.dossier.status
    if target not in DOSSIER_STATUSES:
        raise WorkflowError("register.bad_status", where=system.code, status=target)
    if not can_move(current, target):
        raise WorkflowError("register.bad_move", where=system.code, current=current, target=target)
    gate = level_gate(current, target, system.dossier_level, system.regime)
    if gate:
        raise WorkflowError(gate, where=system.code, level=system.dossier_level or "-", current=current)
    if target in RETURN_STATUSES and not reasons.strip():
        raise WorkflowError("register.reasons_needed", where=system.code, target=target)
    new = system.model_copy(deep=True)
    if target == "approved":
        decision = decision or new.dossier.decision
        if not decision.number or decision.date is None:
            raise WorkflowError("register.decision_needed", where=system.code)
        new.dossier.decision = decision
        # The decision approves the level the dossier proposed (a re-determined one replaces the old).
        new.approved_level = new.proposed_level or new.approved_level
    new.dossier.status = target
    new.dossier.return_reasons = reasons if target in RETURN_STATUSES else ""
    new.dossier.history.append(DossierStep(status=target, at=at, by=by, reasons=reasons))
    return new


def supersede_if_redetermined(before: System, after: System, *, by: str, at: datetime) -> System:
    """``after`` with its approved dossier superseded when its proposed level was re-determined.

    The approved level stays in force until the new dossier (same procedure as the first) is approved.
    """
    old, new = before.proposed_level, after.proposed_level
    if old == new or after.dossier.status not in APPROVED_STATUSES:
        return after
    reasons = t("register.redetermined", old=old or "-", new=new or "-")
    return move_dossier(after, "superseded", by=by, at=at, reasons=reasons)


def _status_since(system: System) -> date | None:
    status = system.dossier.status
    return next((h.at.date() for h in reversed(system.dossier.history) if h.status == status), None)


def dossier_deadlines(system: System) -> list[tuple[str, date]]:
    """Every deadline the dossier's status runs, soonest first: under ND331 a submitted dossier's
    incompleteness notice (5 working days) and its appraisal; an appraised one's approval.

    ND85 counts appraisal in calendar days, ND331 in working days; approval is in working days in both.
    """
    from canh.incidents.calendar import add_working_days

    status = system.dossier.status
    since = _status_since(system)
    level = system.dossier_level
    if since is None or level is None:
        return []
    rules = rules_for(system.regime)
    if status == "submitted":
        out = []
        if rules.completeness_notice_working_days is not None:
            out.append(("completeness", add_working_days(since, rules.completeness_notice_working_days)))
        days = rules.appraisal_days[level]
        due = add_working_days(since, days) if rules.appraisal_working_days else since + timedelta(days=days)
        return [*out, ("appraisal", due)]
    if status in ("appraised", "pending_approval"):
        return [("approval", add_working_days(since, rules.approval_working_days))]
    return []


def dossier_due(system: System) -> tuple[str, date] | None:
    """What the dossier waits for and by when: appraisal after submission, approval after appraisal."""
    deadlines = dossier_deadlines(system)
    return deadlines[-1] if deadlines else None


def next_inspection_due(system: System) -> date | None:
    """When the next inspection is due: last one (else the approval date) plus the level's cadence
    (canh.yml's ``register.inspection_every``, else the regime's table)."""
    every = inspection_window(system)
    if every is None:
        return None
    last = max((i.date for i in system.inspections), default=None) or system.dossier.decision.date
    if last is None:
        return None  # never approved nor inspected: due now, reported as such
    return last + every


def is_overdue(system: System, today: date) -> bool:
    """Due date passed, or an approved-level system never inspected nor dated."""
    due = next_inspection_due(system)
    return (due is None and system.level is not None) or (due is not None and due < today)


def independent_inspection_ok(system: System, today: date) -> bool:
    """Layer 3: an external assessment within the level's cadence."""
    every = inspection_window(system)
    if every is None:
        return False
    return any(i.external and today - i.date <= every for i in system.inspections)


def needs_external_assessor(system: System) -> bool:
    """Whether the regime wants this system assessed by a licensed or appointed organisation."""
    rules = rules_for(system.regime)
    return (system.level or 0) >= rules.external_assessor_from_level or (
        system.regime == "ND331" and system.national_security
    )


def inspection_window(system: System) -> timedelta | None:
    """The level's inspection cadence (None without a level)."""
    return inspection_every(system.regime, system.level) if system.level else None


# -- assets → systems -----------------------------------------------------------------------------

# Where an event or alert names the machine it is about.
HOST_FIELDS = ("host.name", "host.hostname", "observer.hostname", "agent.hostname", "winlog.computer_name")
IP_FIELDS = ("host.ip", "destination.ip", "observer.ip", "source.ip")
URL_FIELDS = (
    "url.domain",
    "url.full",
    "url.original",
    "destination.domain",
    "server.domain",
    "http.request.referrer",
)


def url_host(value: str) -> str:
    """The host name a URL (or a bare ``host[:port]/path``) names, lower-cased."""
    if "://" in value:
        return (urlsplit(value).hostname or "").lower()
    return value.split("/", 1)[0].split(":", 1)[0].lower()


class AssetIndex:
    """Finds the systems an event or alert belongs to, from their declared assets."""

    def __init__(self, systems: Iterable[System]) -> None:
        self.hosts: dict[str, set[str]] = {}
        self.globs: list[tuple[str, str]] = []
        # (version, prefix length) → network address as int → codes: one dict lookup per prefix length.
        self.nets: dict[tuple[int, int], dict[int, set[str]]] = {}
        self.domains: dict[str, set[str]] = {}
        for s in systems:
            for h in s.assets.hosts:
                h = h.strip().lower()
                if any(c in h for c in "*?["):
                    self.globs.append((h, s.code))
                else:
                    self.hosts.setdefault(h, set()).add(s.code)
            for c in s.assets.cidrs:
                net = ipaddress.ip_network(c, strict=False)
                bucket = self.nets.setdefault((net.version, net.prefixlen), {})
                bucket.setdefault(int(net.network_address), set()).add(s.code)
            for u in s.assets.urls:
                self.domains.setdefault(url_host(u), set()).add(s.code)

    def by_host(self, name: str) -> set[str]:
        name = name.lower()
        out = set(self.hosts.get(name, ()))
        short = name.split(".", 1)[0]
        out |= self.hosts.get(short, set())
        out |= {code for pattern, code in self.globs if fnmatch.fnmatchcase(name, pattern)}
        return out

    def by_ip(self, value: str) -> set[str]:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return set()
        out: set[str] = set()
        value_int, bits = int(ip), ip.max_prefixlen
        for (version, prefix), bucket in self.nets.items():
            if version == ip.version:
                mask = ((1 << prefix) - 1) << (bits - prefix) if prefix else 0
                out |= bucket.get(value_int & mask, set())
        return out

    def by_url(self, value: str) -> set[str]:
        return set(self.domains.get(url_host(value), ()))

    def match(self, record: Mapping[str, Any]) -> set[str]:
        """Codes of the systems the record is about.

        A firewall, IDS or sensor logs traffic *to* systems: its own host name says who observed,
        not who was attacked, so for those records the destination (address, URL) decides and the
        observer counts only when no destination is known. For host logs (sshd, Windows, web server)
        the host is the system concerned, and so is any declared address or URL the record names.
        """
        targets: set[str] = set()
        for f in ("destination.ip", "host.ip"):
            for v in _values(get(record, f)):
                targets |= self.by_ip(v)
        for f in URL_FIELDS:
            for v in _values(get(record, f)):
                targets |= self.by_url(v)
        hosts: set[str] = set()
        for f in HOST_FIELDS:
            for v in _values(get(record, f)):
                hosts |= self.by_host(v)
        for f in ("observer.ip",):
            for v in _values(get(record, f)):
                hosts |= self.by_ip(v)
        sources: set[str] = set()
        for v in _values(get(record, "source.ip")):
            sources |= self.by_ip(v)  # an internal machine that attacks is involved too
        if is_observer_record(record) and targets:
            return targets | sources
        return targets | hosts | sources


# Datasets written by devices that watch traffic for others (their host is the observer).
OBSERVER_DATASETS = (
    "fortinet.",
    "iptables.",
    "suricata.",
    "zeek.",
    "network.",
    "cisco.",
    "paloalto.",
    "pfsense.",
)


def is_observer_record(record: Mapping[str, Any]) -> bool:
    """True for a firewall, IDS or packet-sensor event (or an alert raised on one)."""
    ds = get(record, "event.dataset")
    return isinstance(ds, str) and ds.startswith(OBSERVER_DATASETS)


def _values(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v if x is not None]
    return [str(v)]


def monitored_systems(index: AssetIndex, seen: Mapping[str, Iterable[str]]) -> set[str]:
    """Layer 2: systems whose assets appear among values seen recently (field → values)."""
    out: set[str] = set()
    for f, values in seen.items():
        for v in values:
            if f in HOST_FIELDS:
                out |= index.by_host(v)
            elif f in IP_FIELDS:
                out |= index.by_ip(v)
            else:
                out |= index.by_url(v)
    return out
