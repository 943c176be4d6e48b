"""The demo: a bundled sample day, ingested into a fresh embedded store under ``<home>/demo``."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from canh.config import resolve_paths
from canh.i18n import t
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore


def demo_files() -> list[Path]:
    """The bundled sample logs."""
    folder = resources.files("canh.data") / "demo"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".log", ".gz", ".jsonl")))


def run_demo(home: str | None, out: Console | None) -> dict[str, Any]:
    """Ingest the sample into a fresh store and return (and print) a summary."""
    paths = resolve_paths(home)
    root = paths.data.parent / "demo" if home else paths.data / "demo"
    shutil.rmtree(root, ignore_errors=True)
    store = SQLiteStore(root / "canh.db")
    try:
        report = Ingester(store, dead_letter=root / "dead-letter.jsonl").run(demo_files())
        summary: dict[str, Any] = {
            "store": str(root / "canh.db"),
            "events": store.count("events"),
            "datasets": {b.key: b.count for b in store.terms("events", "event.dataset", size=20)},
            "top_sources": {b.key: b.count for b in store.terms("events", "source.ip", size=5)},
            "problems": len(report.problems),
        }
    finally:
        store.close()
    if out is not None:
        out.print(t("demo.loaded", events=summary["events"], store=summary["store"]))
        for name, n in summary["datasets"].items():
            out.print(f"  {name}: {n:,}")
        out.print(t("demo.next", home=home or ""))
    return summary
