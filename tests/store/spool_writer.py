"""A collector stand-in for the spool test: writes events [start, end) in batches, says how far it got.

Usage: spool_writer.py URL PREFIX SPOOL_DIR START END BATCH
Prints ``sent N`` after each batch write() returned (the collector's checkpoint), ``done`` at the end.
"""

from __future__ import annotations

import sys
import time

from elasticsearch import Elasticsearch

from canh.store.elasticsearch import ElasticsearchStore


def event(i: int) -> dict[str, object]:
    day = 20 + i % 2
    return {
        "@timestamp": f"2026-11-{day}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.000Z",
        "event": {"id": f"spool{i:010d}", "dataset": "test.spool", "ingested": "2026-11-22T00:00:00.000Z"},
        "message": f"event number {i}",
        "source": {"ip": f"10.{i % 250}.{(i // 250) % 250}.1"},
    }


def main() -> None:
    url, prefix, spool_dir, start, end, batch = sys.argv[1:7]
    client = Elasticsearch(url, request_timeout=10, max_retries=0)
    store = ElasticsearchStore(client, prefix=prefix, url=url, spool_dir=spool_dir, max_retries=2)
    i = int(start)
    while i < int(end):
        n = min(int(batch), int(end) - i)
        store.write("events", [event(j) for j in range(i, i + n)])
        i += n
        print(f"sent {i}", flush=True)
    while not store.drain(force=True):
        time.sleep(0.5)
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
