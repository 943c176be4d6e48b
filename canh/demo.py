"""The demo: a bundled sample day, ingested into a fresh embedded store under ``<home>/demo``."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from canh.clock import ManualClock
from canh.config import Paths, resolve_paths
from canh.errors import CanhError
from canh.i18n import t
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore


def demo_files() -> list[Path]:
    """The bundled sample logs."""
    folder = resources.files("canh.data") / "demo"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".log", ".gz", ".jsonl")))


# The sample day is 2026-11-21 (ICT); the demo runs as if it were late that afternoon, so year
# inference and every clock (suppression, SLAs) give the same result whenever it is run.
DEMO_NOW = "2026-11-21T10:30:00Z"
DEMO_MARKER = ".canh-demo"


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


def run_demo(home: str | None, out: Console | None) -> dict[str, Any]:
    """Ingest the sample into the home's fresh embedded store and return (and print) a summary."""
    paths = prepare_home(home)
    clock = ManualClock(DEMO_NOW)
    store = SQLiteStore(paths.data / "canh.db")
    try:
        from canh.detection import hooks_for_store  # the rule pack raises the day's alerts as it is read

        hooks = hooks_for_store(store, clock.now)
        report = Ingester(
            store, dead_letter=paths.state / "dead-letter" / "demo.jsonl", now=clock.now, hooks=hooks
        ).run(demo_files())
        summary: dict[str, Any] = {
            "store": str(paths.data / "canh.db"),
            "events": store.count("events"),
            "datasets": {b.key: b.count for b in store.terms("events", "event.dataset", size=20)},
            "top_sources": {b.key: b.count for b in store.terms("events", "source.ip", size=5)},
            "problems": len(report.problems),
        }
        from canh.incidents.demo import demo_hook  # the register, incidents and reports on top of the day

        summary["incidents"] = demo_hook(store, clock, paths.data / "reports")
    finally:
        store.close()
    if out is not None:
        out.print(t("demo.loaded", events=summary["events"], store=summary["store"]))
        for name, n in summary["datasets"].items():
            out.print(f"  {name}: {n:,}")
        inc = summary["incidents"]
        out.print(t("incident.demo", incidents=inc["incidents"], alerts=inc["alerts"], systems=inc["systems"],
                    linked=inc["linked_to_systems"], priorities=", ".join(f"{k}: {v}" for k, v in
                                                                         inc["by_priority"].items())))
        for path in inc["reports"]:
            out.print(f"  {path}")
        out.print(t("demo.next", home=f"--home {home} " if home else ""))
    return summary
