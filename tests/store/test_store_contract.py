"""The store contract: every implementation (SQLite, Elasticsearch) behaves the same for these."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from canh.errors import ConflictError, NotFoundError
from canh.query import matcher
from canh.store.base import ANY, NEW, Bucket, Store
from tests.store.events_sample import ALL_IDS, QUERIES, SAMPLE


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["event"]["id"] for r in records]


@pytest.fixture
def loaded(store: Store) -> Store:
    result = store.write("events", SAMPLE)
    assert result.written == len(SAMPLE)
    store.refresh()
    return store


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- writes -------------------------------------------------------------------------------------------
def test_rewriting_the_same_events_adds_nothing(store: Store) -> None:
    first = store.write("events", SAMPLE)
    second = store.write("events", SAMPLE)
    store.refresh()
    assert (first.written, first.duplicates) == (len(SAMPLE), 0)
    assert (second.written, second.duplicates) == (0, len(SAMPLE))
    assert store.count("events") == len(SAMPLE)


def test_a_store_reads_its_own_writes_without_refresh(store: Store) -> None:
    store.write("events", SAMPLE[:4])
    assert store.count("events") == 4
    assert ids(store.search("events", "host.name:web-02")) == ["ev004"]


def test_a_record_without_id_is_reported_and_the_rest_lands(store: Store) -> None:
    result = store.write("events", [{"@timestamp": "2026-11-22T00:00:00Z", "message": "no id"}, SAMPLE[0]])
    store.refresh()
    assert result.written == 1
    assert len(result.failed) == 1
    assert store.count("events") == 1


def test_records_read_back_as_written(loaded: Store) -> None:
    assert loaded.get_records("events", ["ev004"]) == [SAMPLE[3]]


# Stamps in other forms than Canh's own, absent ones, dotted keys: each reads back exactly as
# written and is found by the time it stands for (a store may index a canonical copy).
ODD_STAMPS: list[dict[str, Any]] = [
    {"@timestamp": "2026-11-21T10:00:00+07:00", "event": {"id": "odd1", "ingested": "2026-12-05T00:00:00Z"}},
    {"@timestamp": 1795231200000, "event": {"id": "odd2"}, "message": "epoch ms, no ingest time"},
    {
        "@timestamp": "2026-11-21T03:00:00.000Z",
        "event.id": "odd3",
        "event.ingested": "2026-12-05T01:00:00.5Z",
    },
    {"event": {"id": "odd4", "ingested": "2026-12-05T02:00:00.000Z"}, "message": "no @timestamp"},
    {"@timestamp": "2026-11-21T03:30:00.000Z", "event.id": "odd5", "message": "no event object"},
]


def test_odd_stamps_read_back_as_written_and_are_found_by_their_time(store: Store) -> None:
    assert store.write("events", ODD_STAMPS).written == 5
    store.refresh()
    got = store.get_records("events", ["odd1", "odd2", "odd3", "odd4", "odd5"])
    assert got == ODD_STAMPS
    # odd1 (03:00Z), odd2 (1795231200000 = 2026-11-21T03:20Z), odd3 (03:00Z), odd5 (03:30Z).
    since, until = utc("2026-11-21T03:00:00Z"), utc("2026-11-21T04:00:00Z")

    def odd_ids(records: list[dict[str, Any]]) -> list[str]:
        return sorted(r["event"]["id"] if "event" in r else r["event.id"] for r in records)

    assert odd_ids(store.search("events", since=since, until=until)) == ["odd1", "odd2", "odd3", "odd5"]
    late = store.search("events", since=utc("2026-12-05T00:30:00Z"), time_field="event.ingested")
    assert odd_ids(late) == ["odd3", "odd4"]
    assert store.search("events", "event.id:odd4", limit=5) == [ODD_STAMPS[3]]


# -- hunting queries ------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", QUERIES)
def test_query_matches_exactly_what_the_python_matcher_says(loaded: Store, query: str) -> None:
    expected = sorted(e["event"]["id"] for e in SAMPLE if matcher(query)(e))
    got = sorted(ids(loaded.search("events", query, limit=1000)))
    assert got == expected
    assert loaded.count("events", query) == len(expected)


def test_keyword_fields_are_exact_and_case_sensitive(loaded: Store) -> None:
    assert sorted(ids(loaded.search("events", "host.name:web-01"))) == ["ev001", "ev002", "ev010"]
    assert ids(loaded.search("events", "host.name:WEB-01")) == ["ev003"]
    assert loaded.count("events", "host.name:web") == 0


def test_text_fields_match_words_case_insensitively(loaded: Store) -> None:
    assert sorted(ids(loaded.search("events", "message:failed"))) == ["ev001", "ev003"]
    assert sorted(ids(loaded.search("events", 'message:"failed password"'))) == ["ev001", "ev003"]
    assert loaded.count("events", 'message:"password failed"') == 0


def test_bare_words_search_message_with_and(loaded: Store) -> None:
    assert ids(loaded.search("events", "failed root")) == ["ev001"]
    assert sorted(ids(loaded.search("events", "failed OR accepted"))) == ["ev001", "ev002", "ev003"]


def test_cidr_range_exists_and_not(loaded: Store) -> None:
    assert sorted(ids(loaded.search("events", "source.ip:10.0.0.0/8"))) == [
        "ev001",
        "ev003",
        "ev007",
        "ev008",
    ]
    assert sorted(ids(loaded.search("events", "destination.port:[20 TO 443]"))) == [
        "ev001",
        "ev002",
        "ev004",
        "ev005",
        "ev008",
    ]
    assert loaded.count("events", "_exists_:user.name") == 5
    assert loaded.count("events", "NOT _exists_:user.name") == len(SAMPLE) - 5


def test_time_window_is_half_open(loaded: Store) -> None:
    since, until = utc("2026-11-21T03:00:00Z"), utc("2026-11-21T04:30:00Z")
    got = ids(loaded.search("events", since=since, until=until, order="asc"))
    assert got == ["ev004", "ev005", "ev006"]
    assert loaded.count("events", since=since, until=until) == 3


def test_time_field_can_be_ingest_time(loaded: Store) -> None:
    # The sample's ingest times are ten days after the event times.
    since = utc("2026-12-02T00:00:00Z")
    assert loaded.count("events", since=since, time_field="event.ingested") == 5
    assert loaded.count("events", since=since) == 0


def test_search_orders_by_time_then_id_and_limits(loaded: Store) -> None:
    assert ids(loaded.search("events", limit=3)) == ["ev012", "ev011", "ev010"]
    assert ids(loaded.search("events", limit=2, order="asc")) == ["ev001", "ev002"]


def test_bad_query_is_a_clear_error(loaded: Store) -> None:
    from canh.errors import QueryError

    with pytest.raises(QueryError):
        loaded.search("events", "host.name:(web AND")


# -- aggregations and scans ---------------------------------------------------------------------------------
def test_terms_most_frequent_first_ties_by_value(loaded: Store) -> None:
    assert loaded.terms("events", "event.dataset", size=3) == [
        Bucket("linux.audit", 3),
        Bucket("linux.auth", 3),
        Bucket("nginx.access", 2),
    ]
    assert loaded.terms("events", "host.name", "event.dataset:linux.auth") == [
        Bucket("web-01", 2),
        Bucket("WEB-01", 1),
    ]


def test_terms_on_numbers(loaded: Store) -> None:
    assert loaded.terms("events", "destination.port", size=2) == [Bucket(22, 2), Bucket(443, 2)]


def test_histogram_counts_per_interval(loaded: Store) -> None:
    got = loaded.histogram("events", timedelta(days=1))
    assert got == [
        Bucket(utc("2026-11-20T00:00:00Z"), 3),
        Bucket(utc("2026-11-21T00:00:00Z"), 4),
        Bucket(utc("2026-11-22T00:00:00Z"), 5),
    ]
    hourly = loaded.histogram("events", timedelta(hours=1), "event.dataset:linux.auth")
    assert hourly == [Bucket(utc("2026-11-20T01:00:00Z"), 2), Bucket(utc("2026-11-20T02:00:00Z"), 1)]


def test_scan_returns_everything_oldest_first_across_batches(loaded: Store) -> None:
    assert ids(list(loaded.scan("events", batch=5))) == ALL_IDS
    assert ids(list(loaded.scan("events", "host.name:web-01", batch=1))) == ["ev001", "ev002", "ev010"]


def test_scan_ties_on_time_are_ordered_by_id(store: Store) -> None:
    same = [
        {
            "@timestamp": "2026-11-22T00:00:00.000Z",
            "event": {"id": f"t{i:02d}", "ingested": "2026-11-22T00:00:00.000Z"},
        }
        for i in (5, 1, 9, 3, 7, 2)
    ]
    store.write("events", same)
    store.refresh()
    assert ids(list(store.scan("events", batch=2))) == ["t01", "t02", "t03", "t05", "t07", "t09"]


def test_get_records_in_the_order_asked_missing_left_out(loaded: Store) -> None:
    got = loaded.get_records("events", ["ev009", "nope", "ev001", "ev005"])
    assert ids(got) == ["ev009", "ev001", "ev005"]


# -- alerts and audit -------------------------------------------------------------------------------------------
def _alert(n: int) -> dict[str, Any]:
    return {
        "id": f"al{n}",
        "@timestamp": f"2026-11-22T0{n}:00:00.000Z",
        "rule": {"id": "r1", "name": "SSH brute force"},
        "event": {"severity_label": "high"},
        "host": {"name": "web-01"},
        "kibana": {"alert": {"workflow_status": "open"}},
    }


def test_update_alerts_sets_fields_and_counts_changes(store: Store) -> None:
    store.write("alerts", [_alert(1), _alert(2), _alert(3)])
    store.refresh()
    n = store.update_alerts(
        ["al1", "al3", "missing"], {"kibana.alert.workflow_status": "closed", "incident.id": "INC-1"}
    )
    store.refresh()
    assert n == 2
    closed = store.search("alerts", "kibana.alert.workflow_status:closed", order="asc")
    assert [a["id"] for a in closed] == ["al1", "al3"]
    assert closed[0]["incident"]["id"] == "INC-1"
    assert closed[0]["rule"]["name"] == "SSH brute force"
    assert store.count("alerts", "incident.id:INC-1") == 2


def test_audit_is_append_only(store: Store) -> None:
    entry = {
        "id": "au1",
        "@timestamp": "2026-11-22T01:00:00.000Z",
        "action": "incident.create",
        "object": {"id": "INC-1"},
    }
    forged = {**entry, "action": "incident.delete"}
    assert store.write("audit", [entry]).written == 1
    assert store.write("audit", [forged]).duplicates == 1
    store.refresh()
    assert store.get_records("audit", ["au1"]) == [entry]
    assert not hasattr(store, "update_audit")


# -- versioned documents -------------------------------------------------------------------------------------------
def test_create_only_once(store: Store) -> None:
    store.put_doc("incidents", "INC-1", {"title": "Brute force", "status": "new"}, expect=NEW)
    with pytest.raises(ConflictError) as info:
        store.put_doc("incidents", "INC-1", {"title": "other"}, expect=NEW)
    assert info.value.current.doc["title"] == "Brute force"


def test_stale_update_is_refused_with_the_current_version(store: Store) -> None:
    v1 = store.put_doc("incidents", "INC-1", {"title": "Brute force", "status": "new"}, expect=NEW)
    read = store.get_doc("incidents", "INC-1")
    assert read is not None and read.version == 1 and read.doc == {"title": "Brute force", "status": "new"}
    v2 = store.put_doc("incidents", "INC-1", {**read.doc, "status": "triage"}, expect=read)
    assert v2.version == 2
    with pytest.raises(ConflictError) as info:
        store.put_doc("incidents", "INC-1", {**v1.doc, "status": "closed"}, expect=v1)
    assert info.value.current.version == 2
    assert info.value.current.doc["status"] == "triage"
    again = store.get_doc("incidents", "INC-1")
    assert again is not None and again.doc["status"] == "triage"
    # Retrying on the current version succeeds.
    v3 = store.put_doc(
        "incidents", "INC-1", {**info.value.current.doc, "status": "closed"}, expect=info.value.current
    )
    assert v3.version == 3


def test_any_overwrites_and_counts_versions(store: Store) -> None:
    assert store.put_doc("state", "cursor", {"at": 1}, expect=ANY).version == 1
    assert store.put_doc("state", "cursor", {"at": 2}, expect=ANY).version == 2
    got = store.get_doc("state", "cursor")
    assert got is not None and got.doc == {"at": 2} and got.version == 2


def test_delete_under_the_same_rule(store: Store) -> None:
    v1 = store.put_doc("systems", "S1", {"name": "Cổng dịch vụ công"}, expect=NEW)
    v2 = store.put_doc("systems", "S1", {"name": "Cổng dịch vụ công", "level": 3}, expect=v1)
    with pytest.raises(ConflictError):
        store.delete_doc("systems", "S1", expect=v1)
    store.delete_doc("systems", "S1", expect=v2)
    assert store.get_doc("systems", "S1") is None
    with pytest.raises(NotFoundError):
        store.put_doc("systems", "S1", {"name": "x"}, expect=v2)
    store.delete_doc("systems", "S1", expect=ANY)  # deleting what is gone with ANY is fine
    assert store.put_doc("systems", "S1", {"name": "again"}, expect=NEW).version == 1
    got = store.get_doc("systems", "S1")
    assert got is not None and got.version == 1


def test_find_docs_query_and_sort(store: Store) -> None:
    for i, (status, sev) in enumerate(
        [("new", "high"), ("closed", "low"), ("new", "medium"), ("triage", "high")]
    ):
        store.put_doc(
            "incidents", f"INC-{i}", {"status": status, "severity": sev, "title": f"case {i}"}, expect=NEW
        )
    store.refresh()
    assert [v.id for v in store.find_docs("incidents", "status:new")] == ["INC-0", "INC-2"]
    assert [v.id for v in store.find_docs("incidents", sort="-severity")] == [
        "INC-2",
        "INC-1",
        "INC-0",
        "INC-3",
    ]
    assert [v.id for v in store.find_docs("incidents", "NOT status:closed", limit=2)] == ["INC-0", "INC-2"]
    assert all(v.version == 1 for v in store.find_docs("incidents"))


def test_stats_count_records_and_documents(loaded: Store) -> None:
    loaded.put_doc("incidents", "INC-1", {"title": "x"}, expect=NEW)
    stats = loaded.stats()
    assert stats["store"] == loaded.name
    assert stats["records"]["events"] == len(SAMPLE)
    assert stats["documents"].get("incidents") == 1


# -- two processes ---------------------------------------------------------------------------------------------------
WORKER = Path(__file__).with_name("store_worker.py")


def _spec(store: Store) -> list[str]:
    if store.name == "sqlite":
        return ["sqlite", str(store.path)]  # type: ignore[attr-defined]
    return ["elasticsearch", store.url, store.prefix]  # type: ignore[attr-defined]


def test_two_processes_updating_one_incident_lose_nothing(store: Store) -> None:
    store.put_doc("incidents", "INC-9", {"notes": []}, expect=NEW)
    store.write("alerts", [_alert(1)])
    store.refresh()
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *_spec(store), name, "15"], cwd=Path(__file__).parents[2]
        )
        for name in ("a", "b")
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    store.refresh()
    final = store.get_doc("incidents", "INC-9")
    assert final is not None
    assert sorted(final.doc["notes"]) == sorted([f"a{i}" for i in range(15)] + [f"b{i}" for i in range(15)])
    assert final.version == 31
    alert = store.get_records("alerts", ["al1"])[0]
    assert alert["triage"]["a"] == 14 and alert["triage"]["b"] == 14
