"""Incidents as data: statuses and allowed moves, priority from alert level × system level, SLA clocks.

Pure functions over the :class:`Incident` model; the store and the clock are in :mod:`.desk`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from canh.clock import parse_duration
from canh.config import SlaTargets
from canh.errors import InputError, WorkflowError
from canh.incidents.regulation import CATEGORIES

Status = Literal["new", "triage", "in_progress", "contained", "resolved", "closed", "false_positive"]
STATUSES: tuple[str, ...] = (
    "new",
    "triage",
    "in_progress",
    "contained",
    "resolved",
    "closed",
    "false_positive",
)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("triage", "in_progress", "false_positive"),
    "triage": ("in_progress", "contained", "resolved", "false_positive"),
    "in_progress": ("contained", "resolved", "false_positive"),
    "contained": ("in_progress", "resolved"),
    "resolved": ("closed", "in_progress"),
    "closed": ("in_progress",),
    "false_positive": ("triage",),
}
OPEN = frozenset({"new", "triage", "in_progress", "contained"})
PRIORITIES = ("P1", "P2", "P3", "P4")
ALERT_LEVELS = ("informational", "low", "medium", "high", "critical")

# Rows: alert level; columns: highest security level of the affected systems (0 = none known).
PRIORITY_TABLE: dict[str, tuple[str, str, str, str, str, str]] = {
    "critical": ("P2", "P2", "P2", "P1", "P1", "P1"),
    "high": ("P3", "P3", "P2", "P2", "P1", "P1"),
    "medium": ("P3", "P3", "P3", "P2", "P2", "P1"),
    "low": ("P4", "P4", "P4", "P3", "P3", "P2"),
    "informational": ("P4", "P4", "P4", "P4", "P4", "P3"),
}
SLA_TARGETS = ("acknowledge", "contain", "resolve")
# Which status (or later) meets which SLA target.
_MEETS = {
    "acknowledge": {"triage", "in_progress", "contained", "resolved", "closed", "false_positive"},
    "contain": {"contained", "resolved", "closed", "false_positive"},
    "resolve": {"resolved", "closed", "false_positive"},
}
WARN_AT = 0.75  # share of the SLA time after which a warning is recorded


def norm_level(level: Any) -> str:
    """An alert level word (Sigma levels; numbers 0-100 as Elastic severities)."""
    text = str(level or "medium").lower()
    if text in ALERT_LEVELS:
        return text
    if text.isdigit():
        n = int(text)
        return "critical" if n >= 90 else "high" if n >= 70 else "medium" if n >= 40 else "low"
    return "medium"


def valid_level(value: str, where: str | None = None) -> str:
    """An alert level people typed: a word of ALERT_LEVELS or an Elastic severity 0-100."""
    text = str(value).strip().lower()
    if text in ALERT_LEVELS or (text.isdigit() and int(text) <= 100):
        return norm_level(text)
    raise InputError("incident.bad_level", where=where, value=value, known=", ".join(ALERT_LEVELS))


def valid_category(value: str, where: str | None = None) -> str:
    """A category of the national portal's list (regulation.CATEGORIES), by its key."""
    key = str(value).strip().lower()
    if key in CATEGORIES:
        return key
    raise InputError("incident.bad_category", where=where, value=value, known=", ".join(CATEGORIES))


# ATT&CK technique ids: T1nnn (Enterprise, Mobile) or T0nnn (ICS), with an optional .nnn sub-technique.
_TECHNIQUE_ID = re.compile(r"T[01]\d{3}(?:\.\d{3})?")


def valid_technique(value: str, where: str | None = None) -> str:
    """An ATT&CK technique id, upper-cased (T1110, T1110.001)."""
    tech = str(value).strip().upper()
    if _TECHNIQUE_ID.fullmatch(tech):
        return tech
    raise InputError("incident.bad_technique", where=where, value=value)


def priority_for(alert_level: str, system_level: int | None) -> str:
    """Priority P1-P4 from the alert level and the highest security level of the affected systems."""
    return PRIORITY_TABLE[norm_level(alert_level)][max(0, min(5, system_level or 0))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Entry(_Model):
    """One timeline line: who did what, when."""

    at: datetime
    by: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)


class Comment(_Model):
    at: datetime
    by: str
    text: str


class Task(_Model):
    """A piece of work with an owner and a due date."""

    id: int
    title: str
    owner: str = ""
    due: datetime | None = None
    done: bool = False


class Observable(_Model):
    """An indicator (ip, domain, url, hash, user, ...) and where it was seen."""

    type: str
    value: str
    seen_in: list[str] = Field(default_factory=list)
    first_seen: datetime | None = None


class SlaClock(_Model):
    """One SLA target: due time, when it was met, and any warning or breach recorded."""

    due: datetime
    met_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None


