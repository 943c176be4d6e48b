"""The real Elasticsearch node the store tests run against (scripts/elasticsearch.sh starts it).

Each test gets its own index prefix, deleted afterwards, so tests never see each other's data and
can share one node with the other engineers' runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

ES_URL = os.environ.get("CANH_ES_URL", "http://127.0.0.1:9200")


@lru_cache(maxsize=1)
def node_problem() -> str | None:
    """Why no node can be used (None when one answers)."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL, request_timeout=5, max_retries=0)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="5s")
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    finally:
        client.close()
    return None


def require_node() -> str:
    """The node URL, or skip (fail in CI, where the node must be there)."""
    problem = node_problem()
    if problem:
        msg = (
            f"no Elasticsearch at {ES_URL} ({problem}); run scripts/elasticsearch.sh start "
            "or set CANH_ES_URL to an existing cluster"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return ES_URL


def es_store_for_test(tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    """An ElasticsearchStore with a unique index prefix whose indices are deleted on close."""
    from elasticsearch import Elasticsearch

    from canh.store.elasticsearch import ElasticsearchStore

    url = require_node()

    class DroppingStore(ElasticsearchStore):
        def close(self) -> None:
            try:
                self.drain(force=True)
                self.drop()
            finally:
                self.client.close()

    prefix = "canhtest-" + uuid.uuid4().hex[:12]
    client = Elasticsearch(url, request_timeout=60, max_retries=0)
    opts: dict[str, object] = {
        "prefix": prefix,
        "url": url,
        "dead_letter": tmp_path / "es-dead-letter.jsonl",
    }
    opts.update(kwargs)
    return DroppingStore(client, **opts)  # type: ignore[arg-type]


@contextmanager
def both_stores(folder: Path, events: list[dict[str, Any]]) -> Iterator[tuple[Any, Any]]:
    """A SQLite store and an Elasticsearch store in ``folder``, both holding ``events`` (for tests
    that compare what the two return), closed and dropped afterwards."""
    from canh.store.sqlite import SQLiteStore

    es = es_store_for_test(folder)
    lite = SQLiteStore(folder / "canh.db")
    try:
        assert es.write("events", events).written == len(events)
        assert lite.write("events", events).written == len(events)
        es.refresh()
        yield lite, es
    finally:
        es.close()
        lite.close()
