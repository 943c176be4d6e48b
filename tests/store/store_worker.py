"""A second process for the concurrency tests: appends notes to an incident with retry on conflict.

Usage: store_worker.py sqlite PATH NAME N | store_worker.py elasticsearch URL PREFIX NAME N
"""

from __future__ import annotations

import sys

from canh.errors import ConflictError
from canh.store.base import Store


def open_store(argv: list[str]) -> tuple[Store, list[str]]:
    if argv[0] == "sqlite":
        from canh.store.sqlite import SQLiteStore

        return SQLiteStore(argv[1]), argv[2:]
    from elasticsearch import Elasticsearch

    from canh.store.elasticsearch import ElasticsearchStore

    return ElasticsearchStore(Elasticsearch(argv[1], request_timeout=60), prefix=argv[2], url=argv[1]), argv[
        3:
    ]


def main() -> None:
    store, (name, count) = open_store(sys.argv[1:])
    for i in range(int(count)):
        while True:
            current = store.get_doc("incidents", "INC-9")
            assert current is not None
            try:
                store.put_doc(
                    "incidents", "INC-9", {"notes": [*current.doc["notes"], f"{name}{i}"]}, expect=current
                )
                break
            except ConflictError:
                continue
        store.update_alerts(["al1"], {f"triage.{name}": i})
    store.close()


if __name__ == "__main__":
    main()
