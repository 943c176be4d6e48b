"""Warnings from the national monitoring centre (CSV, JSON or a STIX 2.1 bundle) → an incident whose
indicators are observables, so its handling is tracked like any other incident."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from canh.errors import ConflictError, InputError
from canh.events import parse_ts
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import Incident, norm_level
from canh.incidents.systems import quoted

# STIX object paths → observable types.
_STIX_TYPES = {
    "ipv4-addr:value": "ip",
    "ipv6-addr:value": "ip",
    "domain-name:value": "domain",
    "url:value": "url",
    "email-addr:value": "email",
    "user-account:user_id": "user",
    "user-account:account_login": "user",
}
_COMPARISON = re.compile(r"([a-z0-9-]+):([A-Za-z0-9_.'\-]+)\s*=\s*'((?:[^'\\]|\\.)*)'")
_TYPE_ALIASES = {
    "ipv4": "ip",
    "ipv6": "ip",
    "ip-dst": "ip",
    "ip-src": "ip",
    "hostname": "domain",
    "fqdn": "domain",
    "sha256": "hash",
    "sha1": "hash",
    "md5": "hash",
    "username": "user",
    "account": "user",
}


@dataclass
class NationalWarning:
    """What a warning says: reference, title, severity, indicators (type, value, note), techniques."""

    reference: str
    title: str
    description: str = ""
    severity: str = "high"
    issued: datetime | None = None
    indicators: list[tuple[str, str, str]] = field(default_factory=list)
    techniques: list[str] = field(default_factory=list)


def _norm_type(t: str) -> str:
    t = t.strip().lower()
    return _TYPE_ALIASES.get(t, t)


def parse_stix(bundle: dict[str, Any], source: str) -> NationalWarning:
    """A STIX 2.1 bundle: report/grouping gives the title, indicators' patterns and SCOs the indicators."""
    objects = bundle.get("objects")
    if bundle.get("type") != "bundle" or not isinstance(objects, list):
        raise InputError("warning.not_stix", where=source)
    head: dict[str, Any] = next((o for o in objects if o.get("type") in ("report", "grouping")), {})
    w = NationalWarning(
        reference=str(head.get("id") or bundle.get("id") or source),
        title=str(head.get("name") or "National warning"),
        description=str(head.get("description") or ""),
        issued=parse_ts(head["published"]) if head.get("published") else None,
    )
    for o in objects:
        kind = o.get("type")
        if kind == "indicator":
            for obj, path, value in _COMPARISON.findall(str(o.get("pattern", ""))):
                key = f"{obj}:{path}"
                if key in _STIX_TYPES:
                    w.indicators.append((_STIX_TYPES[key], value, str(o.get("name") or "")))
                elif obj == "file" and path.startswith("hashes."):
                    w.indicators.append(("hash", value, str(o.get("name") or "")))
        elif kind in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr") and o.get("value"):
            w.indicators.append((_STIX_TYPES[f"{kind}:value"], str(o["value"]), ""))
        elif kind == "file":
            for h in (o.get("hashes") or {}).values():
                w.indicators.append(("hash", str(h), str(o.get("name") or "")))
        elif kind == "attack-pattern":
            for ref in o.get("external_references") or []:
                if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
                    w.techniques.append(str(ref["external_id"]).upper())
    return w


def parse_json(data: dict[str, Any], source: str) -> NationalWarning:
    """Our plain JSON form: {reference, title, description, severity, issued, indicators: [{type, value}]}."""
    if data.get("type") == "bundle":
        return parse_stix(data, source)
    inds = []
    for i, ind in enumerate(data.get("indicators") or [], start=1):
        if not isinstance(ind, dict) or not ind.get("value") or not ind.get("type"):
            raise InputError("warning.bad_indicator", where=f"{source}: indicators[{i}]")
        inds.append((_norm_type(str(ind["type"])), str(ind["value"]), str(ind.get("description") or "")))
    return NationalWarning(
        reference=str(data.get("reference") or data.get("id") or source),
        title=str(data.get("title") or source),
        description=str(data.get("description") or ""),
        severity=str(data.get("severity") or "high"),
        issued=parse_ts(data["issued"]) if data.get("issued") else None,
        indicators=inds,
        techniques=[str(x).upper() for x in data.get("techniques") or []],
    )


def parse_csv(text: str, source: str) -> NationalWarning:
    """A CSV of indicators: columns type, value[, description]; the file name is the reference."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "type" not in fields or "value" not in fields:
        raise InputError("warning.csv_columns", where=f"{source}:1")
    reader.fieldnames = fields
    w = NationalWarning(reference=Path(source).stem, title=Path(source).stem)
    for rowno, row in enumerate(reader, start=2):
        if not (row.get("value") or "").strip():
            raise InputError("warning.bad_indicator", where=f"{source}: row {rowno}")
        w.indicators.append(
            (_norm_type(row["type"] or ""), row["value"].strip(), (row.get("description") or ""))
        )
        if row.get("title"):
            w.title = row["title"]
    return w


def read_warning(path: Path) -> NationalWarning:
    """Read a warning file by its extension (.csv, .json; STIX bundles are JSON)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("warning.unreadable", where=str(path), reason=str(exc)) from exc
    if path.suffix.lower() == ".csv":
        return parse_csv(text, path.name)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError("warning.bad_json", where=f"{path.name}:{exc.lineno}", reason=exc.msg) from exc
    if not isinstance(data, dict):
        raise InputError("warning.bad_json", where=path.name, reason="not an object")
    return parse_json(data, path.name)


