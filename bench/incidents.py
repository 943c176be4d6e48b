#!/usr/bin/env python3
"""Incidents and register figures on the embedded store.

Prints: alerts grouped into incidents per second (N alerts over a day, 40 hosts, 12 rules, 300
attacker addresses, the sample register's assets), asset → system matches per second for a 3,000-
system register, register import (CSV of 3,000 systems) and PDF rendering time of both reports.
Run: .venv/bin/python bench/incidents.py [--alerts N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.events import format_ts
from canh.incidents.demo import sample_register_path
from canh.incidents.desk import IncidentDesk
from canh.incidents.pdf import render_pdf
from canh.incidents.register import AssetIndex, System
from canh.incidents.register_io import read_csv, read_file, write_csv
from canh.incidents.reports import incident_doc, incident_report, register_doc, register_report
from canh.incidents.systems import Register
from canh.store.scheduled import alert_id
from canh.store.sqlite import SQLiteStore

HOSTS = ["bastion-01", "fw-01", "dvc-01", "db-01", "portal-01", "mail-01", "qlvb-01", "lgsp-01"] + [
    f"srv-{i:02d}" for i in range(32)
]


def alerts(n: int) -> list[dict]:
    rng = random.Random(7)
    start = datetime(2026, 11, 21, tzinfo=UTC)
    out = []
    for i in range(n):
        rule = f"rule-{rng.randrange(12)}"
        host = rng.choice(HOSTS)
        ts = format_ts(start + timedelta(seconds=i * 86400 / n))
        out.append(
            {
                "id": alert_id(rule, f"e{i}"),
                "@timestamp": ts,
                "event": {
                    "kind": "signal",
                    "severity_label": rng.choice(["low", "medium", "high", "critical"]),
                },
                "rule": {"id": rule, "name": f"Rule {rule}"},
                "host": {"name": host},
                "source": {"ip": f"185.220.{rng.randrange(3)}.{rng.randrange(100)}"},
                "tags": ["attack.t1110"],
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=20_000)
    args = ap.parse_args()
    systems = read_file(sample_register_path()).systems
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "canh.db")
        clock = ManualClock("2026-11-22T00:00:00Z")
        batch = alerts(args.alerts)
        store.write("alerts", batch)
        desk = IncidentDesk(store, clock, IncidentsConfig(), systems=systems)
        t0 = time.perf_counter()
        linked = desk.group_alerts(batch)
        dt = time.perf_counter() - t0
        print(
            f"grouping: {args.alerts:,} alerts -> {len(linked):,} incidents in {dt:.2f} s "
            f"({args.alerts / dt:,.0f} alerts/s, store writes included)"
        )

        big = [
            System(
                code=f"HT-{i:04d}",
                name_vi=f"Hệ thống {i}",
                proposed_level=1 + i % 4,
                assets={
                    "hosts": [f"h{i}-a", f"h{i}-b"],
                    "cidrs": [f"10.{i // 250}.{i % 250}.0/24"],
                    "urls": [f"https://s{i}.example.gov.vn"],
                },
            )
            for i in range(3000)
        ]
        text = write_csv(big)
        t0 = time.perf_counter()
        parsed = read_csv(text)
        dt = time.perf_counter() - t0
        print(f"register CSV import: {len(parsed.systems):,} systems parsed in {dt:.2f} s")
        reg = Register(store, clock)
        t0 = time.perf_counter()
        for s in parsed.systems:
            reg.upsert(s)
        dt = time.perf_counter() - t0
        print(f"register store: {len(parsed.systems):,} systems created (with audit) in {dt:.2f} s")
        idx = AssetIndex(big)
        recs = [
            {"host": {"name": f"h{i % 3000}-a"}, "destination": {"ip": f"10.{(i % 3000) // 250}.{i % 250}.9"}}
            for i in range(5000)
        ]
        t0 = time.perf_counter()
        hits = sum(1 for r in recs if idx.match(r))
        dt = time.perf_counter() - t0
        print(f"asset matching (3,000 systems): {len(recs) / dt:,.0f} records/s ({hits} matched)")

        inc = desk.incidents()[0]
        t0 = time.perf_counter()
        render_pdf(
            incident_doc(incident_report(inc, desk.systems, IncidentsConfig(), clock.now()), "vi"), "vi"
        )
        render_pdf(register_doc(register_report(systems, set(), clock.now().date()), "vi"), "vi")
        print(f"PDF: both reports rendered in {time.perf_counter() - t0:.2f} s")
        store.close()


if __name__ == "__main__":
    main()
