"""The incident desk: incidents in the store with optimistic concurrency, alerts grouped into them.

Every change is read → changed → written with the version that was read; when someone else wrote in
between, the loser gets a ConflictError carrying the fresh incident (nothing is silently overwritten).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from pydantic import ValidationError

from canh.clock import Clock, parse_duration
from canh.config import IncidentsConfig
from canh.errors import ConflictError, InputError, NotFoundError, WorkflowError
from canh.events import get, local_zone
from canh.incidents.audit import audit_entry, diff, write_audit
from canh.incidents.grouping import GroupIndex, alert_level, alert_time, attacker_ip, group_keys
from canh.incidents.model import (
    ALERT_LEVELS,
    OPEN,
    PRIORITIES,
    Comment,
    Incident,
    Task,
    check_sla,
    is_serious,
    norm_level,
    priority_for,
    set_sla,
    transition,
    valid_category,
    valid_level,
    valid_technique,
)
from canh.incidents.register import AssetIndex, System
from canh.store.base import NEW, Store, Versioned

_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
# ATT&CK tags → the national portal's incident categories (first match wins).
_CATEGORY_HINTS = (
    (("t1486",), "ransomware"),
    (("t1491",), "defacement"),
    (("t1498", "t1499", "impact.dos"), "dos"),
    (("t1566", "phishing"), "phishing"),
    (("t1485",), "destruction"),
    (("exfiltration", "collection", "t1041", "t1005"), "espionage"),
    (("t1505.003", "webshell", "malware", "t1204"), "malware"),
    (
        (
            "initial_access",
            "credential_access",
            "privilege_escalation",
            "persistence",
            "t1110",
            "t1190",
            "t1078",
            "t1136",
        ),
        "intrusion",
    ),
)


def incident_id(seed: str, at: datetime, zone: tzinfo | None = None) -> str:
    """A readable id: INC-<yyyymmdd>-<6 hex>, derived from a seed so a retry makes the same id.

    The date is the SOC's (``zone``): an alert at 05:00 in Hà Nội is that day's, not the UTC eve's.
    """
    day = at.astimezone(zone) if zone is not None else at
    return f"INC-{day:%Y%m%d}-{hashlib.blake2b(seed.encode(), digest_size=3).hexdigest().upper()}"


class IncidentDesk:
    """Create, change and list incidents; group alerts into open incidents."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: IncidentsConfig | None = None,
        *,
        actor: str = "canh",
        systems: Iterable[System] = (),
        zone: tzinfo | str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self.store = store
        self.zone = local_zone(zone) if isinstance(zone, str) else zone
        self.clock = clock
        self.config = config or IncidentsConfig()
        self.actor = actor
        self.systems = {s.code: s for s in systems}
        self.index = AssetIndex(self.systems.values())

    # -- reading ---------------------------------------------------------------------------------
    def get(self, inc_id: str) -> tuple[Incident, Versioned]:
        v = self.store.get_doc("incidents", inc_id)
        if v is None:
            raise NotFoundError("incident.not_found", where=inc_id)
        return _load(v), v

    def incidents(self, query: str = "*", *, open_only: bool = False, limit: int = 1000) -> list[Incident]:
        return [inc for inc, _ in self.listing(query, open_only=open_only, limit=limit)]

    def listing(
        self, query: str = "*", *, open_only: bool = False, limit: int = 1000
    ) -> list[tuple[Incident, int]]:
        """Incidents with the version each was read at, for changes made later on what was shown."""
        self.store.refresh()
        if open_only:  # let the store filter (Elasticsearch does it server-side)
            wanted = " OR ".join(sorted(OPEN))
            query = f"status:({wanted})" if query == "*" else f"({query}) AND status:({wanted})"
        out = [
            (_load(v), v.version)
            for v in self.store.find_docs("incidents", query, limit=100_000, sort="-created_at")
        ]
        if open_only:
            out = [(i, ver) for i, ver in out if i.is_open]
        return out[:limit]

    # -- writing ---------------------------------------------------------------------------------
    def _write(self, inc: Incident, expect: Versioned | None, action: str) -> Versioned:
        doc = inc.doc()
        try:
            v = self.store.put_doc("incidents", inc.id, doc, expect=expect if expect is not None else NEW)
        except ConflictError as exc:
            cur = (
                exc.current if isinstance(exc.current, Versioned) else self.store.get_doc("incidents", inc.id)
            )
            raise _conflict(inc.id, cur) from exc
        write_audit(
            self.store,
            audit_entry(
                "incidents",
                inc.id,
                action,
                self.actor,
                self.clock.now(),
                _audit_diff(expect.doc if expect else None, doc),
                v.version,
            ),
        )
        return v

    def change(
        self,
        inc_id: str,
        fn: Callable[[Incident, datetime], None],
        *,
        expect: Versioned | int | None = None,
        action: str = "update",
    ) -> Incident:
        """Apply ``fn`` to the incident and write it back with the version read (or ``expect``).

        ``expect`` as an int is the version the user saw (``--expect-version``): if the incident moved
        on since, the change is refused with the fresh state.
        """
        inc, v = self.get(inc_id)
        if isinstance(expect, int) and expect != v.version:
            raise _conflict(inc_id, v)
        base = expect if isinstance(expect, Versioned) else v
        if base is not v:
            inc = _load(base)
        fn(inc, self.clock.now())
        inc.updated_at = self.clock.now()
        self._write(inc, base, action)
        return inc

    def create(
        self,
        title: str,
        *,
        alert_level_: str = "medium",
        description: str = "",
        category: str = "other",
        source: str = "manual",
        systems: Sequence[str] = (),
        detected_at: datetime | None = None,
        seed: str | None = None,
        priority: str | None = None,
    ) -> Incident:
        """Open an incident by hand (or from a national warning)."""
        now = self.clock.now()
        for code in systems:
            if code not in self.systems:
                raise InputError("incident.unknown_system", where=code)
        level, category = valid_level(alert_level_), valid_category(category)
        inc = Incident(
            id=incident_id(seed or uuid.uuid4().hex, now, self.zone),
            title=title,
            created_at=now,
            created_by=self.actor,
            detected_at=detected_at or now,
            updated_at=now,
            alert_level=level,
            description=description,
            category=category,
            source=source,
            systems=sorted(set(systems)),
        )
        inc.max_level = self._max_level(inc.systems)
        if priority:
            _check_priority(priority)
            inc.priority, inc.priority_manual = priority, True
        else:
            inc.priority = priority_for(inc.alert_level, inc.max_level)
        set_sla(inc, self.config.sla)
        inc.log(now, self.actor, "created", title=title, priority=inc.priority, source=source)
        self._write(inc, None, "create")
        return inc

    # -- the analyst's verbs ---------------------------------------------------------------------
    def move(
        self, inc_id: str, status: str, *, reason: str = "", expect: Versioned | int | None = None
    ) -> Incident:
        def fn(inc: Incident, now: datetime) -> None:
            # Closing implies the steps before it (acknowledged, resolved): each is recorded.
            path = _path(inc.status, status) if status == "closed" else [status]
            for step in path or [status]:
                transition(inc, step, at=now, by=self.actor, reason=reason)
            if status in ("resolved", "closed", "false_positive") and reason:
                inc.resolution = reason

        return self.change(inc_id, fn, expect=expect, action=f"status.{status}")

    def assign(
        self, inc_id: str, assignee: str = "", team: str = "", *, expect: Versioned | int | None = None
    ) -> Incident:
        def fn(inc: Incident, now: datetime) -> None:
            old = (inc.assignee, inc.team)
            inc.assignee = assignee or inc.assignee
            inc.team = team or inc.team
            inc.log(
                now, self.actor, "assigned", **{"from": "/".join(old), "to": f"{inc.assignee}/{inc.team}"}
            )

        return self.change(inc_id, fn, expect=expect, action="assign")

    def comment(self, inc_id: str, text: str, *, expect: Versioned | int | None = None) -> Incident:
        if not text.strip():
            raise InputError("incident.empty_comment", where=inc_id)

        def fn(inc: Incident, now: datetime) -> None:
            inc.comments.append(Comment(at=now, by=self.actor, text=text))
            inc.log(now, self.actor, "comment", text=text)

        return self.change(inc_id, fn, expect=expect, action="comment")

    def update(self, inc_id: str, *, expect: Versioned | int | None = None, **fields: Any) -> Incident:
        """Set plain fields (title, description, category, priority, techniques, tasks, observables)."""

        def fn(inc: Incident, now: datetime) -> None:
            for key, value in fields.items():
                if value is None:
                    continue
                if key == "priority":
                    _check_priority(value)
                    old = inc.priority
                    inc.priority, inc.priority_manual = value, True
                    set_sla(inc, self.config.sla)
                    inc.log(now, self.actor, "priority", **{"from": old, "to": value})
                elif key == "technique":
                    tech = valid_technique(value, where=inc_id)
                    if tech not in inc.techniques:
                        inc.techniques.append(tech)
                        inc.log(now, self.actor, "technique", id=tech)
                elif key == "task":
                    title, owner, due = value
                    task = Task(
                        id=len(inc.tasks) + 1,
                        title=title,
                        owner=owner or "",
                        due=now + parse_duration(due) if due else None,
                    )
                    inc.tasks.append(task)
                    inc.log(now, self.actor, "task", id=task.id, title=title, owner=owner or "")
                elif key == "task_done":
                    for t in inc.tasks:
                        if t.id == int(value):
                            t.done = True
                            inc.log(now, self.actor, "task.done", id=t.id)
                            break
                    else:
                        raise InputError("incident.no_task", where=inc_id, task=value)
                elif key == "observable":
                    type_, val = value
                    inc.observe(type_, val, "manual", now)
                    inc.log(now, self.actor, "observable", type=type_, value=val)
                elif key == "system":
                    if value not in self.systems:
                        raise InputError("incident.unknown_system", where=value)
                    if value not in inc.systems:
                        inc.systems.append(value)
                        self._reprioritise(inc)
                        inc.log(now, self.actor, "system", code=value)
                elif key == "serious":
                    self._set_serious(inc, now, *value)
                elif key in ("title", "description", "category"):
                    if key == "category":
                        value = valid_category(value, where=inc_id)
                    old = getattr(inc, key)
                    try:
                        setattr(inc, key, value)
                    except ValidationError as exc:
                        raise InputError("incident.bad_field", where=inc_id, field=key) from exc
                    inc.log(now, self.actor, key, **{"from": old, "to": value})
                else:
                    raise InputError("incident.bad_field", where=inc_id, field=key)

        return self.change(inc_id, fn, expect=expect)

    def _set_serious(self, inc: Incident, now: datetime, serious: bool | None, reason: str) -> None:
        """The analyst's say on "serious" (None hands it back to the rule); it needs a reason."""
        if serious is not None and not reason.strip():
            raise InputError("incident.serious_reason", where=inc.id)
        before = is_serious(inc)
        inc.serious_override, inc.serious_reason = serious, reason if serious is not None else ""
        inc.log(
            now,
            self.actor,
            "serious",
            **{"from": before, "to": is_serious(inc), "by_analyst": serious is not None, "reason": reason},
        )

    def escalate(
        self,
        inc_id: str,
        priority: str | None = None,
        *,
        reason: str = "",
        expect: Versioned | int | None = None,
    ) -> Incident:
        """Raise the priority one step (or to ``priority``) and keep it against automatic changes."""

        def fn(inc: Incident, now: datetime) -> None:
            target = priority or PRIORITIES[max(0, PRIORITIES.index(inc.priority) - 1)]
            _check_priority(target)
            old = inc.priority
            inc.priority, inc.priority_manual = target, True
            set_sla(inc, self.config.sla)
            inc.log(now, self.actor, "escalated", **{"from": old, "to": target, "reason": reason})

        return self.change(inc_id, fn, expect=expect, action="escalate")

    def record_report(self, inc_id: str, kind: str, number: str) -> Incident:
        """Note that a report (initial/final) was sent, with its number and date (the final one cites it)."""

        def fn(inc: Incident, now: datetime) -> None:
            inc.reports[kind] = {"number": number, "date": now.date().isoformat(), "by": self.actor}
            inc.log(now, self.actor, f"report.{kind}", number=number)

        return self.change(inc_id, fn, action=f"report.{kind}")

    def attach(self, inc_id: str, alert_ids: Sequence[str]) -> Incident:
        """Link alerts to the incident by hand (they leave any other incident they were in)."""
        alerts = self.store.get_records("alerts", list(alert_ids))
        missing = set(alert_ids) - {a["id"] for a in alerts}
        if missing:
            raise NotFoundError("incident.alert_not_found", where=", ".join(sorted(missing)))

        def fn(inc: Incident, now: datetime) -> None:
            for a in alerts:
                self._absorb(inc, a, now, manual=True)

        inc = self.change(inc_id, fn, action="attach")
        self.store.update_alerts([a["id"] for a in alerts], {"canh.incident.id": inc.id})
        return inc

    def detach(self, inc_id: str, alert_ids: Sequence[str]) -> Incident:
        def fn(inc: Incident, now: datetime) -> None:
            for aid in alert_ids:
                if aid in inc.alerts:
                    inc.alerts.remove(aid)
                    inc.log(now, self.actor, "alert.detached", alert=aid)

        inc = self.change(inc_id, fn, action="detach")
        self.store.update_alerts(list(alert_ids), {"canh.incident.id": None})
        return inc

    # -- alerts → incidents ----------------------------------------------------------------------
    def group_alerts(self, alerts: Iterable[Mapping[str, Any]], *, retries: int = 5) -> dict[str, list[str]]:
        """Attach each alert to the open incident it belongs to, or open one; returns incident → alert ids.

        Alerts already linked to an incident are left where they are.
        """
        window = parse_duration(self.config.group_window)
        todo = sorted((a for a in alerts if not get(a, "canh.incident.id")), key=alert_time)
        linked: dict[str, list[str]] = {}
        for attempt in range(retries):
            open_incs = {i.id: i for i in self.incidents(open_only=True)}
            versions = {i: self.store.get_doc("incidents", i) for i in open_incs}
            touched: dict[str, Incident] = {}
            new_ids: set[str] = set()
            assigned: dict[str, list[str]] = {}
            now = self.clock.now()
            index = GroupIndex(open_incs.values())
            already = {aid for i in open_incs.values() for aid in i.alerts}
            for a in todo:
                if a["id"] in already:
                    continue
                inc = index.find(a, window)
                if inc is None:
                    inc = self._new_from_alert(a, now)
                    open_incs[inc.id] = inc
                    new_ids.add(inc.id)
                self._absorb(inc, a, now)
                already.add(a["id"])
                index.add(inc, group_keys(a))
                touched[inc.id] = inc
                assigned.setdefault(inc.id, []).append(a["id"])
            try:
                for iid, inc in touched.items():
                    set_sla(inc, self.config.sla)
                    self._write(inc, None if iid in new_ids else versions[iid], "group")
                    self.store.update_alerts(assigned[iid], {"canh.incident.id": iid})
                    linked.setdefault(iid, []).extend(assigned[iid])
                    done = set(assigned[iid])
                    todo = [a for a in todo if a["id"] not in done]
                return linked
            except ConflictError:
                if attempt == retries - 1:
                    raise
                continue  # another analyst or worker wrote first: re-read and group the rest again
        return linked

    def check_slas(self) -> dict[str, list[str]]:
        """Record warnings and breaches on every open incident; returns what was recorded per incident."""
        out: dict[str, list[str]] = {}
        for inc in self.incidents(open_only=True):
            probe = inc.model_copy(deep=True)
            if not check_sla(probe, self.clock.now(), self.config.sla, self.actor):
                continue
            recorded: list[str] = []

            def fn(i: Incident, now: datetime, rec: list[str] = recorded) -> None:
                rec.extend(check_sla(i, now, self.config.sla, self.actor))

            try:
                self.change(inc.id, fn, action="sla")
            except ConflictError:
                continue  # someone is working on it; the next check records it
            out[inc.id] = recorded
        return out

    # -- internals -------------------------------------------------------------------------------
    def _new_from_alert(self, alert: Mapping[str, Any], now: datetime) -> Incident:
        title = str(get(alert, "rule.name") or get(alert, "rule.title") or get(alert, "rule.id") or "alert")
        host = get(alert, "host.name")
        ip = attacker_ip(alert)
        suffix = f" — {host}" if host else f" — {ip}" if ip else ""
        inc = Incident(
            id=incident_id(str(alert["id"]), alert_time(alert), self.zone),
            title=title + suffix,
            created_at=now,
            created_by=self.actor,
            detected_at=alert_time(alert),
            updated_at=now,
            source="alerts",
            alert_level=norm_level(alert_level(alert)),
        )
        inc.log(now, self.actor, "created", title=inc.title, source="alerts", alert=alert["id"])
        return inc

    def _absorb(self, inc: Incident, alert: Mapping[str, Any], now: datetime, manual: bool = False) -> None:
        aid = str(alert["id"])
        if aid in inc.alerts:
            return
        inc.alerts.append(aid)
        when = alert_time(alert)
        inc.detected_at = min(inc.detected_at, when)
        inc.last_alert_at = max(inc.last_alert_at or when, when)
        for k in group_keys(alert):
            if k not in inc.groups:
                inc.groups.append(k)
        rule = get(alert, "rule.id")
        if rule and rule not in inc.rules:
            inc.rules.append(str(rule))
        host = get(alert, "host.name")
        if host and host not in inc.hosts:
            inc.hosts.append(str(host))
        ip = attacker_ip(alert)
        if ip and ip not in inc.attacker_ips:
            inc.attacker_ips.append(ip)
        level = norm_level(alert_level(alert))
        if ALERT_LEVELS.index(level) > ALERT_LEVELS.index(inc.alert_level):
            inc.alert_level = level
            if inc.source == "alerts" and len(inc.alerts) > 1:
                # The most severe alert names the incident (a web shell, not the scan that preceded it).
                name = str(get(alert, "rule.name") or rule or inc.title)
                where = host or attacker_ip(alert)
                old_title, inc.title = inc.title, name + (f" — {where}" if where else "")
                inc.log(now, self.actor, "title", **{"from": old_title, "to": inc.title, "auto": True})
        for code in sorted(self.index.match(alert)):
            if code not in inc.systems:
                inc.systems.append(code)
        seen = f"alert:{aid}"
        for type_, field in (
            ("ip", "source.ip"),
            ("ip", "destination.ip"),
            ("user", "user.name"),
            ("domain", "url.domain"),
            ("url", "url.original"),
            ("hash", "file.hash.sha256"),
            ("host", "host.name"),
        ):
            v = get(alert, field)
            if v and not (field == "destination.ip" and self.index.by_ip(str(v))):
                inc.observe(type_, str(v), seen, when)
        tags = [str(t).lower() for t in (alert.get("tags") or [])]
        for tag in tags:
            m = _TECHNIQUE.match(tag)
            if m and m.group(1).upper() not in inc.techniques:
                inc.techniques.append(m.group(1).upper())
        if inc.category == "other":
            inc.category = _category(tags)
        self._reprioritise(inc)
        inc.log(now, self.actor, "alert.linked", alert=aid, rule=str(rule or ""), manual=manual)

    def _max_level(self, codes: Iterable[str]) -> int | None:
        levels = [self.systems[c].level for c in codes if c in self.systems and self.systems[c].level]
        return max((lv for lv in levels if lv), default=None)

    def _reprioritise(self, inc: Incident) -> None:
        inc.max_level = self._max_level(inc.systems)
        if inc.priority_manual:
            return
        new = priority_for(inc.alert_level, inc.max_level)
        if new != inc.priority:
            old = inc.priority
            inc.priority = new
            set_sla(inc, self.config.sla)
            if inc.timeline:
                inc.log(self.clock.now(), self.actor, "priority", **{"from": old, "to": new, "auto": True})


