"""Events/second into a local Elasticsearch: Canh's writer vs the client's plain helpers.parallel_bulk.

Usage: python bench/ingest_es.py [--events 200000] [--url http://127.0.0.1:9200]
Same parsed events, same node, fresh indices for each run; prints the rates, their ratio and the
share of CPU the node used meanwhile (from /proc, when the node runs on this machine).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from canh.events import new_event
from canh.store.elasticsearch import ElasticsearchStore


def make_events(n: int) -> list[dict[str, Any]]:
    base = datetime(2026, 11, 22, tzinfo=UTC)
    users = ["root", "admin", "quantri", "nguyen.van.a", "www-data"]
    out = []
    for i in range(n):
        ev = new_event(
            timestamp=base + timedelta(milliseconds=i * 50),
            dataset="linux.auth",
            module="system",
            source="/var/log/auth.log",
            position=i * 120,
            original=f"Nov 22 08:00:00 web-01 sshd[{1000 + i % 500}]: Failed password for {users[i % 5]} "
            f"from 10.{i % 200}.{i % 7}.{i % 250} port {40000 + i % 20000} ssh2",
            message=f"Failed password for {users[i % 5]} from 10.{i % 200}.{i % 7}.{i % 250}",
            host="web-01",
        )
        ev["source"] = {"ip": f"10.{i % 200}.{i % 7}.{i % 250}", "port": 40000 + i % 20000}
        ev["user"] = {"name": users[i % 5]}
        ev["event"]["action"] = "ssh_login"
        ev["event"]["outcome"] = "failure"
        out.append(ev)
    return out


def node_cpu_seconds() -> float | None:
    """utime+stime of the local Elasticsearch JVM (None if it is not on this machine)."""
    for pid_file in Path("/var/lib/canh-es").glob("node-*/es.pid"):
        try:
            fields = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return None


def timed(label: str, fn: Any, n: int) -> float:
    cpu0, t0 = node_cpu_seconds(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    cpu1 = node_cpu_seconds()
    share = (
        f"{(cpu1 - cpu0) / wall / (os.cpu_count() or 1):.0%} of {os.cpu_count()} cores"
        if cpu0 and cpu1
        else "n/a"
    )
    print(f"{label:<28} {n / wall:>10,.0f} events/s  ({wall:.1f} s, node CPU {share})")
    return n / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--url", default=os.environ.get("CANH_ES_URL", "http://127.0.0.1:9200"))
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    events = make_events(args.events)
    client = Elasticsearch(args.url, request_timeout=120)
    print(
        f"{args.events:,} events, Elasticsearch {client.nodes.info()['nodes'].popitem()[1]['version']} at {args.url}"
    )
    canh_rates, plain_rates, same_rates = [], [], []
    for _ in range(args.rounds):
        prefix = "canhbench-" + uuid.uuid4().hex[:8]
        store = ElasticsearchStore(client, prefix=prefix, url=args.url)
        store.setup()
        try:
            canh_rates.append(timed("canh writer", lambda s=store: s.write("events", events), len(events)))
        finally:
            store.drop()

        prefix = "canhbench-" + uuid.uuid4().hex[:8]
        ref = ElasticsearchStore(client, prefix=prefix, url=args.url)
        ref.setup()  # same templates and mappings: only the sending differs

        def plain(ref: ElasticsearchStore = ref) -> None:
            actions = (
                {
                    "_op_type": "create",
                    "_index": ref.index_for("events", 1795305600000),
                    "_id": e["event"]["id"],
                    "_source": e,
                }
                for e in events
            )
            for ok, item in helpers.parallel_bulk(client, actions, chunk_size=2000, raise_on_error=False):
                if not ok:
                    raise RuntimeError(item)

        try:
            plain_rates.append(timed("helpers.parallel_bulk", plain, len(events)))
        finally:
            ref.drop()

        # The same documents Canh indexes (its bookkeeping included), prepared
        # outside the clock: what remains is the cost of the writer itself.
        prefix = "canhbench-" + uuid.uuid4().hex[:8]
        same = ElasticsearchStore(client, prefix=prefix, url=args.url)
        same.setup()
        prepared = list(same._actions("events", events, 0, []))

        def plain_same(docs: list[tuple[str, str, dict[str, Any]]] = prepared) -> None:
            actions = ({"_op_type": "create", "_index": i, "_id": d, "_source": doc} for i, d, doc in docs)
            for ok, item in helpers.parallel_bulk(client, actions, chunk_size=2000, raise_on_error=False):
                if not ok:
                    raise RuntimeError(item)

        try:
            same_rates.append(timed("parallel_bulk, same docs", plain_same, len(events)))
        finally:
            same.drop()
    best_canh, best_plain, best_same = max(canh_rates), max(plain_rates), max(same_rates)
    print(f"best: canh {best_canh:,.0f}/s")
    print(f"  vs parallel_bulk, raw events:      {best_plain:,.0f}/s, ratio {best_canh / best_plain:.2f}")
    print(f"  vs parallel_bulk, same documents:  {best_same:,.0f}/s, ratio {best_canh / best_same:.2f}")


if __name__ == "__main__":
    main()
