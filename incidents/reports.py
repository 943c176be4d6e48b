"""Reports: the incident report to the national coordinating body (initial, final) and the register
compliance report, as data (JSON) and as a block document that Markdown and PDF renderers share."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from canh.config import IncidentsConfig
from canh.i18n import catalog, t
from canh.incidents.model import Incident, is_serious, serious_by_rule
from canh.incidents.register import (
    System,
    dossier_deadlines,
    independent_inspection_ok,
    is_overdue,
    next_inspection_due,
    url_host,
)
from canh.incidents.regulation import APPROVED_STATUSES, CATEGORIES, DOSSIER_STATUSES, rules_for, term
from canh.incidents.timeline import action_name
from canh.timefmt import zone_label


@dataclass
class Doc:
    """A report as blocks: ("h1"|"h2"|"p", text), ("kv", [(label, value)]), ("table", headers, rows).

    Times are written in ``zone`` (the SOC's own, from canh.yml), with the offset named.
    """

    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    zone: tzinfo = UTC

    def _cell(self, v: Any) -> str:
        return _cell(v, self.zone)

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def kv(self, pairs: Sequence[tuple[str, Any]]) -> None:
        self.blocks.append(("kv", [(k, self._cell(v)) for k, v in pairs]))

    def table(
        self, headers: Sequence[str], rows: Iterable[Sequence[Any]], widths: Sequence[float] | None = None
    ) -> None:
        """A table; ``widths`` are relative column widths for the PDF (default: the 2nd column is widest)."""
        self.blocks.append(("table", list(headers), [[self._cell(c) for c in r] for r in rows], widths))


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _cell(v: Any, zone: tzinfo = UTC) -> str:
    if isinstance(v, str) and _ISO.match(v):
        v = datetime.fromisoformat(v.replace("Z", "+00:00"))
    if v is None:
        return ""
    if isinstance(v, bool):
        return "✓" if v else "×"  # both drawn by the packaged font (it has no ✗)
    if isinstance(v, datetime):
        local = v.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} ({zone_label(zone, v)})"
    if isinstance(v, list | tuple):
        return ", ".join(_cell(x, zone) for x in v)
    return str(v)


def _l(key: str, lang: str) -> str:
    return t(f"report.{key}", lang=lang)


def _term(group: str, key: str, lang: str) -> str:
    """A coded value (a measure, a service, a timeline action) in ``lang``; unknown codes as they are."""
    name = f"report.{group}.{key}"
    return t(name, lang=lang) if name in catalog() else key


# -- incident report to the national coordinating body -------------------------------------------


def report_deadlines(inc: Incident, regime: str) -> dict[str, datetime | None]:
    """Initial, detailed (ND331 serious) and closing report deadlines computed from detection time."""
    rules = rules_for(regime)
    serious = is_serious(inc)
    end = inc.resolved_at or inc.closed_at
    return {
        "initial": inc.detected_at + (rules.initial_report_serious if serious else rules.initial_report),
        "detail": inc.detected_at + rules.detail_report_serious
        if serious and rules.detail_report_serious
        else None,
        "closing": end + rules.closing_report if end else None,
    }


def incident_report(
    inc: Incident,
    systems: Mapping[str, System],
    config: IncidentsConfig,
    now: datetime,
    kind: str = "initial",
) -> dict[str, Any]:
    """The initial (form BM03) or final (form BM04) report as data, with its deadlines."""
    affected = [systems[c] for c in inc.systems if c in systems]
    main = max(affected, key=lambda s: s.level or 0, default=None)
    regime = main.regime if main else "ND85"
    deadlines = report_deadlines(inc, regime)
    cat_vi, cat_en = CATEGORIES.get(inc.category, CATEGORIES["other"])
    contact = main.contacts[0] if main and main.contacts else None
    ips = sorted({o.value for o in inc.observables if o.type == "ip"})
    data: dict[str, Any] = {
        "kind": kind,
        "form": "BM03" if kind == "initial" else "BM04",
        "incident_id": inc.id,
        "incident_name": inc.title,
        "regime": regime,
        "serious": is_serious(inc),
        # Who decided: the rule (P1 on a level 4-5 system) or the analyst, with the reason given.
        "serious_basis": {
            "by": "rule" if inc.serious_override is None else "analyst",
            "rule": serious_by_rule(inc),
            "reason": inc.serious_reason,
        },
        "report_time": now.isoformat(),
        "deadlines": {k: v.isoformat() if v else None for k, v in deadlines.items()},
        "overdue": {k: bool(v and now > v) for k, v in deadlines.items()},
        "detected_at": inc.detected_at.isoformat(),
        "category": {"key": inc.category, "vi": cat_vi, "en": cat_en},
    }
    if kind == "initial":
        data.update(
            {
                "reporter": {
                    "unit": config.reporting_unit or (main.security_unit if main else ""),
                    "name": inc.assignee or inc.created_by,
                    "address": "",
                    "phone": "",
                    "email": "",
                },
                "contact": {
                    "name": contact.name if contact else "",
                    "position": contact.role if contact else "",
                    "phone": contact.phone if contact else "",
                    "email": contact.email if contact else "",
                },
                "operator_unit": main.operator_unit if main else "",
                "owner_agency": main.owner_org if main else "",
                "systems": [{"code": s.code, "name": s.name_vi, "level": s.level} for s in affected],
                "security_provider": main.coverage.monitoring_provider if main else "",
                "isp": "",
                "description": inc.description,
                "summary": {"alerts": len(inc.alerts), "hosts": inc.hosts, "sources": inc.attacker_ips},
                "handled": inc.status in ("contained", "resolved", "closed"),
                "status": inc.status,
                "detection_method": "canh_rules" if inc.source == "alerts" else inc.source,
                "notified": {"network_member": False, "isp": False, "coordinating_body": False},
                # What the register says of the affected systems (form BM03's system fields).
                "os": _union(s.os for s in affected),
                "services": _union(s.services for s in affected),
                "measures": ["firewall", "ids"],
                "public_ips": _union(s.public_ips for s in affected),
                "domains": _union(_domains(s) for s in affected),
                "purpose": [
                    {"code": s.code, "type": s.system_type, "name_vi": s.name_vi, "name_en": s.name_en}
                    for s in affected
                ],
                "attacker_ips": inc.attacker_ips or ips,
                "techniques": inc.techniques,
                "attachments": {"logs": len(inc.alerts), "alerts": inc.alerts[:50]},
                "confidential": True,
                "recommendations": "",
                "signature": "",
            }
        )
    else:
        initial = inc.reports.get("initial", {})
        data.update(
            {
                "initial_report": {"number": initial.get("number", ""), "date": initial.get("date", "")},
                "handling_result": inc.resolution or inc.status,
                "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
                "closed_at": inc.closed_at.isoformat() if inc.closed_at else None,
                "timeline": [
                    {"at": e.at.isoformat(), "by": e.by, "action": e.action}
                    for e in inc.timeline
                    if e.action in ("status", "comment", "escalated", "created")
                ],
                "attachments": {"logs": len(inc.alerts)},
            }
        )
    return data


def _union(lists: Iterable[Iterable[str]]) -> list[str]:
    """Values of several systems' lists, each once, in the order first met."""
    return list(dict.fromkeys(v for values in lists for v in values))


def _domains(s: System) -> list[str]:
    """The system's declared domains, else the host names of its URLs (a domain, never a URL)."""
    return s.domains or [h for h in dict.fromkeys(url_host(u) for u in s.assets.urls) if h]


def _summary(data: Mapping[str, Any], lang: str) -> str:
    """What the incident is about, when the analyst has written no description."""
    s = data.get("summary") or {}
    parts = [str(data["incident_name"])]
    if s.get("alerts"):
        parts.append(t("report.summary_alerts", lang=lang, n=s["alerts"]))
    if s.get("hosts"):
        parts.append(t("report.summary_hosts", lang=lang, hosts=", ".join(s["hosts"])))
    if s.get("sources"):
        parts.append(t("report.summary_sources", lang=lang, sources=", ".join(s["sources"])))
    return "; ".join(parts)


def _serious_cell(data: Mapping[str, Any], lang: str) -> Any:
    basis = data.get("serious_basis") or {}
    if basis.get("by") != "analyst":
        return bool(data["serious"])
    mark = "✓" if data["serious"] else "×"
    return f"{mark} ({t('report.serious_by_analyst', lang=lang, reason=basis.get('reason', ''))})"


def incident_doc(data: Mapping[str, Any], lang: str, zone: tzinfo = UTC) -> Doc:
    """The national report as blocks in ``lang``, times in ``zone``."""
    kind = data["kind"]
    d = Doc(_l(f"title_{kind}", lang) + f" — {data['incident_id']}", zone=zone)
    d.p(_l(f"form_{kind}", lang))
    dl = data["deadlines"]
    d.h2(_l("deadlines", lang))
    d.kv(
        [
            (_l("detected_at", lang), data["detected_at"]),
            (_l("serious", lang), _serious_cell(data, lang)),
            (_l("deadline_initial", lang), dl["initial"]),
            (_l("deadline_detail", lang), dl["detail"] or "—"),
            (_l("deadline_closing", lang), dl["closing"] or "—"),
            (_l("regime", lang), data["regime"]),
        ]
    )
    cat = data["category"]["vi" if lang == "vi" else "en"]
    if kind == "initial":
        d.h2(_l("reporter", lang))
        r = data["reporter"]
        d.kv(
            [
                (_l("unit", lang), r["unit"]),
                (_l("name", lang), r["name"]),
                (_l("phone", lang), r["phone"]),
                (_l("email", lang), r["email"]),
            ]
        )
        d.h2(_l("contact", lang))
        c = data["contact"]
        d.kv(
            [
                (_l("name", lang), c["name"]),
                (_l("position", lang), c["position"]),
                (_l("phone", lang), c["phone"]),
                (_l("email", lang), c["email"]),
            ]
        )
        d.h2(_l("system", lang))
        d.kv(
            [
                (_l("operator_unit", lang), data["operator_unit"]),
                (_l("owner_agency", lang), data["owner_agency"]),
                (_l("security_provider", lang), data["security_provider"]),
                (_l("isp", lang), data["isp"]),
            ]
        )
        d.table(
            [_l("code", lang), _l("system_name", lang), _l("level", lang)],
            [(s["code"], s["name"], s["level"]) for s in data["systems"]],
        )
        d.h2(_l("incident", lang))
        d.kv(
            [
                (_l("incident_name", lang), data["incident_name"]),
                (_l("category", lang), cat),
                (_l("description", lang), data["description"] or _summary(data, lang)),
                (_l("handled", lang), bool(data["handled"])),
                (_l("detection_method", lang), _term("detection", data["detection_method"], lang)),
                (_l("purpose", lang), [_purpose(p, lang) for p in data["purpose"]]),
                (_l("os", lang), data["os"]),
                (_l("services", lang), [term("service", s, lang) for s in data["services"]]),
                (_l("measures", lang), [_term("measure", m, lang) for m in data["measures"]]),
                (_l("public_ips", lang), data["public_ips"]),
                (_l("domains", lang), data["domains"]),
                (_l("attacker_ips", lang), data["attacker_ips"]),
                (_l("techniques", lang), data["techniques"]),
                (
                    _l("attachments", lang),
                    t("report.summary_alerts", lang=lang, n=data["attachments"]["logs"]),
                ),
                (_l("confidential", lang), bool(data["confidential"])),
                (_l("recommendations", lang), data["recommendations"]),
                (_l("report_time", lang), data["report_time"]),
                (_l("signature", lang), ""),
            ]
        )
    else:
        d.kv(
            [
                (
                    _l("initial_number", lang),
                    f"{data['initial_report']['number']} {data['initial_report']['date']}",
                ),
                (_l("incident_name", lang), data["incident_name"]),
                (_l("category", lang), cat),
                (_l("detected_at", lang), data["detected_at"]),
                (_l("handling_result", lang), data["handling_result"]),
                (_l("resolved_at", lang), data["resolved_at"]),
                (
                    _l("attachments", lang),
                    t("report.summary_alerts", lang=lang, n=data["attachments"]["logs"]),
                ),
                (_l("report_time", lang), data["report_time"]),
            ]
        )
        d.h2(_l("timeline", lang))
        d.table(
            [_l("time", lang), _l("by", lang), _l("action", lang)],
            [(e["at"], e["by"], action_name(e["action"], lang)) for e in data["timeline"]],
        )
    return d


# -- register compliance ---------------------------------------------------------------------------


def _purpose(p: Mapping[str, Any], lang: str) -> str:
    name = p["name_vi"] if lang == "vi" or not p["name_en"] else p["name_en"]
    return f"{name} ({_term('system_type', p['type'], lang)})"


def register_report(systems: Sequence[System], monitored: set[str], today: date) -> dict[str, Any]:
    """Share of systems with an approved dossier by level and agency, overdue inspections, four layers."""
    by_level: dict[int, Counter[str]] = defaultdict(Counter)
    by_agency: dict[str, Counter[str]] = defaultdict(Counter)
    rows = []
    for s in systems:
        approved = s.dossier.status in APPROVED_STATUSES
        lvl = s.level or 0
        by_level[lvl]["total"] += 1
        by_level[lvl]["approved"] += approved
        by_agency[s.owner_org]["total"] += 1
        by_agency[s.owner_org]["approved"] += approved
        due = next_inspection_due(s)
        deadlines = dict(dossier_deadlines(s))
        waiting = dossier_deadlines(s)[-1] if deadlines else None
        notice = deadlines.get("completeness")
        rows.append(
            {
                "dossier_waits_for": waiting[0] if waiting else None,
                "dossier_due": waiting[1].isoformat() if waiting else None,
                "dossier_late": bool(waiting and waiting[1] < today),
                # ND331: the appraiser says within 5 working days if the dossier is incomplete.
                "dossier_completeness_due": notice.isoformat() if notice else None,
                "code": s.code,
                "name_vi": s.name_vi,
                "owner_org": s.owner_org,
                "level": s.level,
                "dossier_status": s.dossier.status,
                "approved": approved,
                "next_inspection_due": due.isoformat() if due else None,
                "inspection_overdue": is_overdue(s, today),
                "layers": {
                    "onsite": s.coverage.onsite_team,
                    "monitoring": s.code in monitored,
                    "independent_inspection": independent_inspection_ok(s, today),
                    "national_connection": s.coverage.national_connection,
                },
            }
        )
    total = len(systems)
    approved_total = sum(r["approved"] for r in rows)

    def share(c: Counter[str]) -> dict[str, Any]:
        return {
            "total": c["total"],
            "approved": c["approved"],
            "share": round(c["approved"] / c["total"], 3) if c["total"] else 0.0,
        }

    layers = ("onsite", "monitoring", "independent_inspection", "national_connection")
    return {
        "date": today.isoformat(),
        "systems": total,
        "approved": approved_total,
        "approved_share": round(approved_total / total, 3) if total else 0.0,
        "by_level": {str(k): share(v) for k, v in sorted(by_level.items())},
        "by_agency": {k: share(v) for k, v in sorted(by_agency.items())},
        "overdue": [r for r in rows if r["inspection_overdue"]],
        "dossiers_waiting": [r for r in rows if r["dossier_due"]],
        "coverage": {name: sum(r["layers"][name] for r in rows) for name in layers},
        "all_four_layers": sum(all(r["layers"].values()) for r in rows),
        "rows": rows,
    }


def register_doc(data: Mapping[str, Any], lang: str, zone: tzinfo = UTC) -> Doc:
    d = Doc(_l("register_title", lang), zone=zone)
    d.p(
        _l("register_intro", lang).format(
            date=data["date"],
            n=data["systems"],
            approved=data["approved"],
            share=f"{data['approved_share']:.0%}",
        )
    )
    d.h2(_l("by_level", lang))
    d.table(
        [_l("level", lang), _l("total", lang), _l("approved", lang), "%"],
        [(lvl or "—", v["total"], v["approved"], f"{v['share']:.0%}") for lvl, v in data["by_level"].items()],
    )
    d.h2(_l("by_agency", lang))
    d.table(
        [_l("owner_agency", lang), _l("total", lang), _l("approved", lang), "%"],
        [(k, v["total"], v["approved"], f"{v['share']:.0%}") for k, v in data["by_agency"].items()],
    )
    d.h2(_l("overdue", lang))
    d.table(
        [_l("code", lang), _l("system_name", lang), _l("level", lang), _l("next_due", lang)],
        [
            (r["code"], r["name_vi"], r["level"], r["next_inspection_due"] or _l("never", lang))
            for r in data["overdue"]
        ],
    )
    d.h2(_l("dossiers_waiting", lang))
    d.table(
        [
            _l("code", lang),
            _l("system_name", lang),
            _l("dossier", lang),
            _l("completeness_due", lang),
            _l("due", lang),
        ],
        [
            (
                r["code"],
                r["name_vi"],
                _term("waits", r["dossier_waits_for"], lang),
                r["dossier_completeness_due"] or "—",
                r["dossier_due"] + (" !" if r["dossier_late"] else ""),
            )
            for r in data["dossiers_waiting"]
        ],
        widths=(0.18, 0.37, 0.15, 0.15, 0.15),
    )
    d.h2(_l("coverage", lang))
    cov = data["coverage"]
    d.kv(
        [(_l(f"layer_{k}", lang), f"{v}/{data['systems']}") for k, v in cov.items()]
        + [(_l("all_four", lang), f"{data['all_four_layers']}/{data['systems']}")]
    )
    d.table(
        [_l("code", lang), _l("level", lang), _l("dossier", lang), "1", "2", "3", "4"],
        [
            (
                r["code"],
                r["level"],
                DOSSIER_STATUSES[r["dossier_status"]] if lang == "vi" else r["dossier_status"],
                *(
                    r["layers"][k]
                    for k in ("onsite", "monitoring", "independent_inspection", "national_connection")
                ),
            )
            for r in data["rows"]
        ],
        widths=(0.2, 0.1, 0.3, 0.1, 0.1, 0.1, 0.1),
    )
    return d


# -- Markdown --------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Doc) -> str:
    """The blocks as GitHub-flavoured Markdown."""
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        kind = block[0]
        if kind == "h2":
            out += [f"## {block[1]}", ""]
        elif kind == "p":
            out += [block[1], ""]
        elif kind == "kv":
            out += ["| | |", "|---|---|"] + [
                f"| **{_md_escape(k)}** | {_md_escape(v)} |" for k, v in block[1]
            ]
            out.append("")
        elif kind == "table":
            headers, rows = block[1], block[2]
            out.append("| " + " | ".join(_md_escape(h) for h in headers) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
            out.append("")
    return "\n".join(out)
