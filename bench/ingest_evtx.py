"""EVTX records/second: the ``evtx`` package alone vs Canh's EvtxReader (parse + map to ECS), one core.

    python bench/ingest_evtx.py [PATH ...] [--repeat N] [--store]

PATH defaults to ../shared/corpus/evtx. Every figure is CPU time (``time.process_time``), best of
``--repeat`` runs, with one parser thread in every method, so the machine's other load and the
parser's own threads do not enter the comparison:

- "evtx alone" iterates ``records_json()``, as EvtxReader does;
- "evtx + orjson.loads" also decodes each record's JSON: no mapping from that JSON can be faster,
  so its ratio to "evtx alone" is the ceiling for any reader built on the Python API;
- "canh EvtxReader, Python" is the reader with the Python mapping (``CANH_EVTX_NATIVE=0``): decoding
  and the Winlogbeat-style mapping in winlog.py;
- "canh EvtxReader, native" is the reader ``canh ingest`` uses when native/evtx is built: the same
  events, parsed and mapped in Rust;
- "objects alone" builds copies of the native reader's events (new dicts, lists and strings, in
  native code): what making the ECS objects costs whatever the mapping, so "evtx alone" over
  ("evtx alone" + "objects alone") is the most any reader returning those events can reach.

``--store`` also writes the events into a fresh SQLite store (end to end, wall time).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from evtx import PyEvtxParser

from canh.collectors.evtx import EvtxReader, native_mapper
from canh.collectors.registry import LineContext, ReadProblem

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


def python_reader(files: list[Path]) -> int:
    os.environ["CANH_EVTX_NATIVE"] = "0"
    try:
        return canh_reader(files)
    finally:
        del os.environ["CANH_EVTX_NATIVE"]


def objects_alone(files: list[Path]) -> int:
    """Copies of the events (built once, outside the timing) made and dropped."""
    from canh.collectors._evtx_native import copy_event  # type: ignore[attr-defined]

    events = _EVENTS.setdefault("events", [e for f in files for e in EvtxReader().read(
        f, LineContext(source=str(f), position=0)) if not isinstance(e, ReadProblem)])  # fmt: skip
    start = time.process_time()
    for ev in events:
        copy_event(ev)
    _EVENTS["cpu"] = time.process_time() - start
    return len(events)


_EVENTS: dict[str, object] = {}


def _cpu_of(method: Callable[[list[Path]], int], files: list[Path]) -> float:
    method(files)
    return float(_EVENTS["cpu"])  # type: ignore[arg-type]


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
    python = best_cpu(python_reader, files, args.repeat)
    rows = [("evtx alone (records_json)", alone), ("evtx + orjson.loads", loads),
            ("canh EvtxReader, Python", python)]  # fmt: skip
    native = None
    if native_mapper() is not None:
        native = best_cpu(canh_reader, files, args.repeat)
        objects_alone(files)  # builds the events to copy
        floor = min(_cpu_of(objects_alone, files) for _ in range(args.repeat))
        rows += [("canh EvtxReader, native", native), ("objects alone (copies)", (native[0], floor))]
    for label, (n, secs) in rows:
        print(f"{label + ':':31s} {n} records in {secs:.3f} s CPU = {n / secs:>9,.0f} records/s"
              f" ({1e6 * secs / n:.1f} us/record)")  # fmt: skip
    rate = {label: n / secs for label, (n, secs) in rows}
    base = rate["evtx alone (records_json)"]
    print(f"ratio, Python mapping: {100 * rate['canh EvtxReader, Python'] / base:.0f}% of evtx alone (target >= 80%); "
          f"decoding the JSON alone leaves at most {100 * rate['evtx + orjson.loads'] / base:.0f}%")  # fmt: skip
    if native is not None:
        ceiling = 1 / (1 / base + 1 / rate["objects alone (copies)"])
        print(f"ratio, native: {100 * rate['canh EvtxReader, native'] / base:.0f}% of evtx alone (target >= 80%); "
              f"parsing plus making the events' objects leaves at most {100 * ceiling / base:.0f}%")  # fmt: skip
    else:
        print("native reader not built (native/evtx): no native figures")
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
