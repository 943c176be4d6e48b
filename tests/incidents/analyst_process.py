"""One analyst as a separate process: read an incident, wait for the go signal, change it.

Run by test_concurrency.py; prints one JSON line with what happened.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from canh.clock import ManualClock
from canh.errors import ConflictError
from canh.incidents.desk import IncidentDesk
from canh.store.base import Store


def open_store(kind: str, where: str) -> Store:
    if kind == "sqlite":
        from canh.store.sqlite import SQLiteStore

        return SQLiteStore(where)
    from elasticsearch import Elasticsearch

    from canh.store.elasticsearch import ElasticsearchStore

    url, prefix = where.split("|")
    return ElasticsearchStore(Elasticsearch(url, request_timeout=60, max_retries=0), prefix=prefix, url=url)


def main() -> None:
    kind, where, inc_id, who, sync = sys.argv[1:6]
    store = open_store(kind, where)
    desk = IncidentDesk(store, ManualClock("2026-11-22T01:05:00Z"), actor=who)
    _, seen = desk.get(inc_id)
    Path(sync, f"{who}.ready").write_text("ready")
    deadline = time.monotonic() + 60
    while not Path(sync, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    out: dict[str, object] = {"who": who, "read_version": seen.version}
    try:
        desk.comment(inc_id, f"nhận xét của {who}", expect=seen)
        out["result"] = "written"
    except ConflictError as exc:
        out["result"] = "conflict"
        out["message"] = exc.render("en")
        out["fresh_comments"] = [c["text"] for c in exc.current.doc["comments"]]
        # Redo the change on the fresh state, as the message tells the analyst to.
        desk.comment(inc_id, f"nhận xét của {who}", expect=exc.current)
        out["retried"] = True
    store.close()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
