"""EVTX records/second: the ``evtx`` package alone vs Canh's EvtxReader (parse + map to ECS), one core.

    python bench/ingest_evtx.py [PATH ...] [--repeat N] [--store]

PATH defaults to ../shared/corpus/evtx. Every figure is CPU time (``time.process_time``), best of
``--repeat`` runs, with one parser thread in every method, so the machine's other load and the
parser's own threads do not enter the comparison:

- "evtx alone" iterates ``records_json()``, as EvtxReader does;
- "evtx + orjson.loads" also decodes each record's JSON: no mapping from that JSON can be faster,
  so its ratio to "evtx alone" is the ceiling for any reader built on the Python API;
- "canh EvtxReader" is the reader ``canh ingest`` uses (decoding and the Winlogbeat-style mapping).

``--store`` also writes the events into a fresh SQLite store (end to end, wall time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from canh.collectors.evtx import EvtxReader
from canh.collectors.registry import LineContext, ReadProblem
from evtx import PyEvtxParser

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "evtx"


def files_under(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths or [str(DEFAULT)]):
        out.extend(sorted(p.rglob("*.evtx")) if p.is_dir() else [p])
    return out


def _parsed(files: list[Path], decode: bool) -> int:
    n = 0
    for f in files:
        it = PyEvtxParser(str(f), number_of_threads=1).records_json()
        while True:
            try:
                item = next(it)
            except StopIteration:
                break
            except RuntimeError:
                continue
            if decode:
                orjson.loads(item["data"])
            n += 1
    return n


def evtx_alone(files: list[Path]) -> int:
    return _parsed(files, decode=False)


def evtx_and_loads(files: list[Path]) -> int:
    return _parsed(files, decode=True)


def canh_reader(files: list[Path], store: object | None = None) -> int:
    reader = EvtxReader()
    n = 0
    batch: list[dict] = []
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
    return n


def best_cpu(method: Callable[[list[Path]], int], files: list[Path], repeat: int) -> tuple[int, float]:
    """(records, best CPU seconds) over ``repeat`` runs."""
    best = float("inf")
    n = 0
    for _ in range(repeat):
        start = time.process_time()
        n = method(files)
        best = min(best, time.process_time() - start)
    return n, best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--repeat", type=int, default=5, help="best of N runs")
    ap.add_argument("--store", action="store_true", help="also measure end to end into SQLite")
    args = ap.parse_args()
    files = files_under(args.paths)
    if not files:
        print("no .evtx files found", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} files, {size / 1e6:.1f} MB; CPU time, best of {args.repeat}, 1 parser thread")
    alone = best_cpu(evtx_alone, files, args.repeat)
    loads = best_cpu(evtx_and_loads, files, args.repeat)
    canh = best_cpu(canh_reader, files, args.repeat)
    rates = []
    for label, (n, secs) in (
        ("evtx alone (records_json)", alone), ("evtx + orjson.loads", loads), ("canh EvtxReader (parse + ECS)", canh),
    ):  # fmt: skip
        rates.append(n / secs)
        print(f"{label + ':':31s} {n} records in {secs:.3f} s CPU = {n / secs:>9,.0f} records/s"
              f" ({1e6 * secs / n:.1f} us/record)")  # fmt: skip
    print(f"ratio: {100 * rates[2] / rates[0]:.0f}% of evtx alone (target >= 80%); "
          f"decoding the JSON alone leaves at most {100 * rates[1] / rates[0]:.0f}%")  # fmt: skip
    if args.store:
        from canh.store.sqlite import SQLiteStore

        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp) / "canh.db")
            start = time.perf_counter()
            n = canh_reader(files, store)
            secs = time.perf_counter() - start
            store.close()
        print(f"end to end into SQLite (wall):   {n} records in {secs:.2f} s = {n / secs:,.0f} records/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
