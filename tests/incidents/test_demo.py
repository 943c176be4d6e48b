"""The demo's whole path: alerts grouped into incidents linked to the sample register, priorities and SLA
clocks from the systems' levels, both reports written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from canh.clock import ManualClock
from canh.demo import DEMO_NOW, demo_files
from canh.incidents.demo import demo_hook
from canh.incidents.desk import IncidentDesk
from canh.ingest import Ingester
from canh.store.base import Store


def test_demo_day_becomes_incidents_on_register_systems_with_reports(
    sqlite_store: Store, tmp_path: Path
) -> None:
    clock = ManualClock(DEMO_NOW)
    Ingester(sqlite_store, dead_letter=tmp_path / "dl.jsonl", now=clock.now).run(demo_files())
    summary = demo_hook(sqlite_store, clock, tmp_path / "reports")
    assert summary["systems"] == 30 and summary["alerts"] > 0
    assert summary["incidents"] >= 2 and summary["linked_to_systems"] == summary["incidents"]
    desk = IncidentDesk(sqlite_store, clock)
    incs = desk.incidents()
    brute = [i for i in incs if "185.220.101.47" in i.attacker_ips]
    assert brute and all("HT-KHCN-01" in i.systems and i.max_level == 4 for i in brute)  # the data centre, L4
    for inc in incs:
        assert inc.sla["acknowledge"].due > inc.created_at
    web = [i for i in incs if "45.95.147.236" in i.attacker_ips]
    assert web and web[0].priority == "P1"
    names = sorted(Path(p).name for p in summary["reports"])
    assert "register-report.pdf" in names and any(n.endswith("-initial.pdf") for n in names)
    data = json.loads((tmp_path / "reports" / "register-report.json").read_text(encoding="utf-8"))
    assert data["systems"] == 30 and data["coverage"]["monitoring"] >= 1
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "reports" / "register-report.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert "Trung tâm dữ liệu tỉnh" in text or "Hệ thống" in text
    # Running the hook again adds nothing: alerts already linked stay where they are.
    again = demo_hook(sqlite_store, clock, tmp_path / "reports")
    assert again["incidents"] == summary["incidents"]
