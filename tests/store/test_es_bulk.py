"""Bulk writes against a real node: byte-sized chunks, overload retries, per-document failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from canh.store.bulk import chunks
from canh.store.elasticsearch import ElasticsearchStore


@pytest.fixture
def es(tmp_path: Path) -> Iterator[ElasticsearchStore]:
    from tests.store.es_node import es_store_for_test

    s = es_store_for_test(tmp_path, spool_dir=tmp_path / "spool", max_retries=6)
    try:
        yield s
    finally:
        s.close()


def _ev(i: int, **extra: object) -> dict[str, object]:
    return {"@timestamp": "2026-11-22T01:00:00.000Z", "event": {"id": f"b{i:06d}"}, **extra}


def test_chunks_are_cut_by_count_and_by_bytes() -> None:
    docs = [("i", str(n), {"pad": "x" * 1000}) for n in range(50)]
    by_count = list(chunks(docs, max_docs=20, max_bytes=10**9))
    assert [len(c) for c in by_count] == [20, 20, 10]
    by_bytes = list(chunks(docs, max_docs=1000, max_bytes=5000))
    assert all(sum(len(b) for *_, b in c) <= 5000 for c in by_bytes)
    assert sum(len(c) for c in by_bytes) == 50


def test_mapping_conflicts_go_to_the_dead_letter_file_and_the_rest_lands(
    es: ElasticsearchStore, tmp_path: Path
) -> None:
    es.write("events", [_ev(0, user={"name": "root"}, destination={"port": 22})])
    es.refresh()
    batch = [
        _ev(1, user="root-as-text"),
        _ev(2, destination={"port": "not-a-number"}),
        _ev(3, user={"name": "ok"}),
    ]
    result = es.write("events", batch)
    es.refresh()
    assert result.written == 1
    assert sorted(i for i, _ in result.failed) == ["b000001", "b000002"]
    assert es.count("events") == 2
    lines = [orjson.loads(x) for x in (tmp_path / "es-dead-letter.jsonl").read_bytes().splitlines()]
    assert {x["id"] for x in lines} == {"b000001", "b000002"}
    assert all(x["reason"] and x["record"]["event"]["id"] == x["id"] for x in lines)
    assert "canh_meta" not in lines[0]["record"]


def test_overload_is_retried_for_the_failed_documents_only(es: ElasticsearchStore) -> None:
    es.write("events", [_ev(0)])
    es.refresh()
    index = es.index_for("events", 1795309200000)
    # A read-only-allow-delete block is what a node puts on an index when its disk fills: every write
    # gets 429 until the block is lifted. Lift it while the writer is backing off.
    es.client.indices.put_settings(index=index, settings={"index.blocks.read_only_allow_delete": True})
    lift = threading.Timer(
        1.5,
        lambda: es.client.indices.put_settings(
            index=index, settings={"index.blocks.read_only_allow_delete": None}
        ),
    )
    lift.start()
    started = time.monotonic()
    try:
        result = es.write("events", [_ev(i) for i in range(0, 200)])
    finally:
        lift.join()
    es.refresh()
    assert time.monotonic() - started >= 1.0  # it waited instead of failing
    assert (result.written, result.duplicates, result.failed) == (199, 1, ())
    assert es.count("events") == 200


def test_overload_that_outlasts_the_retries_goes_to_the_spool_and_replays(es: ElasticsearchStore) -> None:
    es.write("events", [_ev(0, event={"id": "b000000", "ingested": "2020-01-01T00:00:00.000Z"})])
    es.refresh()
    index = es.index_for("events", 1795309200000)
    es.client.indices.put_settings(index=index, settings={"index.blocks.read_only_allow_delete": True})
    es.writer.max_retries = 1
    es.writer.initial_backoff = 0.05
    stale = {"id": "", "ingested": "2020-01-01T00:00:00.000Z"}
    result = es.write("events", [_ev(i, event={**stale, "id": f"b{i:06d}"}) for i in range(1, 51)])
    assert result.written == 0 and es.spooled == 50
    assert es.spool is not None and not es.spool.empty()
    es.client.indices.put_settings(index=index, settings={"index.blocks.read_only_allow_delete": None})
    before = datetime.now(UTC) - timedelta(seconds=5)
    es.refresh()  # drains the spool first
    assert es.spool.empty()
    assert es.count("events") == 51
    # Their ingest time is when they reached the cluster, so scheduled detection still sees them.
    assert es.count("events", since=before, time_field="event.ingested") == 50


def test_monthly_indices_hold_a_year_of_backfill_in_twelve_and_stay_idempotent(tmp_path: Path) -> None:
    from tests.store.es_node import es_store_for_test

    s = es_store_for_test(tmp_path, index_period="month")
    try:
        s.setup()
        start = datetime(2025, 1, 1, 12, tzinfo=UTC)
        events = [
            {
                "@timestamp": (start + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "event": {"id": f"m{d:03d}"},
            }
            for d in range(365)
        ]
        s.write("events", events)
        s.write("events", events)  # a re-ingest lands in the same monthly index: no second copy
        s.refresh()
        names = sorted(s.client.indices.get(index=s.read_target("events")).keys())
        assert [n.rsplit("-", 1)[1] for n in names] == [f"2025.{m:02d}" for m in range(1, 13)]
        assert s.count("events", "*", since=start - timedelta(days=1)) == 365
    finally:
        s.close()