def _path(current: str, target: str) -> list[str]:
    """Shortest chain of allowed moves from ``current`` to ``target`` (empty when there is none)."""
    from canh.incidents.model import TRANSITIONS

    frontier: list[list[str]] = [[current]]
    seen = {current}
    while frontier:
        chain = frontier.pop(0)
        for nxt in TRANSITIONS[chain[-1]]:
            if nxt == target:
                return [*chain[1:], nxt]
            if nxt not in seen and nxt != "false_positive":
                seen.add(nxt)
                frontier.append([*chain, nxt])
    return []


def _category(tags: Sequence[str]) -> str:
    for hints, cat in _CATEGORY_HINTS:
        if any(h in t for t in tags for h in hints):
            return cat
    return "other"


def _check_priority(p: str) -> None:
    if p not in PRIORITIES:
        raise InputError("incident.bad_priority", where=p, allowed=", ".join(PRIORITIES))


def _load(v: Versioned) -> Incident:
    try:
        return Incident.model_validate(v.doc)
    except ValidationError as exc:
        raise InputError("incident.corrupt", where=v.id, reason=str(exc.errors()[0]["msg"])) from exc


def _audit_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    # The timeline is the incident's own history; the audit keeps the entries added by this write.
    d = diff(
        {k: v for k, v in (before or {}).items() if k != "timeline"},
        {k: v for k, v in after.items() if k != "timeline"},
    )
    added = len(after.get("timeline", [])) - len((before or {}).get("timeline", []))
    if added > 0:
        d["timeline"] = [None, after["timeline"][-added:]]
    return d


def _conflict(inc_id: str, current: Versioned | None) -> ConflictError:
    last = current.doc.get("timeline", [{}])[-1] if current and current.doc.get("timeline") else {}
    return ConflictError(
        "incident.conflict",
        where=inc_id,
        current=current,
        version=current.version if current else "?",
        by=last.get("by", "?"),
        action=last.get("action", "?"),
    )


__all__ = ["OPEN", "IncidentDesk", "WorkflowError", "incident_id"]