# Where events and alerts name an indicator of each type (ECS fields).
INDICATOR_FIELDS: dict[str, tuple[str, ...]] = {
    "ip": ("source.ip", "destination.ip", "host.ip"),
    "domain": ("url.domain", "destination.domain", "server.domain", "dns.question.name"),
    "url": ("url.original", "url.full"),
    "hash": ("file.hash.sha256", "file.hash.sha1", "file.hash.md5"),
    "user": ("user.name",),
    "email": ("user.email", "email.from.address"),
}
SAMPLE = 500  # records read per indicator and stream to find the systems they belong to


def indicator_query(type_: str, value: str) -> str | None:
    """The Lucene query finding records that name the indicator (None for a type we do not search)."""
    fields = INDICATOR_FIELDS.get(type_)
    if not fields:
        return None
    return " OR ".join(f"{f}:{quoted(value)}" for f in fields)


@dataclass
class Sightings:
    """Where our data names a warning's indicators: counts, the systems concerned, open incidents."""

    events: dict[str, int] = field(default_factory=dict)  # indicator value → events in the lookback
    alerts: dict[str, int] = field(default_factory=dict)
    systems: set[str] = field(default_factory=set)
    incidents: dict[str, str] = field(default_factory=dict)  # open incident id → the shared indicator


def find_sightings(desk: IncidentDesk, w: NationalWarning, since: datetime, until: datetime) -> Sightings:
    """Search events and alerts for each indicator (through the store), and the open incidents that
    already hold one as an observable or an attacker address."""
    found = Sightings()
    for type_, value, _note in w.indicators:
        q = indicator_query(type_, value)
        if q is None:
            continue
        for stream, counts in (("events", found.events), ("alerts", found.alerts)):
            counts[value] = desk.store.count(stream, q, since=since, until=until)
            if counts[value]:
                for record in desk.store.search(stream, q, since=since, until=until, limit=SAMPLE):
                    found.systems |= desk.index.match(record)
    wanted = {(t, v) for t, v, _ in w.indicators}
    for inc in desk.incidents(open_only=True, limit=100_000):
        shared = [v for t, v in wanted if any((o.type, o.value) == (t, v) for o in inc.observables)]
        shared += [v for t, v in wanted if t == "ip" and v in inc.attacker_ips]
        if shared:
            found.incidents[inc.id] = shared[0]
    return found


def import_warning(
    desk: IncidentDesk, w: NationalWarning, lookback: timedelta = timedelta(days=30)
) -> Incident:
    """Open an incident for the warning, linked to what we already know of its indicators: the systems
    whose events or alerts name them (they set the priority) and the open incidents that share one
    (cross-referenced on both timelines)."""
    if not w.indicators:
        raise InputError("warning.no_indicators", where=w.reference)
    now = desk.clock.now()
    seen = find_sightings(desk, w, now - lookback, now)
    try:
        inc = desk.create(
            f"[NCSC] {w.title}",
            alert_level_=norm_level(w.severity),
            description=w.description,
            source="national-warning",
            systems=sorted(seen.systems),
            seed=f"warning:{w.reference}",
            detected_at=w.issued or now,
        )
    except ConflictError as exc:
        raise InputError("warning.already_imported", where=w.reference) from exc

    def fn(inc: Incident, at: datetime) -> None:
        inc.reports["warning"] = {
            "reference": w.reference,
            "issued": w.issued.isoformat() if w.issued else None,
        }
        for type_, value, _note in w.indicators:
            inc.observe(type_, value, f"warning:{w.reference}", at)
            for stream, counts in (("events", seen.events), ("alerts", seen.alerts)):
                if counts.get(value):
                    inc.observe(type_, value, f"{stream}:{counts[value]}", at)
        for tech in w.techniques:
            if tech not in inc.techniques:
                inc.techniques.append(tech)
        inc.log(
            at,
            desk.actor,
            "warning.imported",
            reference=w.reference,
            indicators=len(w.indicators),
            seen_in_events=sum(1 for n in seen.events.values() if n),
            seen_in_alerts=sum(1 for n in seen.alerts.values() if n),
            systems=", ".join(inc.systems),
        )
        for other, indicator in sorted(seen.incidents.items()):
            inc.related.append(other)
            inc.log(at, desk.actor, "related", incident=other, indicator=indicator)

    inc = desk.change(inc.id, fn, action="warning")
    for other, indicator in sorted(seen.incidents.items()):
        _cross_reference(desk, other, inc.id, indicator, w.reference)
    return inc


def _cross_reference(desk: IncidentDesk, other: str, new_id: str, indicator: str, reference: str) -> None:
    """Note the warning's incident on the open incident that shares an indicator (retried on a race)."""

    def fn(inc: Incident, at: datetime) -> None:
        if new_id not in inc.related:
            inc.related.append(new_id)
            inc.log(at, desk.actor, "related", incident=new_id, indicator=indicator, warning=reference)

    for attempt in range(3):
        try:
            desk.change(other, fn, action="related")
            return
        except ConflictError:
            if attempt == 2:
                raise