class Incident(_Model):
    """An incident: what happened, who handles it, how urgent, and everything done so far."""

    id: str
    title: str
    status: Status = "new"
    priority: str = "P3"
    priority_manual: bool = False
    alert_level: str = "medium"
    category: str = "other"
    source: str = "manual"
    description: str = ""
    assignee: str = ""
    team: str = ""
    created_at: datetime
    created_by: str
    detected_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolution: str = ""
    sla: dict[str, SlaClock] = Field(default_factory=dict)
    alerts: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    attacker_ips: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    last_alert_at: datetime | None = None
    systems: list[str] = Field(default_factory=list)
    max_level: int | None = None
    comments: list[Comment] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    observables: list[Observable] = Field(default_factory=list)
    techniques: list[str] = Field(default_factory=list)
    timeline: list[Entry] = Field(default_factory=list)
    reports: dict[str, Any] = Field(default_factory=dict)
    # Decision 05/2017 "serious": computed (P1 on a level 4-5 system) unless an analyst decided.
    serious_override: bool | None = None
    serious_reason: str = ""
    related: list[str] = Field(default_factory=list)  # incidents sharing an indicator

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def log(self, at: datetime, by: str, action: str, **detail: Any) -> None:
        """Append to the timeline (never rewritten)."""
        self.timeline.append(Entry(at=at, by=by, action=action, detail=detail))
        self.updated_at = at

    def observe(self, type_: str, value: str, seen_in: str, at: datetime) -> None:
        """Add an observable, or note one more place it was seen."""
        for o in self.observables:
            if o.type == type_ and o.value == value:
                if seen_in and seen_in not in o.seen_in:
                    o.seen_in.append(seen_in)
                return
        self.observables.append(
            Observable(type=type_, value=value, seen_in=[seen_in] if seen_in else [], first_seen=at)
        )


def serious_by_rule(inc: Incident) -> bool:
    """Decision 05/2017 as Canh approximates it: a level 4-5 system hit at the highest urgency."""
    return (inc.max_level or 0) >= 4 and inc.priority == "P1"


def is_serious(inc: Incident) -> bool:
    """Serious (nghiêm trọng): the analyst's decision when there is one, else the rule."""
    return inc.serious_override if inc.serious_override is not None else serious_by_rule(inc)


def set_sla(inc: Incident, targets: Mapping[str, SlaTargets]) -> None:
    """(Re)compute due times from the creation time and the priority's targets, keeping what was met."""
    t = targets.get(inc.priority)
    if t is None:
        return
    for name in SLA_TARGETS:
        due = inc.created_at + parse_duration(getattr(t, name))
        old = inc.sla.get(name)
        inc.sla[name] = SlaClock(
            due=due,
            met_at=old.met_at if old else None,
            warned_at=old.warned_at if old else None,
            breached_at=old.breached_at if old else None,
        )


def transition(inc: Incident, target: str, *, at: datetime, by: str, reason: str = "") -> None:
    """Move the incident to ``target`` or raise WorkflowError; stamps times, SLA met and the timeline."""
    if target not in STATUSES:
        raise WorkflowError("incident.bad_status", where=inc.id, status=target)
    if target not in TRANSITIONS[inc.status]:
        raise WorkflowError(
            "incident.bad_move",
            where=inc.id,
            current=inc.status,
            target=target,
            allowed=", ".join(TRANSITIONS[inc.status]),
        )
    before = inc.status
    inc.status = target  # type: ignore[assignment]
    if target in _MEETS["acknowledge"] and inc.acknowledged_at is None:
        inc.acknowledged_at = at
    if target in _MEETS["contain"] and inc.contained_at is None:
        inc.contained_at = at
    if target in ("resolved", "false_positive"):
        inc.resolved_at = at
    if target == "closed":
        inc.closed_at = at
    if target in OPEN:  # reopened: the resolution no longer holds
        inc.resolved_at = inc.closed_at = None
    for name in SLA_TARGETS:
        clock = inc.sla.get(name)
        if clock and clock.met_at is None and target in _MEETS[name]:
            clock.met_at = at
            if at > clock.due and clock.breached_at is None:
                clock.breached_at = clock.due  # the target was missed at its due time, not when met
    inc.log(at, by, "status", **{"from": before, "to": target, **({"reason": reason} if reason else {})})


def check_sla(inc: Incident, now: datetime, targets: Mapping[str, SlaTargets], by: str = "canh") -> list[str]:
    """Record SLA warnings and breaches due by ``now``; returns what was newly recorded."""
    recorded = []
    t = targets.get(inc.priority)
    for name in SLA_TARGETS:
        clock = inc.sla.get(name)
        if clock is None or clock.met_at is not None or t is None:
            continue
        total = parse_duration(getattr(t, name))
        # Stamped with when it happened (the due time, the warning threshold), not when this check ran:
        # a check after a quiet night must not make a breach look hours later than it was.
        warn_at = inc.created_at + total * WARN_AT
        if now >= clock.due and clock.breached_at is None:
            clock.breached_at = clock.due
            if clock.warned_at is None:
                clock.warned_at = warn_at
            inc.log(now, by, "sla.breach", target=name, due=clock.due.isoformat())
            recorded.append(f"breach:{name}")
        elif now >= warn_at and clock.warned_at is None and clock.breached_at is None:
            clock.warned_at = warn_at
            inc.log(now, by, "sla.warning", target=name, due=clock.due.isoformat())
            recorded.append(f"warning:{name}")
    return recorded


def breached(inc: Incident) -> list[str]:
    """SLA targets breached so far."""
    return [n for n, c in inc.sla.items() if c.breached_at is not None]


def remaining(inc: Incident, now: datetime) -> dict[str, timedelta]:
    """Time left on each running SLA clock (negative when overdue)."""
    return {n: c.due - now for n, c in inc.sla.items() if c.met_at is None}
