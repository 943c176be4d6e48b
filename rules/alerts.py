"""Alerts from engine matches: the document shape the scheduled detection already writes, plus what a
streaming engine knows (all matched events, first/last time, dedup key, suppression counts).

The alert id depends only on the rule and the matched event ids (``alert_id`` of the scheduled path for
one event), so re-processing the same events never doubles an alert. The Detection Rule License of
the SigmaHQ rules requires that what we emit keeps the rule's author and a link to the rule; both are
in ``rule.author`` and ``rule.reference``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from canh.events import format_ts, get, parse_ts
from canh.rules.engine import EngineRule, Match, attack_ids
from canh.store.scheduled import alert_id

KEY_FIELDS = ("host", "source", "destination", "user", "process", "url", "file", "registry", "dns")
SIGMAHQ_BLOB = "https://github.com/SigmaHQ/sigma/blob/master/"
DRL_FILE = "LICENSE.Detection.Rules.md"


def alert_id_for(rule_id: str, event_ids: Sequence[str]) -> str:
    """Deterministic: the same rule over the same events always gives the same id."""
    return alert_id(rule_id, "\x00".join(event_ids))


@lru_cache(maxsize=4096)
def _license_root(folder: str) -> Path | None:
    p = Path(folder)
    for parent in (p, *p.parents):
        if (parent / DRL_FILE).is_file():
            return parent
    return None


def rule_link(path: str | None) -> tuple[str | None, str | None]:
    """(link to the rule, licence) for a rule file: SigmaHQ rules link to the upstream file (DRL 1.1)."""
    if not path:
        return None, None
    p = Path(path)
    root = _license_root(str(p.parent))
    if root is not None:
        return SIGMAHQ_BLOB + p.relative_to(root).as_posix(), "DRL-1.1"
    pack = Path(__file__).parent / "pack"
    try:
        return "canh:rules/pack/" + p.resolve().relative_to(pack.resolve()).as_posix(), None
    except ValueError:
        return p.resolve().as_uri(), None


def rule_fields(meta: Any) -> dict[str, Any]:
    """The ``rule`` object of an alert from an EngineRule or a correlation rule."""
    path = getattr(meta, "path", None)
    link, licence = rule_link(path)
    out = {
        "id": meta.id,
        "name": meta.title,
        "level": meta.level,
        "status": meta.status,
        "author": meta.author,
        "description": meta.description,
        "reference": link,
        "references": list(meta.references),
        "license": licence,
        "ruleset": "sigma",
    }
    return {k: v for k, v in out.items() if v not in (None, "", [])}


@dataclass
class RuleMeta:
    """What an alert needs to know about a rule (a base rule or a correlation)."""

    id: str
    title: str
    level: str
    status: str = ""
    author: str = ""
    description: str = ""
    references: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    path: str | None = None
    group_by: list[str] = field(default_factory=list)


def meta_of_correlation(rule: Any) -> RuleMeta:
    """RuleMeta of a pySigma SigmaCorrelationRule."""
    return RuleMeta(
        id=str(rule.id) if rule.id else (rule.name or rule.title),
        title=rule.title,
        level=str(rule.level.name).lower() if rule.level else "medium",
        status=str(rule.status.name).lower() if rule.status else "",
        author=rule.author or "",
        description=rule.description or "",
        references=list(rule.references or []),
        tags=[str(t) for t in rule.tags or []],
        path=str(rule.source.path) if rule.source and rule.source.path else None,
        group_by=list(rule.group_by or []),
    )


def _event_ts(event: Mapping[str, Any], now: datetime) -> datetime:
    value = get(event, "@timestamp")
    try:
        return parse_ts(value) if value is not None else now
    except (TypeError, ValueError):
        return now


def build_alert(
    meta: EngineRule | RuleMeta,
    event: Mapping[str, Any],
    event_ids: Sequence[str],
    first: datetime,
    last: datetime,
    now: datetime,
    *,
    mode: str = "stream",
    group: Mapping[str, Any] | None = None,
    value: int | None = None,
) -> dict[str, Any]:
    """One alert document."""
    ev = event.get("event") if isinstance(event.get("event"), Mapping) else {}
    rid = meta.id
    alert: dict[str, Any] = {
        "id": alert_id_for(rid, event_ids),
        "@timestamp": format_ts(first),
        "event": {
            "kind": "signal",
            "severity_label": meta.level,
            "ingested": format_ts(now),
            "start": format_ts(first),
            "end": format_ts(last),
        },
        "rule": rule_fields(meta),
        "related": {"event_ids": list(event_ids)},
        "detection": {"mode": mode},
        "canh": {"event_ids": list(event_ids), "events_count": len(event_ids)},
    }
    if meta.tags:
        alert["tags"] = list(meta.tags)
    techniques = attack_ids(meta.tags)
    if techniques:
        alert["threat"] = {"framework": "MITRE ATT&CK", "technique": {"id": techniques}}
    if ev and ev.get("dataset"):
        alert["event"]["dataset"] = ev["dataset"]
    for key in KEY_FIELDS:
        if isinstance(event.get(key), Mapping):
            alert[key] = event[key]
    if group:
        alert["canh"]["group"] = dict(group)
        for k, v in group.items():
            if "." in k and get(alert, k) is None and v is not None:
                node = alert
                *parents, leaf = k.split(".")
                for part in parents:
                    node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
                node[leaf] = v
    if value is not None:
        alert["canh"]["value"] = value
    alert["canh"]["dedup_key"] = dedup_key(rid, group, event)
    return alert


def dedup_key(rule_id: str, group: Mapping[str, Any] | None, event: Mapping[str, Any]) -> str:
    """Rule + group-by values for correlations, rule + host for single-event rules."""
    if group:
        return rule_id + "|" + "|".join(f"{k}={group[k]}" for k in sorted(group))
    return f"{rule_id}|host={get(event, 'host.name') or ''}"


SUPPRESSED_IDS = 100  # event ids of suppressed matches kept on an alert (the count has them all)


@dataclass
class _Open:
    alert_id: str
    since: datetime
    suppressed: int = 0
    events: int = 0  # event ids of the suppressed matches (a correlation hit has several)
    event_ids: list[str] = field(default_factory=list)

    def add(self, ids: Sequence[str]) -> None:
        self.suppressed += 1
        self.events += len(ids)
        room = SUPPRESSED_IDS - len(self.event_ids)
        if room > 0:
            self.event_ids.extend(ids[:room])


class AlertMaker:
    """Turns matches into alerts, applying the per-rule suppression window.

    Within ``suppress`` of an alert, further matches with the same dedup key raise no new alert: the
    first alert's ``canh.suppressed`` count and ``event.end`` grow instead, and the suppressed matches'
    event ids are kept on it (``canh.suppressed_event_ids``, the first 100; ``canh.suppressed_events``
    counts them all), so nothing is hidden.
    """

    def __init__(self, suppress: timedelta = timedelta(minutes=10)) -> None:
        self.suppress = suppress
        self._open: dict[str, _Open] = {}
        self._corr_meta: dict[int, RuleMeta] = {}
        self.suppressed_total = 0

    def correlation_meta(self, spec: Any) -> RuleMeta:
        key = id(spec)
        meta = self._corr_meta.get(key)
        if meta is None:
            sigma = getattr(spec, "rule", None) or getattr(spec, "sigma", None)
            if sigma is not None:
                meta = meta_of_correlation(sigma)
            else:
                meta = RuleMeta(
                    id=str(getattr(spec, "id", "") or getattr(spec, "name", "")),
                    title=str(getattr(spec, "title", "") or getattr(spec, "name", "")),
                    level=str(getattr(spec, "level", "medium") or "medium"),
                    tags=list(getattr(spec, "tags", []) or []),
                )
            self._corr_meta[key] = meta
        return meta

    def alerts(
        self, matches: Sequence[Match], now: datetime
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """New alerts, and updates for suppressed ones (alert id -> fields to set)."""
        out: list[dict[str, Any]] = []
        updates: dict[str, dict[str, Any]] = {}
        for m in matches:
            if m.hit is not None:
                hit = m.hit
                meta: EngineRule | RuleMeta = self.correlation_meta(hit.spec)
                alert = build_alert(
                    meta, m.event, [str(e) for e in hit.event_ids], hit.first, hit.last, now,
                    mode="correlation", group=hit.group, value=hit.value,
                )  # fmt: skip
                ts = hit.last
            else:
                rule = m.rule
                if not rule.alert:
                    continue
                eid = str(get(m.event, "event.id") or "")
                ts = _event_ts(m.event, now)
                alert = build_alert(rule, m.event, [eid], ts, ts, now)
            key = alert["canh"]["dedup_key"]
            held = self._open.get(key)
            if (
                held is not None
                and held.alert_id != alert["id"]
                and timedelta(0) <= ts - held.since < self.suppress
            ):
                held.add(alert["canh"]["event_ids"])
                self.suppressed_total += 1
                updates[held.alert_id] = {
                    "canh.suppressed": held.suppressed,
                    "canh.suppressed_events": held.events,
                    "canh.suppressed_event_ids": list(held.event_ids),
                    "event.end": format_ts(ts),
                }
                continue
            self._open[key] = _Open(alert["id"], ts)
            out.append(alert)
        return out, updates
