"""EVTX records/second: the ``evtx`` package alone vs Canh's EvtxReader (parse + map to ECS), one core.

    python bench/ingest_evtx.py [PATH ...] [--repeat N] [--store]

PATH defaults to ../shared/corpus/evtx. "evtx alone" iterates ``records_json()`` with one parser
thread, as EvtxReader does; the reader adds JSON decoding and the Winlogbeat-style mapping.
``--store`` also writes the events into a fresh SQLite store (end to end).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from canh.collectors.evtx import EvtxReader
from canh.collectors.registry import LineContext, ReadProblem
from evtx import PyEvtxParser

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "evtx"


def files_under(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths or [str(DEFAULT)]):
        out.extend(sorted(p.rglob("*.evtx")) if p.is_dir() else [p])
    return out


def evtx_alone(files: list[Path]) -> tuple[int, float]:
    n = 0
    start = time.perf_counter()
    for f in files:
        it = PyEvtxParser(str(f), number_of_threads=1).records_json()
        while True:
            try:
                next(it)
            except StopIteration:
                break
            except RuntimeError:
                continue
            n += 1
    return n, time.perf_counter() - start


def canh_reader(files: list[Path], store: object | None = None) -> tuple[int, float]:
    reader = EvtxReader()
    n = 0
    batch: list[dict] = []
    start = time.perf_counter()
    for f in files:
        for item in reader.read(f, LineContext(source=str(f), position=0)):
            if isinstance(item, ReadProblem):
                continue
            n += 1
            if store is not None:
                batch.append(item)
                if len(batch) >= 5000:
                    store.write("events", batch)  # type: ignore[attr-defined]
                    batch = []
    if store is not None and batch:
        store.write("events", batch)  # type: ignore[attr-defined]
    return n, time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    ap.add_argument("--store", action="store_true", help="also measure end to end into SQLite")
    args = ap.parse_args()
    files = files_under(args.paths)
    if not files:
        print("no .evtx files found", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB")
    best_a = min((evtx_alone(files) for _ in range(args.repeat)), key=lambda r: r[1])
    best_b = min((canh_reader(files) for _ in range(args.repeat)), key=lambda r: r[1])
    ra, rb = best_a[0] / best_a[1], best_b[0] / best_b[1]
    print(
        f"evtx alone (records_json, 1 thread): {best_a[0]} records in {best_a[1]:.2f} s = {ra:,.0f} records/s"
    )
    print(
        f"canh EvtxReader (parse + ECS):       {best_b[0]} records in {best_b[1]:.2f} s = {rb:,.0f} records/s"
    )
    print(f"ratio: {100 * rb / ra:.0f}% of evtx alone (target >= 80%)")
    if args.store:
        from canh.store.sqlite import SQLiteStore

        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp) / "canh.db")
            n, secs = canh_reader(files, store)
            store.close()
        print(f"end to end into SQLite:              {n} records in {secs:.2f} s = {n / secs:,.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
