#!/usr/bin/env python3
"""Embedded-store ingest rate: 1,000,000 synthetic ECS events into a fresh SQLite store.

Prints events/second (wall and CPU) for the store write path alone, and for the whole
`canh ingest` path (read file, parse syslog, store) on a generated auth log.
Run: .venv/bin/python bench/ingest.py [--events N]
"""

from __future__ import annotations

import argparse
import gc
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from canh.events import new_event, set_many
from canh.ingest import Ingester
from canh.store.sqlite import SQLiteStore


def synthetic(n: int, chunk: int = 50_000):  # type: ignore[no-untyped-def]
    """Batches of sshd-like ECS events over one day, 40 hosts, 5,000 source addresses."""
    rng = random.Random(7)
    start = datetime(2026, 11, 21, tzinfo=UTC)
    batch = []
    for i in range(n):
        ip = f"203.0.{rng.randrange(20)}.{rng.randrange(250)}"
        msg = f"Failed password for {rng.choice(['root', 'admin', 'oracle'])} from {ip} port {rng.randrange(1024, 65535)} ssh2"
        ev = new_event(timestamp=start + timedelta(milliseconds=i * 86), dataset="system.auth", module="system",
                       source="/var/log/auth.log", position=i * 96, original=msg, message=msg,
                       host=f"srv-{rng.randrange(40):02d}")  # fmt: skip
        set_many(ev, {"source.ip": ip, "user.name": "root", "event.action": "ssh_login", "event.outcome": "failure",
                      "event.category": ["authentication"], "process.name": "sshd"})  # fmt: skip
        batch.append(ev)
        if len(batch) == chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def bench_store(n: int, folder: Path) -> None:
    batches = list(synthetic(n))  # built before timing: this measures the store, not event creation
    store = SQLiteStore(folder / "bench.db")
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    written = 0
    for batch in batches:
        written += store.write("events", batch).written
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    size = sum(p.stat().st_size for p in folder.glob("bench.db*"))
    again = time.perf_counter()
    dup = store.write("events", batches[0]).duplicates
    again = time.perf_counter() - again
    store.close()
    print(
        f"store.write      {written:>9,} events  {written / wall:>9,.0f} events/s wall  {written / cpu:>9,.0f} events/s CPU"
        f"  {size / written:,.0f} bytes/event on disk"
    )
    print(f"re-ingest        {dup:>9,} duplicates skipped at {dup / again:,.0f} events/s")


def bench_pipeline(n: int, folder: Path) -> None:
    log = folder / "auth.log"
    rng = random.Random(3)
    with log.open("w") as fh:
        for i in range(n):
            fh.write(
                f"Nov 21 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} srv-{rng.randrange(40):02d} sshd[{1000 + i % 5000}]: "
                f"Failed password for root from 203.0.{rng.randrange(20)}.{rng.randrange(250)} port {rng.randrange(1024, 65535)} ssh2\n"
            )
    store = SQLiteStore(folder / "pipe.db")
    ing = Ingester(store, dead_letter=folder / "dead.jsonl", now=lambda: datetime(2026, 11, 22, tzinfo=UTC))
    wall, cpu = time.perf_counter(), time.process_time()
    report = ing.run([log], "syslog")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    print(
        f"canh ingest      {report.written:>9,} lines   {report.written / wall:>9,.0f} lines/s wall   {report.written / cpu:>9,.0f} lines/s CPU"
        "  (file → syslog parser → store)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="canh-bench-") as tmp:
        bench_store(args.events, Path(tmp))
        bench_pipeline(args.lines, Path(tmp))


if __name__ == "__main__":
    main()
