"""Correlation state and throughput: RSS with 1,000,000 distinct group keys held, and events/second.

Run: .venv/bin/python bench/correlate.py [--keys 1000000] [--events 1000000]
Prints figures only (no assertions); the issue's target is correlation state for 1,000,000 keys
under 1 GB.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime, timedelta

from canh.rules.correlate import CorrelationSpec, Correlator


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def brute_force_spec() -> CorrelationSpec:
    return CorrelationSpec(
        id="bench-bf",
        title="SSH brute force",
        type="event_count",
        rules=(frozenset({"ssh_failed"}),),
        timespan=timedelta(minutes=5),
        group_by=("source.ip",),
        bounds=(("gte", 10),),
    )


def spray_spec() -> CorrelationSpec:
    return CorrelationSpec(
        id="bench-spray",
        title="Port scan",
        type="value_count",
        rules=(frozenset({"fw"}),),
        timespan=timedelta(minutes=5),
        group_by=("source.ip",),
        value_fields=("destination.port",),
        bounds=(("gte", 20),),
    )


def ip(i: int) -> str:
    return f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    t0 = datetime(2026, 11, 21, tzinfo=UTC)

    # 1. Memory: every event a new source inside one window, so every key stays held.
    # Events are built on the fly and dropped, so the figure includes the group keys and the event
    # ids the state keeps, as it would in the engine.
    gc.collect()
    base = rss_mb()
    c = Correlator([brute_force_spec()], max_keys=args.keys)
    matched = {"ssh_failed"}
    start = time.perf_counter()
    for i in range(args.keys):
        c.feed(
            matched,
            {"source": {"ip": ip(i)}, "event": {"id": f"{i:020x}"}},
            t0 + timedelta(microseconds=i * 50),
        )
    took = time.perf_counter() - start
    gc.collect()
    held = rss_mb() - base
    print(f"distinct keys held: {c.stats()['keys']:,}")
    per_key = held * 1024 * 1024 / max(1, c.stats()["keys"])
    print(f"correlation state: {held:,.0f} MB RSS ({per_key:.0f} B/key, keys and event ids included)")
    print(f"feed, all-new keys: {args.keys / took:,.0f} events/s")
    del c
    gc.collect()

    # 2. Throughput: a realistic mix, 5,000 sources over a day, brute force + port scan specs.
    n = args.events
    evs: list[dict[str, object]] = [
        {"source": {"ip": ip(i % 5000)}, "destination": {"port": i % 1000}, "event": {"id": f"{i:020x}"}}
        for i in range(n)
    ]
    both = {"ssh_failed", "fw"}
    stamps = [t0 + timedelta(seconds=i * 86400 / n) for i in range(n)]
    c = Correlator([brute_force_spec(), spray_spec()])
    start = time.perf_counter()
    hits = 0
    for e, ts in zip(evs, stamps, strict=True):
        hits += len(c.feed(both, e, ts))
    took = time.perf_counter() - start
    print(
        f"feed, 2 correlations, 5,000 sources over a day: {n / took:,.0f} events/s ({hits:,} hits, stats {c.stats()})"
    )
    print(f"peak RSS: {rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
