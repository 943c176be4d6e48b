"""The demo: a bundled sample day, ingested into a fresh embedded store under ``<home>/demo``."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from canh.clock import Clock, ManualClock, SystemClock
from canh.config import Paths, resolve_paths
from canh.errors import CanhError
from canh.events import get, local_zone
from canh.i18n import t
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore


def demo_files() -> list[Path]:
    """The bundled sample logs."""
    folder = resources.files("canh.data") / "demo"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".log", ".gz", ".jsonl")))


# The bundled sample day is 2026-11-21 (ICT). Tests replay it as written, on a clock late that
# afternoon (DEMO_NOW), so every count is fixed. `canh demo` moves it to yesterday (see relocate) and
# runs on the real clock, so the tour's "last 24 h" queries, the console and the SLA clocks are live.
SAMPLE_DAY = date(2026, 11, 21)
DEMO_NOW = "2026-11-21T10:30:00Z"
DEMO_MARKER = ".canh-demo"
DEMO_ZONE = "Asia/Ho_Chi_Minh"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def demo_day(now: datetime) -> date:
    """The day the demo shows: yesterday in Vietnam, so the whole day is already in the past."""
    return now.astimezone(local_zone(DEMO_ZONE)).date() - timedelta(days=1)


def relocate(files: list[Path], day: date, folder: Path) -> list[Path]:
    """Copies of the sample logs under ``folder`` with the sample day's date replaced by ``day``.

    Only the three date forms the sample uses are rewritten (syslog ``Nov 21``, access log
    ``21/Nov/2026``, FortiGate ``date=2026-11-21``); everything else is byte for byte the same.
    """
    old, mon = SAMPLE_DAY, _MONTHS[day.month - 1]
    swaps = (
        (f"{_MONTHS[old.month - 1]} {old.day:>2} ", f"{mon} {day.day:>2} ", True),
        (f"{old.day:02d}/{_MONTHS[old.month - 1]}/{old.year}:", f"{day.day:02d}/{mon}/{day.year}:", False),
        (f"date={old.isoformat()} ", f"date={day.isoformat()} ", False),
    )
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in files:
        lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
        for i, line in enumerate(lines):
            for before, after, at_start in swaps:
                if at_start:
                    if line.startswith(before):
                        line = after + line[len(before) :]
                elif before in line:
                    line = line.replace(before, after, 1)
            lines[i] = line
        dest = folder / src.name
        dest.write_text("".join(lines), encoding="utf-8")
        out.append(dest)
    return out


def prepare_home(home: str | None) -> Paths:
    """Empty the home's data and state for the demo; refuse if they hold real (non-demo) data."""
    paths = resolve_paths(home)
    db = paths.data / "canh.db"
    marker = paths.data / DEMO_MARKER
    if db.exists() and not marker.exists():
        raise CanhError("demo.real_data", where=str(db))
    shutil.rmtree(paths.data, ignore_errors=True)
    shutil.rmtree(paths.state, ignore_errors=True)
    paths.data.mkdir(parents=True)
    marker.write_text("made by `canh demo`; the demo may wipe this folder\n", encoding="utf-8")
    return paths


def run_demo(home: str | None, out: Console | None, clock: Clock | None = None) -> dict[str, Any]:
    """Ingest yesterday's sample day into the home's fresh embedded store; return (and print) a summary.

    With a ManualClock at DEMO_NOW the bundled day is replayed as written (what the tests pin down).
    """
    paths = prepare_home(home)
    clock = clock or SystemClock()
    files = demo_files()
    if not (isinstance(clock, ManualClock) and clock.now() == ManualClock(DEMO_NOW).now()):
        files = relocate(files, demo_day(clock.now()), paths.data / "demo-logs")
    store = SQLiteStore(paths.data / "canh.db")
    try:
        from canh.detection import hooks_for_store  # the rule pack raises the day's alerts as it is read

        hooks = hooks_for_store(store, clock.now)
        report = Ingester(
            store, dead_letter=paths.state / "dead-letter" / "demo.jsonl", now=clock.now, hooks=hooks
        ).run(files)
        alerts = list(store.scan("alerts"))
        summary: dict[str, Any] = {
            "store": str(paths.data / "canh.db"),
            "logs": str(files[0].parent),
            "events": store.count("events"),
            "datasets": {b.key: b.count for b in store.terms("events", "event.dataset", size=20)},
            "top_sources": {b.key: b.count for b in store.terms("events", "source.ip", size=5)},
            "problems": len(report.problems),
            "alerts": len(alerts),
            "alert_levels": dict(Counter(str(get(a, "event.severity_label") or "?") for a in alerts)),
            "top_rules": dict(
                Counter(str(get(a, "rule.name") or get(a, "rule.id")) for a in alerts).most_common(8)
            ),
        }
        from canh.incidents.demo import demo_hook  # the register, incidents and reports on top of the day

        summary["incidents"] = demo_hook(store, clock, paths.data / "reports")
    finally:
        store.close()
    if out is not None:
        _print_summary(out, summary, home)
    return summary


_LEVELS = ("critical", "high", "medium", "low", "informational")


def _print_summary(out: Console, summary: dict[str, Any], home: str | None) -> None:
    out.print(t("demo.loaded", events=summary["events"], store=summary["store"]))
    for name, n in summary["datasets"].items():
        out.print(f"  {name}: {n:,}")
    levels = summary["alert_levels"]
    by_level = ", ".join(f"{lv} {levels[lv]}" for lv in (*_LEVELS, "?") if lv in levels)
    out.print(t("demo.alerts", n=summary["alerts"], levels=by_level))
    for rule, n in summary["top_rules"].items():
        out.print(f"  {n:>3}  {rule}")
    inc = summary["incidents"]
    out.print(t("incident.demo", incidents=inc["incidents"], alerts=inc["alerts"], systems=inc["systems"],
                linked=inc["linked_to_systems"], priorities=", ".join(f"{k}: {v}" for k, v in
                                                                     inc["by_priority"].items())))  # fmt: skip
    for path in inc["reports"]:
        out.print(f"  {path}")
    out.print(t("demo.next", home=f"--home {home} " if home else ""))
