"""The demo's last step: the sample register, the day's alerts grouped into incidents linked to its
systems (priority and SLA clocks from their levels), and both reports written into the demo home."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from canh.clock import Clock
from canh.config import IncidentsConfig
from canh.events import get, local_zone
from canh.i18n import language
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import PRIORITIES
from canh.incidents.pdf import render_pdf
from canh.incidents.register_io import read_file
from canh.incidents.reports import incident_doc, incident_report, register_doc, register_report, to_markdown
from canh.incidents.systems import Register
from canh.store.base import Store
from canh.store.scheduled import ScheduledRule, make_alert

# Used only when the detection engine raised no alerts for the demo day (it is optional at run time):
# hunting queries over the raw text, so the incident path can still be shown end to end.
FALLBACK_RULES = (
    ScheduledRule(
        "demo-ssh-failed",
        "Đăng nhập SSH thất bại lặp lại",
        'message:"Failed password"',
        "medium",
        ("attack.credential_access", "attack.t1110"),
    ),
    ScheduledRule(
        "demo-useradd",
        "Tạo tài khoản hệ thống mới",
        "process.name:useradd",
        "high",
        ("attack.persistence", "attack.t1136"),
    ),
    ScheduledRule(
        "demo-web-scanner",
        "Công cụ quét lỗ hổng web",
        "sqlmap OR nikto OR nuclei",
        "high",
        ("attack.initial_access", "attack.t1190"),
    ),
    ScheduledRule(
        "demo-fw-deny",
        "Tường lửa chặn kết nối từ Internet",
        'message:"action=deny"',
        "low",
        ("attack.discovery", "attack.t1046"),
    ),
    ScheduledRule(
        "demo-webshell",
        "Truy cập tệp PHP trong thư mục tải lên",
        '"anh-cccd.php"',
        "critical",
        ("attack.persistence", "attack.t1505.003"),
    ),
)
_SRC = re.compile(r"(?:srcip=|\bfrom |^)(\d{1,3}(?:\.\d{1,3}){3})\b")
_DST = re.compile(r"dstip=(\d{1,3}(?:\.\d{1,3}){3})\b")


def sample_register_path() -> Path:
    return Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))


def _fill_addresses(alert: dict[str, Any], event: Mapping[str, Any]) -> None:
    # Raw-text events carry no parsed addresses; take them from the text so grouping can work.
    text = str(get(event, "message") or "")
    if not get(alert, "source.ip") and (m := _SRC.search(text)):
        alert["source"] = {"ip": m.group(1)}
    if not get(alert, "destination.ip") and (m := _DST.search(text)):
        alert["destination"] = {"ip": m.group(1)}


def fallback_alerts(store: Store, clock: Clock) -> int:
    """Raise the demo's alerts with FALLBACK_RULES; returns how many were written."""
    written = 0
    for rule in FALLBACK_RULES:
        batch = []
        for event in store.scan("events", rule.query):
            alert = make_alert(rule, event, clock.now())
            alert["rule"]["level"] = rule.level
            _fill_addresses(alert, event)
            batch.append(alert)
        written += store.write("alerts", batch).written
    return written


def demo_hook(
    store: Store, clock: Clock, out_dir: Path, config: IncidentsConfig | None = None
) -> dict[str, Any]:
    """Load the sample register, group the alerts into incidents, write the reports into ``out_dir``."""
    config = config or IncidentsConfig()
    reg = Register(store, clock, actor="canh-demo")
    loaded = read_file(sample_register_path())
    for s in loaded.systems:
        reg.upsert(s)
    store.refresh()
    fallback = 0
    if store.count("alerts") == 0:
        fallback = fallback_alerts(store, clock)
        store.refresh()
    systems = reg.all()
    desk = IncidentDesk(store, clock, config, actor="canh-demo", systems=systems)
    alerts = list(store.scan("alerts"))
    desk.group_alerts(alerts)
    desk.check_slas()
    incidents = desk.incidents(limit=100_000)
    out_dir.mkdir(parents=True, exist_ok=True)
    lang = language()
    zone = local_zone("Asia/Ho_Chi_Minh")  # the demo's province
    written: list[str] = []
    # The national report for the most urgent incident; the register report for everything.
    if incidents:
        top = min(incidents, key=lambda i: (PRIORITIES.index(i.priority), i.detected_at))
        data = incident_report(top, desk.systems, config, clock.now(), "initial")
        written += _write_all(out_dir / f"{top.id}-initial", data, incident_doc(data, lang, zone), lang)
    rdata = register_report(systems, reg.monitored(reg.index(systems)), clock.now().date())
    written += _write_all(out_dir / "register-report", rdata, register_doc(rdata, lang, zone), lang)
    return {
        "systems": len(systems),
        "alerts": len(alerts),
        "fallback_alerts": fallback,
        "incidents": len(incidents),
        "by_priority": dict(sorted(Counter(i.priority for i in incidents).items())),
        "linked_to_systems": sum(1 for i in incidents if i.systems),
        "incident_list": [
            {
                "id": i.id,
                "title": i.title,
                "priority": i.priority,
                "systems": i.systems,
                "max_level": i.max_level,
                "alerts": len(i.alerts),
                "acknowledge_due": i.sla["acknowledge"].due.isoformat() if "acknowledge" in i.sla else None,
            }
            for i in incidents
        ],
        "reports": written,
    }


def _write_all(stem: Path, data: Mapping[str, Any], doc: Any, lang: str) -> list[str]:
    stem.with_suffix(".json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    stem.with_suffix(".md").write_text(to_markdown(doc), encoding="utf-8")
    pdf, _warning = render_pdf(doc, lang)
    stem.with_suffix(".pdf").write_bytes(pdf)
    return [str(stem.with_suffix(s)) for s in (".md", ".json", ".pdf")]
