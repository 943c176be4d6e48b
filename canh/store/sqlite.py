"""The embedded store: one SQLite file in WAL mode, safe for a collector writing while the console reads.

Records keep their whole document as JSON beside a few indexed columns (time, host, dataset, action,
addresses, user); writes are batched in transactions and idempotent on id; schema changes are
numbered migrations recorded in ``schema_version``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from canh.errors import ConflictError, NotFoundError, StoreError
from canh.events import get, set_field
from canh.query import matcher, parse
from canh.store.base import (
    ANY,
    NEW,
    Bucket,
    DocKind,
    Store,
    Stream,
    Versioned,
    WriteResult,
    _Expect,
)
from canh.store.sqlite_rows import WIDTH, encode, scalar
from canh.store.sqlquery import SqlWhere, json_path, register_functions

SCHEMA_VERSION = 1

# Tables are clustered on the record id (WITHOUT ROWID): ids from one source are sequential (see
# canh.events.event_id), so the table itself is the dedup index and inserts append; one B-tree less
# per record than rowid + UNIQUE(id) (measured 60k → 86k inserts/s). 16 KiB pages suit ~700-byte rows.
# Each entry brings the schema from version i to i+1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        id TEXT NOT NULL PRIMARY KEY,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        host TEXT, dataset TEXT, action TEXT, src_ip TEXT, dst_ip TEXT, user_name TEXT,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_host ON events (host, ts);
    CREATE INDEX events_dataset ON events (dataset, ts);
    CREATE TABLE alerts (
        id TEXT NOT NULL PRIMARY KEY,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        rule_id TEXT, level TEXT, host TEXT,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX alerts_ts ON alerts (ts);
    CREATE INDEX alerts_rule ON alerts (rule_id, ts);
    CREATE TABLE audit (
        id TEXT NOT NULL PRIMARY KEY,
        ts INTEGER NOT NULL,
        ingested INTEGER NOT NULL,
        object_id TEXT,
        doc TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX audit_ts ON audit (ts);
    CREATE INDEX audit_object ON audit (object_id, ts);
    CREATE TABLE docs (
        kind TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) WITHOUT ROWID;
    """,
)

# Address and user indexes cost ~40% of ingest rate (random keys); opt-in with index_entities.
_ENTITY_INDEXES = (
    "CREATE INDEX IF NOT EXISTS events_src ON events (src_ip)",
    "CREATE INDEX IF NOT EXISTS events_dst ON events (dst_ip)",
    "CREATE INDEX IF NOT EXISTS events_user ON events (user_name)",
)

_TIME_COLUMNS = {"@timestamp": "ts", "event.ingested": "ingested"}
_COLUMNS: dict[str, dict[str, str]] = {
    "events": {
        "host.name": "host",
        "event.dataset": "dataset",
        "event.action": "action",
        "source.ip": "src_ip",
        "destination.ip": "dst_ip",
        "user.name": "user_name",
    },
    "alerts": {"rule.id": "rule_id", "event.severity_label": "level", "host.name": "host"},
    "audit": {"object.id": "object_id"},
}
_COLUMN_NAMES: dict[Stream, str] = {
    "events": "id, ts, ingested, host, dataset, action, src_ip, dst_ip, user_name, doc",
    "alerts": "id, ts, ingested, rule_id, level, host, doc",
    "audit": "id, ts, ingested, object_id, doc",
}
# Rows per INSERT: Python's sqlite3 pays a statement reset and a call per executemany item, which
# multi-row VALUES spreads over many rows (a quarter of SQLite's cost per event at 1 row; flat from
# ~20 to ~1,000 rows, so 100 keeps statements and their bound values small).
_ROWS_PER_INSERT = 100


def _insert_sql(stream: Stream, rows: int) -> str:
    marks = "(" + ",".join("?" * WIDTH[stream]) + ")"
    return f"INSERT OR IGNORE INTO {stream} ({_COLUMN_NAMES[stream]}) VALUES " + ",".join([marks] * rows)


_INSERT_ONE = {s: _insert_sql(s, 1) for s in _COLUMN_NAMES}
_INSERT_MANY = {s: _insert_sql(s, _ROWS_PER_INSERT) for s in _COLUMN_NAMES}


