"""What only the embedded store has: its file, schema migrations, and readers in other processes."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest

from canh.errors import StoreError
from canh.events import new_event
from canh.store.base import ANY
from canh.store.sqlite import SCHEMA_VERSION, SQLiteStore


def _events(n: int, start: int = 0) -> list[dict]:
    return [
        new_event(
            timestamp=f"2026-11-22T01:00:{i % 60:02d}.000Z",
            dataset="t",
            module="t",
            source="/x.log",
            position=i,
            message=f"event {i}",
        )
        for i in range(start, start + n)
    ]


def test_new_file_is_migrated_to_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    store = SQLiteStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in conn.execute("SELECT version FROM schema_version")] == list(
        range(1, SCHEMA_VERSION + 1)
    )
    conn.close()
    SQLiteStore(path).close()  # reopening applies nothing twice


def test_a_file_from_a_newer_canh_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer Canh"):
        SQLiteStore(path)


def _reader(path: str, rounds: int, out: mp.Queue) -> None:
    store = SQLiteStore(path)
    seen = []
    for _ in range(rounds):
        seen.append(store.count("events"))
    store.close()
    out.put(seen)


def test_reader_in_another_process_sees_only_whole_batches(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    writer = SQLiteStore(path, batch_size=1000)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_reader, args=(str(path), 300, out))
    proc.start()
    for k in range(20):
        writer.write("events", _events(1000, start=k * 1000))
    seen = out.get(timeout=120)
    proc.join(timeout=30)
    writer.close()
    assert seen == sorted(seen), "counts went backwards"
    assert all(n % 1000 == 0 for n in seen), "a reader saw a half-written batch"


def test_batches_of_many_statements_count_new_and_duplicate_records(tmp_path: Path) -> None:
    # Sizes off the 100-row statement boundary, duplicates across writes and inside one write.
    path = tmp_path / "many.db"
    store = SQLiteStore(path, batch_size=250)
    first = store.write("events", _events(730))
    again = _events(430, start=500)  # 230 stored already, 200 new
    second = store.write("events", again + again[:7])
    assert (first.written, first.duplicates) == (730, 0)
    assert (second.written, second.duplicates) == (200, 237)
    assert store.count("events") == 930
    assert store.count("events", "_exists_:host.name") == 0
    assert store.count("events", "event.dataset:t") == 930
    store.close()
    conn = sqlite3.connect(path)
    types = conn.execute("SELECT DISTINCT typeof(host), typeof(src_ip), typeof(ts) FROM events").fetchall()
    assert types == [("null", "null", "integer")]  # absent columns are NULL, not a stored NaN
    conn.close()


def test_odd_values_in_indexed_fields_never_fail_the_batch(tmp_path: Path) -> None:
    from canh.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "odd.db")
    try:
        events = [
            {
                "@timestamp": "2026-11-21T10:00:00.000Z",
                "event": {"id": "n1"},
                "host": {"name": [["bastion-01"]]},
            },
            {"@timestamp": "2026-11-21T10:00:01.000Z", "event": {"id": "n2"}, "user": {"name": {"a": 1}}},
            {"@timestamp": "2026-11-21T10:00:02.000Z", "event": {"id": "n3", "action": True}},
            {"@timestamp": "2026-11-21T10:00:03.000Z", "event": {"id": "n4"}, "host": {"name": "plain"}},
        ]
        result = store.write("events", events)
        assert result.written == 4 and not result.failed
        assert [e["event"]["id"] for e in store.search("events", 'host.name:"bastion-01"', limit=5)] == ["n1"]
        assert store.get_records("events", ["n2"])[0]["user"] == {"name": {"a": 1}}  # the document is whole
    finally:
        store.close()


def test_a_deleted_incident_is_zeroed_in_the_file_after_event_batches(tmp_path: Path) -> None:
    # Event batches turn secure_delete off for themselves only (they delete nothing); a deleted or
    # replaced dossier must still leave no readable copy in the database file or its WAL.
    path = tmp_path / "secure.db"
    store = SQLiteStore(path, batch_size=200)
    secret = "SECRET-dossier-4f7a91"
    store.put_doc("incidents", "inc-1", {"title": secret, "pad": "x" * 3000}, expect=ANY)
    store.write("events", _events(1500))
    store.put_doc("incidents", "inc-1", {"title": "replaced", "pad": "y" * 3000}, expect=ANY)
    store.write("events", _events(1500, start=1500))
    store.delete_doc("incidents", "inc-1", expect=ANY)
    store.close()  # checkpoints the WAL into the file
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("secure.db"))
    assert SQLiteStore(path).count("events") == 3000
    assert secret.encode() not in data
    assert b"y" * 3000 not in data
