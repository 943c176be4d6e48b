"""The store interface: one contract for the embedded SQLite store and the Elasticsearch store.

Three families of data:
- *record streams* (``events``, ``alerts``, ``audit``): written in bulk, idempotent on id, searched
  with Lucene query-string syntax over a time range, counted, aggregated, scanned in order;
- *versioned documents* (``incidents``, ``systems``, ``state``): read and written by id with
  optimistic concurrency, so two analysts never silently overwrite each other;
- the audit trail is append-only: there is no update or delete for it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Stream = Literal["events", "alerts", "audit"]
DocKind = Literal["incidents", "systems", "state"]
STREAMS: tuple[Stream, ...] = ("events", "alerts", "audit")
DOC_KINDS: tuple[DocKind, ...] = ("incidents", "systems", "state")


class _Expect:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEW = _Expect("NEW")
"""``put_doc(..., expect=NEW)``: create only; fail with ConflictError when the id exists."""
ANY = _Expect("ANY")
"""``put_doc(..., expect=ANY)``: write whatever is there (only for state nobody edits by hand)."""


@dataclass(frozen=True)
class WriteResult:
    """What a bulk write did: new records, records already present, and per-record failures."""

    written: int = 0
    duplicates: int = 0
    failed: tuple[tuple[str, str], ...] = ()  # (record id, reason)

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.written + other.written, self.duplicates + other.duplicates, self.failed + other.failed
        )


@dataclass(frozen=True)
class Versioned:
    """A document with its concurrency token.

    ``version`` is a number people can read (1, 2, 3...). ``token`` is what the store compares on
    update (the version in SQLite, ``(seq_no, primary_term)`` in Elasticsearch): pass the whole
    Versioned back as ``expect`` to update it.
    """

    kind: str
    id: str
    doc: dict[str, Any]
    version: int
    token: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class Bucket:
    """One aggregation bucket: a field value or the start of a time interval, and its count."""

    key: Any
    count: int


class Store(abc.ABC):
    """Where events, alerts, incidents, the register and the audit trail live."""

    name: str = "store"

    # -- record streams -------------------------------------------------------------------------
    @abc.abstractmethod
    def write(self, stream: Stream, records: Iterable[Mapping[str, Any]]) -> WriteResult:
        """Bulk-write records (each with ``event.id``, or ``id`` for alerts/audit); existing ids are skipped."""

    @abc.abstractmethod
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
        """Records matching a Lucene query-string in ``[since, until)``, newest first by default."""

    @abc.abstractmethod
    def count(
        self,
        stream: Stream,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
    ) -> int:
        """How many records match."""

    @abc.abstractmethod
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
        """Top values of ``field`` among matching records, most frequent first (ties by value)."""

    @abc.abstractmethod
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
        """Counts per time interval (bucket keys are aware UTC datetimes; empty buckets omitted)."""

    @abc.abstractmethod
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
        """Every matching record, oldest first, streamed in batches (for backtests and exports)."""

    @abc.abstractmethod
    def get_records(self, stream: Stream, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The records with these ids, in the order asked (missing ids are left out)."""

    @abc.abstractmethod
    def update_alerts(self, ids: Sequence[str], fields: Mapping[str, Any]) -> int:
        """Set dotted ``fields`` on alerts (triage status, incident link); returns how many changed."""

    # -- versioned documents ---------------------------------------------------------------------
    @abc.abstractmethod
    def get_doc(self, kind: DocKind, doc_id: str) -> Versioned | None:
        """The document and its version, or None."""

    @abc.abstractmethod
    def put_doc(
        self, kind: DocKind, doc_id: str, doc: Mapping[str, Any], *, expect: Versioned | _Expect
    ) -> Versioned:
        """Create (``expect=NEW``) or update (``expect=`` the Versioned you read) a document.

        A stale ``expect`` raises ConflictError carrying the current Versioned.
        """

    @abc.abstractmethod
    def delete_doc(self, kind: DocKind, doc_id: str, *, expect: Versioned | _Expect) -> None:
        """Delete a document under the same concurrency rule as put_doc."""

    @abc.abstractmethod
    def find_docs(
        self, kind: DocKind, query: str = "*", *, limit: int = 1000, sort: str | None = None
    ) -> list[Versioned]:
        """Documents matching a Lucene query; ``sort`` is a dotted field, ``-field`` for descending."""

    # -- lifecycle -------------------------------------------------------------------------------
    @abc.abstractmethod
    def refresh(self) -> None:
        """Make every write so far visible to searches (a no-op where writes are visible at once)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Store name, location, record counts per stream and document counts per kind, sizes."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record_id(stream: Stream, record: Mapping[str, Any]) -> str | None:
    """The id a record is stored under: ``event.id`` for events, ``id`` for alerts and audit entries."""
    if stream == "events":
        ev = record.get("event")
        return ev.get("id") if isinstance(ev, Mapping) else record.get("event.id")
    return record.get("id")
