"""Shift handover: what happened in the last shift, for the next team."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from canh.events import get, parse_ts
from canh.i18n import t
from canh.incidents.model import Incident, breached
from canh.incidents.reports import Doc
from canh.store.base import Store

GAP = timedelta(hours=1)  # a source silent this long while it spoke before is a collector gap
GAP_LOOKBACK = timedelta(days=7)


def shift_summary(store: Store, incidents: list[Incident], now: datetime, hours: int) -> dict[str, Any]:
    """New, open, breached and closed incidents, alert volume and silent sources in ``[now-hours, now)``."""
    since = now - timedelta(hours=hours)

    def in_shift(ts: datetime | None) -> bool:
        return ts is not None and since <= ts < now

    def brief(i: Incident) -> dict[str, Any]:
        return {
            "id": i.id,
            "title": i.title,
            "priority": i.priority,
            "status": i.status,
            "assignee": i.assignee,
            "systems": i.systems,
            "breached": breached(i),
        }

    store.refresh()
    # Alerts raised during the shift (when they were raised, not when their events happened: a
    # backfill of last week's logs during the night shift is the night shift's work).
    raised: Counter[str] = Counter()
    for a in store.scan("alerts", since=since, until=now, time_field="event.ingested"):
        raised[str(get(a, "rule.name") or get(a, "rule.id") or "?")] += 1
    alerts = sum(raised.values())
    by_rule = [
        {"rule": rule, "count": n} for rule, n in sorted(raised.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    gaps = []
    # A host that spoke in the last week and has been silent for an hour or more is a gap; a day's
    # lookback would forget a sensor that died two days ago.
    lookback = now - GAP_LOOKBACK
    for b in store.terms("events", "host.name", since=lookback, until=now, size=500):
        last = store.search("events", f'host.name:"{b.key}"', since=lookback, until=now, limit=1)
        if not last:
            continue
        seen = parse_ts(get(last[0], "@timestamp"))
        if now - seen >= GAP:
            gaps.append(
                {
                    "host": b.key,
                    "last_event": seen.isoformat(),
                    "silent_for_minutes": int((now - seen).total_seconds() // 60),
                }
            )
    return {
        "from": since.isoformat(),
        "to": now.isoformat(),
        "new": [brief(i) for i in incidents if in_shift(i.created_at)],
        "open": [brief(i) for i in incidents if i.is_open],
        "breached": [brief(i) for i in incidents if i.is_open and breached(i)],
        "closed": [
            brief(i)
            for i in incidents
            if in_shift(i.closed_at) or (i.status == "false_positive" and in_shift(i.resolved_at))
        ],
        "alerts": alerts,
        "alerts_by_rule": by_rule,
        "collector_gaps": gaps,
    }


def shift_doc(data: dict[str, Any], lang: str, zone: tzinfo = UTC) -> Doc:
    """The handover as blocks in ``lang``, times in ``zone``."""
    d = Doc("", zone=zone)
    d.title = t("shift.title", lang=lang, start=d._cell(data["from"]), end=d._cell(data["to"]))
    d.p(
        t(
            "shift.summary",
            lang=lang,
            new=len(data["new"]),
            open=len(data["open"]),
            breached=len(data["breached"]),
            closed=len(data["closed"]),
            alerts=data["alerts"],
        )
    )
    heads = [
        "ID",
        t("incident.col.priority", lang=lang),
        t("incident.col.status", lang=lang),
        t("incident.col.title", lang=lang),
        t("incident.col.assignee", lang=lang),
        "SLA",
    ]
    for key in ("breached", "open", "new", "closed"):
        d.h2(t(f"shift.{key}", lang=lang))
        d.table(
            heads,
            [
                (i["id"], i["priority"], i["status"], i["title"], i["assignee"], ", ".join(i["breached"]))
                for i in data[key]
            ],
        )
    d.h2(t("shift.alerts", lang=lang))
    d.table(
        [t("incident.col.title", lang=lang), t("incident.col.alerts", lang=lang)],
        [(r["rule"], r["count"]) for r in data["alerts_by_rule"]],
    )
    d.h2(t("shift.gaps", lang=lang))
    d.table(
        [t("shift.host", lang=lang), t("shift.last_event", lang=lang), t("shift.silent", lang=lang)],
        [(g["host"], g["last_event"], g["silent_for_minutes"]) for g in data["collector_gaps"]],
    )
    return d