class SQLiteStore(Store):
    """The default store: everything in one SQLite file under the data folder."""

    name = "sqlite"

    def __init__(self, path: str | Path, *, batch_size: int = 5000, index_entities: bool = False) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                str(self.path), timeout=60, isolation_level=None, check_same_thread=False
            )
            # Costed on bench/ingest.py and kept as they are: 4, 8 and 32 KiB pages (-18 %, -9 %, -3 %),
            # 64 KiB (-3 %), wal_autocheckpoint of 4,000-16,000 pages (no gain in CPU within the
            # noise), 20,000-50,000-record transactions (+2-3 %, but `canh ingest` hands over 5,000). A
            # rowid table with UNIQUE(id) is +7 % and 13 % smaller, but moving to it rewrites the whole
            # table on upgrade and orders ties on time by a sort instead of the index.
            self._conn.execute("PRAGMA page_size=16384")  # only takes effect on a new file
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=60000")
            self._conn.execute("PRAGMA cache_size=-65536")
            self._conn.execute("PRAGMA temp_store=MEMORY")
            # Deleted or replaced incidents, register entries and alerts are zeroed in the file, on
            # every platform's SQLite (Debian's has this on, most others off); see _insert_values.
            self._conn.execute("PRAGMA secure_delete=ON")
            register_functions(self._conn)
            self._migrate()
            if index_entities:
                for statement in _ENTITY_INDEXES:
                    self._conn.execute(statement)
        except sqlite3.DatabaseError as exc:
            raise StoreError("store.failed", where=str(self.path), reason=str(exc)) from exc
        self._where = {s: SqlWhere(_COLUMNS[s], _TIME_COLUMNS) for s in _COLUMNS}

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied TEXT NOT NULL)"
            )
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    "store.schema_newer", where=str(self.path), found=current, known=SCHEMA_VERSION
                )
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version VALUES (?, ?)", (version + 1, datetime.now(UTC).isoformat())
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self._conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # -- record streams ----------------------------------------------------------------------------
    def write(self, stream: Stream, records: Iterable[Mapping[str, Any]]) -> WriteResult:
        """Encode and insert, one transaction per ``batch_size`` records."""
        total = WriteResult()
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        failed: list[tuple[str, str]] = []
        batch: list[Mapping[str, Any]] = []
        for rec in records:
            batch.append(rec)
            if len(batch) >= self.batch_size:
                total += self._insert(stream, batch, now_ms, failed)
                batch = []
        if batch:
            total += self._insert(stream, batch, now_ms, failed)
        return total + WriteResult(failed=tuple(failed))

    def _insert(
        self, stream: Stream, recs: Sequence[Mapping[str, Any]], now_ms: int, failed: list[tuple[str, str]]
    ) -> WriteResult:
        refused: list[tuple[str, str]] = []
        values = encode(stream, recs, now_ms, refused)
        try:
            written = self._insert_values(stream, values)
        except sqlite3.ProgrammingError:
            # A list or object in an indexed field (see sqlite_rows.encode): reduce every column.
            refused = []
            values = encode(stream, recs, now_ms, refused, checked=True)
            try:
                written = self._insert_values(stream, values)
            except sqlite3.ProgrammingError as exc:
                raise StoreError("store.failed", where=str(self.path), reason=str(exc)) from exc
        failed += refused
        return WriteResult(written=written, duplicates=len(values) // WIDTH[stream] - written)

    def _insert_values(self, stream: Stream, values: list[Any]) -> int:
        """One transaction for a batch's values; raises sqlite3.ProgrammingError when one cannot bind."""
        width = WIDTH[stream]
        step = width * _ROWS_PER_INSERT
        whole = len(values) - len(values) % step
        with self._lock:
            conn = self._conn
            # Events are only ever appended, so a batch of them deletes nothing: what secure_delete
            # zeroes there is the old place of cells that B-tree balancing moved (still held where
            # they went), a tenth of SQLite's cost a row. Alerts, audit and docs, which are
            # updated or deleted, keep it on.
            quick = stream == "events"
            try:
                if quick:
                    conn.execute("PRAGMA secure_delete=OFF")
                conn.execute("BEGIN IMMEDIATE")
                before = conn.total_changes
                conn.executemany(_INSERT_MANY[stream], [values[i : i + step] for i in range(0, whole, step)])
                conn.executemany(
                    _INSERT_ONE[stream], [values[i : i + width] for i in range(whole, len(values), width)]
                )
                written = conn.total_changes - before
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.ProgrammingError):
                    raise
                raise StoreError("store.failed", where=str(self.path), reason=str(exc)) from exc
            finally:
                if quick:
                    conn.execute("PRAGMA secure_delete=ON")
        return int(written)

    def _filter(
        self, stream: Stream, query: str, since: datetime | None, until: datetime | None, time_field: str
    ) -> tuple[str, list[Any], str]:
        where, params = self._where[stream].build(parse(query))
        tcol = _TIME_COLUMNS.get(time_field, "ts")
        if since is not None:
            where += f" AND {tcol} >= ?"
            params.append(int(since.timestamp() * 1000))
        if until is not None:
            where += f" AND {tcol} < ?"
            params.append(int(until.timestamp() * 1000))
        return where, params, tcol

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError("store.failed", where=str(self.path), reason=str(exc)) from exc

    def search(
        self,
        stream: Stream,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
        limit: int = 100,
        order: Literal["asc", "desc"] = "desc",
    ) -> list[dict[str, Any]]:
        where, params, tcol = self._filter(stream, query, since, until, time_field)
        direction = "ASC" if order == "asc" else "DESC"
        rows = self._query(
            f"SELECT doc FROM {stream} WHERE {where} ORDER BY {tcol} {direction}, id {direction} LIMIT ?",
            [*params, int(limit)],
        )
        return [orjson.loads(r[0]) for r in rows]

    def count(
        self,
        stream: Stream,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
    ) -> int:
        where, params, _ = self._filter(stream, query, since, until, time_field)
        return int(self._query(f"SELECT count(*) FROM {stream} WHERE {where}", params)[0][0])

    def terms(
        self,
        stream: Stream,
        field: str,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        size: int = 10,
    ) -> list[Bucket]:
        where, params, _ = self._filter(stream, query, since, until, "@timestamp")
        col = _COLUMNS[stream].get(field)
        if col:
            sql = (
                f"SELECT {col} AS v, count(*) AS n FROM {stream} WHERE {where} AND {col} IS NOT NULL "
                "GROUP BY v ORDER BY n DESC, v ASC LIMIT ?"
            )
            rows = self._query(sql, [*params, size])
        else:
            sql = (
                f"SELECT j.value AS v, count(DISTINCT {stream}.id) AS n FROM {stream}, json_each({stream}.doc, ?) AS j "
                f"WHERE {where} AND j.type NOT IN ('object', 'array', 'null') GROUP BY v ORDER BY n DESC, v ASC LIMIT ?"
            )
            rows = self._query(sql, [json_path(field), *params, size])
        return [Bucket(v, int(n)) for v, n in rows]

    def histogram(
        self,
        stream: Stream,
        interval: timedelta,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
    ) -> list[Bucket]:
        where, params, tcol = self._filter(stream, query, since, until, time_field)
        step = max(1, int(interval.total_seconds() * 1000))
        rows = self._query(
            f"SELECT ({tcol} / {step}) * {step} AS b, count(*) FROM {stream} WHERE {where} GROUP BY b ORDER BY b",
            params,
        )
        return [Bucket(datetime.fromtimestamp(b / 1000, UTC), int(n)) for b, n in rows]

    def scan(
        self,
        stream: Stream,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
        batch: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        # Keyset pagination from the cursor's time: one index range per page. A lower bound of
        # `since` with the row value (ts, id) > (?, ?) only as a filter makes every page rescan
        # from `since`, which is quadratic (a 1.2M-event scan never finished).
        where, params, tcol = self._filter(stream, query, None, until, time_field)
        low = int(since.timestamp() * 1000) if since is not None else -(2**62)
        last_id: str | None = None
        extra: list[Any]
        while True:
            if last_id is None:
                cond, extra = f"{tcol} >= ?", [low]
            else:
                cond, extra = f"{tcol} >= ? AND ({tcol} > ? OR id > ?)", [low, low, last_id]
            rows = self._query(
                f"SELECT {tcol}, id, doc FROM {stream} WHERE {where} AND {cond} ORDER BY {tcol}, id LIMIT ?",
                [*params, *extra, batch],
            )
            if not rows:
                return
            for _, _, doc in rows:
                yield orjson.loads(doc)
            low, last_id = rows[-1][0], rows[-1][1]

    def get_records(self, stream: Stream, ids: Sequence[str]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for rid, doc in self._query(f"SELECT id, doc FROM {stream} WHERE id IN ({marks})", chunk):
                found[rid] = orjson.loads(doc)
        return [found[i] for i in ids if i in found]

    def update_alerts(self, ids: Sequence[str], fields: Mapping[str, Any]) -> int:
        changed = 0
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for rid in ids:
                    row = conn.execute("SELECT doc FROM alerts WHERE id = ?", (rid,)).fetchone()
                    if row is None:
                        continue
                    doc = orjson.loads(row[0])
                    for path, value in fields.items():
                        set_field(doc, path, value)
                    conn.execute(
                        "UPDATE alerts SET doc = ?, level = ?, rule_id = ?, host = ? WHERE id = ?",
                        (
                            orjson.dumps(doc, default=str).decode(),
                            scalar(get(doc, "event.severity_label")),
                            scalar(get(doc, "rule.id")),
                            scalar(get(doc, "host.name")),
                            rid,
                        ),
                    )
                    changed += 1
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return changed

    # -- versioned documents ---------------------------------------------------------------------
    def get_doc(self, kind: DocKind, doc_id: str) -> Versioned | None:
        rows = self._query("SELECT version, doc FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
        if not rows:
            return None
        version, doc = rows[0]
        return Versioned(kind, doc_id, orjson.loads(doc), int(version), int(version))

    def put_doc(
        self, kind: DocKind, doc_id: str, doc: Mapping[str, Any], *, expect: Versioned | _Expect
    ) -> Versioned:
        body = orjson.dumps(doc, default=str).decode()
        with self._lock:
            conn = self._conn
            try:
                if expect is NEW:
                    conn.execute(
                        "INSERT INTO docs (kind, id, version, doc) VALUES (?, ?, 1, ?)", (kind, doc_id, body)
                    )
                    return Versioned(kind, doc_id, dict(doc), 1, 1)
                if expect is ANY:
                    conn.execute(
                        "INSERT INTO docs (kind, id, version, doc) VALUES (?, ?, 1, ?) "
                        "ON CONFLICT (kind, id) DO UPDATE SET version = version + 1, doc = excluded.doc",
                        (kind, doc_id, body),
                    )
                    current = self.get_doc(kind, doc_id)
                    assert current is not None
                    return current
                assert isinstance(expect, Versioned)
                cur = conn.execute(
                    "UPDATE docs SET version = version + 1, doc = ? WHERE kind = ? AND id = ? AND version = ?",
                    (body, kind, doc_id, expect.token),
                )
            except sqlite3.IntegrityError as exc:
                raise ConflictError(
                    "store.exists", current=self.get_doc(kind, doc_id), kind=kind, id=doc_id
                ) from exc
            except sqlite3.Error as exc:
                raise StoreError("store.failed", where=str(self.path), reason=str(exc)) from exc
        if cur.rowcount == 1:
            return Versioned(kind, doc_id, dict(doc), int(expect.token) + 1, int(expect.token) + 1)
        return self._conflict(kind, doc_id)

    def _conflict(self, kind: DocKind, doc_id: str) -> Versioned:
        current = self.get_doc(kind, doc_id)
        if current is None:
            raise NotFoundError("store.not_found", kind=kind, id=doc_id)
        raise ConflictError("store.conflict", current=current, kind=kind, id=doc_id, version=current.version)

    def delete_doc(self, kind: DocKind, doc_id: str, *, expect: Versioned | _Expect) -> None:
        if expect is ANY:
            self._query("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, doc_id))
            return
        if not isinstance(expect, Versioned):
            raise ValueError("delete_doc needs expect=ANY or the Versioned you read")
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM docs WHERE kind = ? AND id = ? AND version = ?", (kind, doc_id, expect.token)
            )
        if cur.rowcount != 1:
            self._conflict(kind, doc_id)

    def find_docs(
        self, kind: DocKind, query: str = "*", *, limit: int = 1000, sort: str | None = None
    ) -> list[Versioned]:
        match = matcher(query)
        out = []
        for doc_id, version, body in self._query(
            "SELECT id, version, doc FROM docs WHERE kind = ? ORDER BY id", (kind,)
        ):
            doc = orjson.loads(body)
            if match(doc):
                out.append(Versioned(kind, doc_id, doc, int(version), int(version)))
        if sort:
            desc = sort.startswith("-")
            key = sort.lstrip("-")
            out.sort(key=lambda v: (get(v.doc, key) is None, str(get(v.doc, key) or "")), reverse=desc)
        return out[:limit]

    # -- lifecycle -------------------------------------------------------------------------------
    def refresh(self) -> None:
        return None

    def stats(self) -> dict[str, Any]:
        counts = {s: int(self._query(f"SELECT count(*) FROM {s}", ())[0][0]) for s in _COLUMNS}
        docs = {k: int(n) for k, n in self._query("SELECT kind, count(*) FROM docs GROUP BY kind", ())}
        size = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.exists())
        return {
            "store": self.name,
            "location": str(self.path),
            "records": counts,
            "documents": docs,
            "bytes": size,
        }

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA optimize")
            self._conn.close()
