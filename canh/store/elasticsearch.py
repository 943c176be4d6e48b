"""The Elasticsearch store: the same interface and behaviour as the SQLite store, on a cluster.

Layout (``<p>`` is the index prefix): daily event indices ``<p>-events-YYYY.MM.DD`` (day of
``@timestamp``, UTC) behind the alias ``<p>-events``; ``<p>-alerts``, ``<p>-audit``; versioned
documents in ``<p>-incidents``, ``<p>-systems``, ``<p>-state``. Hunting queries are parsed once
(:mod:`canh.query`) and translated to DSL (:mod:`canh.store.esquery`), the same tree SQLite runs.
Writes go through :class:`canh.store.bulk.BulkWriter`; when the cluster is unreachable or overloaded
the batch goes to the durable :class:`canh.store.spool.Spool` and is replayed, in order, later.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exc

from canh.errors import ConfigError, ConflictError, NotFoundError, QueryError, StoreError
from canh.events import CANONICAL_STAMP, format_ts, get, set_field, to_epoch_ms
from canh.fields import is_text_field
from canh.i18n import t
from canh.query import matcher, parse
from canh.store.base import (
    ANY,
    NEW,
    STREAMS,
    Bucket,
    DocKind,
    Store,
    Stream,
    Versioned,
    WriteResult,
    _Expect,
    record_id,
)
from canh.store.bulk import BulkOutcome, BulkWriter, Unavailable
from canh.store.es_mappings import META, RESTORE, events_template, template
from canh.store.esquery import to_dsl
from canh.store.spool import Spool

if TYPE_CHECKING:
    from canh.config import ElasticsearchConfig, Paths

log = logging.getLogger("canh.store.elasticsearch")

_TIME = {"@timestamp": f"{META}.ts", "event.ingested": f"{META}.ingested"}
_ID = f"{META}.id"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DOC_KINDS: tuple[DocKind, ...] = ("incidents", "systems", "state")


def _secret(value: str | None, file: str | None, env: str) -> str | None:
    """A secret from the environment, a file, or the config (in that order); never logged."""
    if os.environ.get(env):
        return os.environ[env]
    if file:
        try:
            return Path(file).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError("es.secret_file", where=file, reason=exc.strerror or str(exc)) from exc
    return value


def _doc_version(source: Mapping[str, Any], es_version: Any) -> int:
    meta = source.get(META)
    if isinstance(meta, Mapping) and isinstance(meta.get("version"), int):
        return int(meta["version"])
    return int(es_version)


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    """The record as written: Canh's bookkeeping dropped, stamps it made canonical put back."""
    meta = doc.pop(META, None)
    if isinstance(meta, dict) and RESTORE in meta:
        for path, how in meta[RESTORE].items():
            _put_back(doc, path, how)
    return doc


def _is_canonical(stamp: Any) -> bool:
    """Canh's own stamp form (canh.events.CANONICAL_STAMP), which Elasticsearch reads as it is."""
    return type(stamp) is str and CANONICAL_STAMP.fullmatch(stamp) is not None


def _canonical_times(
    doc: dict[str, Any], ts: int, ingested: int, *, exact: bool = False
) -> dict[str, Any] | None:
    """Make the event's @timestamp and event.ingested canonical in ``doc`` (a shallow copy of the
    record; its ``event`` dict is copied before a change): what to put back on reading, or None.
    ``exact``: also replace a canonical ingest stamp that is not ``ingested`` (a spool replay's)."""
    restore: dict[str, Any] = {}
    for path, parent, leaf, ms in (
        ("@timestamp", None, "", ts),
        ("event.ingested", "event", "ingested", ingested),
    ):
        ev = doc.get(parent) if parent else None
        # Where the stamp is (a top-level or dotted key, or in the event object) and whether it is there.
        if path in doc:
            at, present, value = "key", True, doc[path]
        elif parent is None:
            at, present, value = "key", False, None
        elif type(ev) is dict:
            at, present, value = "nested", leaf in ev, ev.get(leaf)
        elif ev is None:
            at, present, value = "nested", False, None
        else:
            continue  # an event that is no object: Elasticsearch refuses the record whole
        if present and _is_canonical(value) and not (exact and parent and _ms(value, 0) != ms):
            continue
        # What to put back: the value as it was, or (absent) nothing, taken away again on reading.
        how: dict[str, Any] = {"at": at, "v": value} if present else {"at": at}
        if at == "key":
            doc[path] = _stamp(ms)
        elif parent is not None:  # (always, when nested)
            if ev is None:
                how["made_parent"] = True
            doc[parent] = {**(ev or {}), leaf: _stamp(ms)}
        restore[path] = how
    return restore or None


def _stamp(ms: int) -> str:
    return format_ts(_EPOCH + timedelta(milliseconds=ms))


def _put_back(doc: dict[str, Any], path: str, how: Mapping[str, Any]) -> None:
    if how.get("at") == "key":
        if "v" in how:
            doc[path] = how["v"]
        else:
            doc.pop(path, None)
        return
    parent, leaf = path.split(".", 1)
    ev = doc.get(parent)
    if not isinstance(ev, dict):
        return
    if "v" in how:
        ev[leaf] = how["v"]
    else:
        ev.pop(leaf, None)
        if not ev and how.get("made_parent"):
            doc.pop(parent, None)


class ElasticsearchStore(Store):
    """Events, alerts, audit and versioned documents in an Elasticsearch cluster (8.x)."""

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        *,
        prefix: str = "canh",
        url: str = "",
        spool_dir: str | Path | None = None,
        spool_max_bytes: int = 2_000_000_000,
        dead_letter: str | Path | None = None,
        bulk_max_bytes: int = 5_000_000,
        bulk_max_docs: int = 2000,
        max_retries: int = 5,
        replicas: int = 0,
        bulk_threads: int = 4,
        index_period: str = "day",
    ) -> None:
        self.client = client
        self.monthly = index_period == "month"
        self.prefix = prefix.lower()
        self.url = url
        self.writer = BulkWriter(
            client,
            max_docs=bulk_max_docs,
            max_bytes=bulk_max_bytes,
            max_retries=max_retries,
            threads=bulk_threads,
        )
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes) if spool_dir else None
        self.dead_letter = Path(dead_letter) if dead_letter else None
        self.replicas = replicas
        self._ready = False
        self._lock = threading.RLock()
        self._next_drain = 0.0
        self.spooled = 0  # records sent to the spool by this process (for the ingest summary)
        self._day_index: dict[int, str] = {}
        self._dirty = False  # wrote since the last refresh: close() makes it visible to the next command

    @classmethod
    def from_config(cls, cfg: ElasticsearchConfig, paths: Paths) -> ElasticsearchStore:
        """Connect as the config says; secrets from CANH_ES_API_KEY / CANH_ES_PASSWORD or files."""
        kwargs: dict[str, Any] = {"request_timeout": cfg.request_timeout, "max_retries": 0}
        api_key = _secret(cfg.api_key, cfg.api_key_file, "CANH_ES_API_KEY")
        password = _secret(cfg.password, cfg.password_file, "CANH_ES_PASSWORD")
        username = os.environ.get("CANH_ES_USERNAME") or cfg.username
        if api_key:
            kwargs["api_key"] = api_key
        elif username:
            kwargs["basic_auth"] = (username, password or "")
        if cfg.url.startswith("https"):
            kwargs["verify_certs"] = cfg.verify_certs
            if cfg.ca_certs:
                kwargs["ca_certs"] = cfg.ca_certs
        client = Elasticsearch(cfg.url, **kwargs)
        spool = Path(cfg.spool_dir) if cfg.spool_dir else paths.state / "spool"
        return cls(
            client,
            prefix=cfg.index_prefix,
            url=cfg.url,
            spool_dir=spool,
            spool_max_bytes=cfg.spool_max_bytes,
            dead_letter=paths.state / "es-dead-letter.jsonl",
            bulk_max_bytes=cfg.bulk_max_bytes,
            bulk_threads=cfg.bulk_threads,
            replicas=cfg.replicas,
            index_period=cfg.index_period,
        )

    # -- names and setup -----------------------------------------------------------------------------
    def index_for(self, stream: Stream | DocKind, ts_ms: int = 0) -> str:
        """The concrete index a record or document is written to."""
        if stream == "events":
            day = ts_ms // 86_400_000
            name = self._day_index.get(day)
            if name is None:
                stamp = datetime.fromtimestamp(day * 86_400, UTC).strftime(
                    "%Y.%m" if self.monthly else "%Y.%m.%d"
                )
                name = self._day_index[day] = f"{self.prefix}-events-{stamp}"
            return name
        return f"{self.prefix}-{stream}"

    def read_target(self, stream: Stream | DocKind) -> str:
        """What searches read: every daily events index, or the one index of a stream/kind."""
        return f"{self.prefix}-events-*" if stream == "events" else f"{self.prefix}-{stream}"

    def _error(self, exc: Exception) -> StoreError | QueryError:
        """One clear StoreError for a client failure (credentials, reachability, the cluster's reason)."""
        where = self.url or "elasticsearch"
        if isinstance(exc, es_exc.AuthenticationException):
            return StoreError("es.auth", where=where)
        if isinstance(exc, es_exc.AuthorizationException):
            return StoreError("es.forbidden", where=where, reason=_reason(exc))
        if isinstance(exc, es_exc.SSLError):
            return StoreError("es.tls", where=where, reason=_cause(exc))
        if isinstance(exc, es_exc.ConnectionError | es_exc.ConnectionTimeout):
            return StoreError("es.unreachable", where=where, reason=_cause(exc))
        if isinstance(exc, es_exc.BadRequestError) and "query" in _reason(exc):
            # The cluster could not build the query (e.g. a regular expression too complex for
            # Lucene's automaton): the user's query is the problem, not the store.
            return QueryError("query.invalid", reason=_reason(exc))
        if isinstance(exc, es_exc.ApiError):
            return StoreError("store.failed", where=where, reason=_reason(exc))
        return StoreError("store.failed", where=where, reason=str(exc)[:200])

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call, turning transport and API failures into one clear StoreError."""
        try:
            return fn(*args, **kwargs)
        except (es_exc.ApiError, es_exc.TransportError) as exc:
            raise self._error(exc) from exc

    def setup(self) -> None:
        """Install the index templates and create the fixed indices (idempotent)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            c = self.client
            self._call(
                c.indices.put_index_template,
                name=f"{self.prefix}-base",
                **template(self.prefix, replicas=self.replicas),
            )
            self._call(
                c.indices.put_index_template,
                name=f"{self.prefix}-events",
                **events_template(self.prefix, replicas=self.replicas),
            )
            for name in ("alerts", "audit", *_DOC_KINDS):
                index = f"{self.prefix}-{name}"
                try:
                    c.indices.create(index=index)
                except es_exc.BadRequestError as exc:
                    if "resource_already_exists" not in str(exc):
                        raise self._error(exc) from exc
                except (es_exc.ApiError, es_exc.TransportError) as exc:
                    raise self._error(exc) from exc
            self._ready = True

    # -- record streams ------------------------------------------------------------------------------
    def _actions(
        self, stream: Stream, records: Iterable[Mapping[str, Any]], now_ms: int, failed: list[tuple[str, str]]
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for rec in records:
            ev = rec.get("event")
            if stream == "events" and type(ev) is dict:  # the hot path: a nested ECS event
                rid, stamp = ev.get("id"), ev.get("ingested")
            else:
                rid = record_id(stream, rec) or (get(rec, "event.id") if stream == "events" else None)
                stamp = get(rec, "event.ingested")
            if not rid:
                failed.append(("?", "record has no id (event.id for events, id for alerts and audit)"))
                continue
            try:
                ts = _ms(rec.get("@timestamp"), now_ms)
                ingested = _ms(stamp, now_ms)
            except (ValueError, TypeError) as exc:
                failed.append((str(rid), str(exc)))
                continue
            doc = dict(rec)
            if stream == "events":  # id and times are aliases of the event's own fields
                # Canh's own events hold canonical stamps: nothing to change (the hot path).
                if not (
                    type(ev) is dict
                    and _is_canonical(rec.get("@timestamp"))
                    and _is_canonical(stamp)
                    and "event.ingested" not in rec
                ):
                    restore = _canonical_times(doc, ts, ingested)
                    if restore is not None:
                        doc[META] = {RESTORE: restore}
            else:
                doc[META] = {"id": rid, "ts": ts, "ingested": ingested}
            yield self.index_for(stream, ts), str(rid), doc

    def write(self, stream: Stream, records: Iterable[Mapping[str, Any]]) -> WriteResult:
        """Bulk-create by id; failures per record go to the dead-letter file, outages to the spool."""
        self._ensure_ready_or_spool()
        now_ms = int(time.time() * 1000)
        failed: list[tuple[str, str]] = []
        actions = self._actions(stream, records, now_ms, failed)
        if self.spool is not None and not self.spool.empty() and not self.drain():
            # The cluster is still away: keep order by queueing behind what is already spooled.
            self._to_spool(stream, list(actions))
            return WriteResult(failed=tuple(failed))
        try:
            out = self.writer.write(actions)
        except Unavailable as exc:
            if self.spool is None:
                raise StoreError("es.unreachable", where=self.url, reason=exc.reason) from exc
            self._to_spool(stream, exc.pending)
            out = exc.outcome or BulkOutcome()
        except (es_exc.ApiError, es_exc.TransportError) as exc:
            raise self._error(exc) from exc
        self._dead_letter(out)
        self._dirty = self._dirty or out.written > 0
        return WriteResult(
            written=out.written,
            duplicates=out.duplicates,
            failed=tuple(failed) + tuple((i, why) for i, _, why, _ in out.failed),
        )

    def _ensure_ready_or_spool(self) -> None:
        try:
            self.setup()
        except StoreError:
            if self.spool is None:
                raise

    def _to_spool(self, stream: Stream, pending: list[tuple[str, str, dict[str, Any]]]) -> None:
        assert self.spool is not None
        if not pending:
            return
        docs = [doc for _, _, doc in pending]
        for start in range(0, len(docs), 5000):
            part = docs[start : start + 5000]
            if not self.spool.append(stream, part):
                raise StoreError(
                    "es.spool_full", where=str(self.spool.folder), mb=self.spool.max_bytes // 1_000_000
                )
            self.spooled += len(part)
        log.warning(t("es.spooled", n=len(docs), path=str(self.spool.folder)))

    def drain(self, *, force: bool = False) -> bool:
        """Replay the spool in order; True when it is empty afterwards.

        After a failure the next attempt waits a few seconds, so a collector keeps spooling at disk
        speed while the cluster is away instead of timing out on every batch.
        """
        if self.spool is None or self.spool.empty():
            return True
        now = time.monotonic()
        if not force and now < self._next_drain:
            return False
        try:
            self.setup()
            replayed_ms = int(time.time() * 1000)
            for stream, records, mark in self.spool.replay():
                kind = cast(Stream, stream)
                actions = [self._replayed(kind, r, replayed_ms) for r in records]
                out = self.writer.write(actions)
                self._dead_letter(out)
                self.spool.done(mark)
        except (Unavailable, StoreError) as exc:
            self._next_drain = time.monotonic() + 2.0
            log.info("spool: cluster still unavailable (%s)", getattr(exc, "reason", exc))
            return False
        return self.spool.empty()

    def _replayed(
        self, stream: Stream, r: dict[str, Any], replayed_ms: int
    ) -> tuple[str, str, dict[str, Any]]:
        """A spooled document as it is sent now. It reaches the cluster now, so its ingest time is
        now: scheduled detection (which reads by ingest time) still sees it once."""
        found = r.get(META)
        meta: dict[str, Any] = found if isinstance(found, dict) else {}
        if stream != "events":
            meta["ingested"] = max(int(meta["ingested"]), replayed_ms)
            return self.index_for(stream, meta["ts"]), str(meta["id"]), r
        # An event: its id and times are its own fields (a spool an older Canh wrote also has them
        # under canh_meta, which today's event indices take no values for).
        rec = _strip(r)
        ts = int(meta["ts"]) if "ts" in meta else _ms(rec.get("@timestamp"), replayed_ms)
        was = int(meta["ingested"]) if "ingested" in meta else _ms(get(rec, "event.ingested"), replayed_ms)
        doc = dict(rec)
        restore = _canonical_times(doc, ts, max(was, replayed_ms), exact=True)
        if restore is not None:
            doc[META] = {RESTORE: restore}
        return self.index_for(stream, ts), str(record_id(stream, rec)), doc

    def _dead_letter(self, out: BulkOutcome) -> None:
        if not out.failed or self.dead_letter is None:
            return
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dead_letter, "ab") as fh:
            for doc_id, index, why, doc in out.failed:
                body = _strip(copy.deepcopy(doc))  # the record as it was given
                fh.write(
                    orjson.dumps({"id": doc_id, "index": index, "reason": why, "record": body}, default=str)
                )
                fh.write(b"\n")
        log.warning(t("es.dead_letter", n=len(out.failed), path=str(self.dead_letter)))

    def _query(
        self, query: str, since: datetime | None, until: datetime | None, time_field: str
    ) -> dict[str, Any]:
        q = to_dsl(parse(query), _TIME)
        tf = _TIME.get(time_field, time_field)
        if since is None and until is None:
            return q
        bounds: dict[str, Any] = {"format": "epoch_millis"}
        if since is not None:
            bounds["gte"] = int(since.timestamp() * 1000)
        if until is not None:
            bounds["lt"] = int(until.timestamp() * 1000)
        return {"bool": {"filter": [q, {"range": {tf: bounds}}]}}

    def _before_read(self) -> None:
        """Read your own writes, as with SQLite: refresh once if this store wrote since the last one."""
        self.setup()
        if self._dirty:
            self._dirty = False
            self._call(
                self.client.indices.refresh,
                index=f"{self.prefix}-*",
                ignore_unavailable=True,
                allow_no_indices=True,
            )

    def _search(self, target: str, **body: Any) -> Any:
        self._before_read()
        return self._call(
            self.client.search, index=target, ignore_unavailable=True, allow_no_indices=True, **body
        )

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
        tf = _TIME.get(time_field, time_field)
        resp = self._search(
            self.read_target(stream),
            query=self._query(query, since, until, time_field),
            sort=[{tf: {"order": order, "unmapped_type": "date"}}, {_ID: {"order": order}}],
            size=max(0, min(int(limit), 10_000)),
            track_total_hits=False,
        )
        return [_strip(h["_source"]) for h in resp["hits"]["hits"]]

    def count(
        self,
        stream: Stream,
        query: str = "*",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        time_field: str = "@timestamp",
    ) -> int:
        self._before_read()
        resp = self._call(
            self.client.count,
            index=self.read_target(stream),
            query=self._query(query, since, until, time_field),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return int(resp["count"])

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
        agg_field = f"{field}.keyword" if is_text_field(field) else field
        resp = self._search(
            self.read_target(stream),
            query=self._query(query, since, until, "@timestamp"),
            size=0,
            aggs={
                "t": {
                    "terms": {
                        "field": agg_field,
                        "size": size,
                        "order": [{"_count": "desc"}, {"_key": "asc"}],
                    }
                }
            },
        )
        buckets = (resp.get("aggregations") or {}).get("t", {}).get("buckets", [])
        out = []
        for b in buckets:
            key = b["key"]
            text = b.get("key_as_string")
            if text is not None and text not in ("true", "false"):
                key = text  # dates come back as their ISO form, as stored
            out.append(Bucket(key, int(b["doc_count"])))
        return out

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
        step = max(1, int(interval.total_seconds() * 1000))
        tf = _TIME.get(time_field, time_field)
        resp = self._search(
            self.read_target(stream),
            query=self._query(query, since, until, time_field),
            size=0,
            aggs={"h": {"date_histogram": {"field": tf, "fixed_interval": f"{step}ms", "min_doc_count": 1}}},
        )
        buckets = (resp.get("aggregations") or {}).get("h", {}).get("buckets", [])
        return [Bucket(datetime.fromtimestamp(b["key"] / 1000, UTC), int(b["doc_count"])) for b in buckets]

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
        """search_after over a point in time: a consistent snapshot, oldest first."""
        self._before_read()
        tf = _TIME.get(time_field, time_field)
        q = self._query(query, since, until, time_field)
        target = self.read_target(stream)
        pit = self._call(
            self.client.open_point_in_time, index=target, keep_alive="2m", ignore_unavailable=True
        )
        pit_id = pit["id"]
        after: list[Any] | None = None
        try:
            while True:
                body: dict[str, Any] = {
                    "query": q,
                    "size": batch,
                    "sort": [{tf: {"order": "asc", "unmapped_type": "date"}}, {_ID: "asc"}],
                    "pit": {"id": pit_id, "keep_alive": "2m"},
                    "track_total_hits": False,
                }
                if after is not None:
                    body["search_after"] = after
                resp = self._call(self.client.search, **body)
                pit_id = resp.get("pit_id", pit_id)
                hits = resp["hits"]["hits"]
                if not hits:
                    return
                for h in hits:
                    yield _strip(h["_source"])
                after = hits[-1]["sort"]
        finally:
            with contextlib.suppress(Exception):
                self.client.close_point_in_time(id=pit_id)

    def get_records(self, stream: Stream, ids: Sequence[str]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 1000):
            chunk = [str(i) for i in ids[start : start + 1000]]
            resp = self._search(
                self.read_target(stream), query={"ids": {"values": chunk}}, size=len(chunk) * 2
            )
            for h in resp["hits"]["hits"]:
                found.setdefault(h["_id"], _strip(h["_source"]))
        return [found[i] for i in ids if i in found]

    def update_alerts(self, ids: Sequence[str], fields: Mapping[str, Any]) -> int:
        """Read-modify-write each alert under if_seq_no, retrying on a concurrent change."""
        self.setup()
        index = self.index_for("alerts")
        changed = 0
        for rid in ids:
            for _ in range(50):
                try:
                    cur = self.client.get(index=index, id=rid)
                except es_exc.NotFoundError:
                    break
                except (es_exc.ApiError, es_exc.TransportError) as exc:
                    raise self._error(exc) from exc
                doc = cur["_source"]
                for path, value in fields.items():
                    set_field(doc, path, value)
                meta = doc.get(META) if isinstance(doc.get(META), dict) else {}
                meta.pop("words", None)  # pre-cut words of indices made before canh.words
                doc[META] = meta
                try:
                    self.client.index(
                        index=index,
                        id=rid,
                        document=doc,
                        if_seq_no=cur["_seq_no"],
                        if_primary_term=cur["_primary_term"],
                        refresh=True,
                    )
                except es_exc.ConflictError:
                    continue
                except (es_exc.ApiError, es_exc.TransportError) as exc:
                    raise self._error(exc) from exc
                changed += 1
                break
        return changed

    # -- versioned documents -------------------------------------------------------------------------
    def get_doc(self, kind: DocKind, doc_id: str) -> Versioned | None:
        self.setup()
        try:
            r = self.client.get(index=self.index_for(kind), id=doc_id)
        except es_exc.NotFoundError:
            return None
        except (es_exc.ApiError, es_exc.TransportError) as exc:
            raise self._error(exc) from exc
        source = r["_source"]
        version = _doc_version(source, r["_version"])
        return Versioned(kind, doc_id, _strip(source), version, (r["_seq_no"], r["_primary_term"]))

    def put_doc(
        self, kind: DocKind, doc_id: str, doc: Mapping[str, Any], *, expect: Versioned | _Expect
    ) -> Versioned:
        self.setup()
        index = self.index_for(kind)
        body = orjson.loads(orjson.dumps(doc, default=str))
        body[META] = {"id": doc_id}
        kw: dict[str, Any] = {}
        # The readable version is Canh's own counter (as in SQLite: 1 on create, +1 per update, 1
        # again after a delete); Elasticsearch's _version keeps counting across deletes.
        if expect is NEW:
            kw["op_type"] = "create"
            version = 1
        elif isinstance(expect, Versioned):
            if expect.token is None:
                raise ValueError("put_doc: expect has no token; pass the Versioned get_doc returned")
            kw["if_seq_no"], kw["if_primary_term"] = expect.token
            version = expect.version + 1
        elif expect is ANY:
            current = self.get_doc(kind, doc_id)
            version = current.version + 1 if current else 1
        else:
            raise ValueError("put_doc needs expect=NEW, ANY or the Versioned you read")
        body[META]["version"] = version
        try:
            r = self.client.index(index=index, id=doc_id, document=body, refresh=True, **kw)
        except es_exc.ConflictError as exc:
            current = self.get_doc(kind, doc_id)
            if expect is NEW:
                raise ConflictError("store.exists", current=current, kind=kind, id=doc_id) from exc
            if current is None:
                raise NotFoundError("store.not_found", kind=kind, id=doc_id) from exc
            raise ConflictError(
                "store.conflict", current=current, kind=kind, id=doc_id, version=current.version
            ) from exc
        except (es_exc.ApiError, es_exc.TransportError) as exc:
            raise self._error(exc) from exc
        return Versioned(kind, doc_id, dict(doc), version, (r["_seq_no"], r["_primary_term"]))

    def delete_doc(self, kind: DocKind, doc_id: str, *, expect: Versioned | _Expect) -> None:
        self.setup()
        index = self.index_for(kind)
        kw: dict[str, Any] = {}
        if isinstance(expect, Versioned):
            kw["if_seq_no"], kw["if_primary_term"] = expect.token
        elif expect is not ANY:
            raise ValueError("delete_doc needs expect=ANY or the Versioned you read")
        try:
            self.client.delete(index=index, id=doc_id, refresh=True, **kw)
        except es_exc.NotFoundError as exc:
            if expect is ANY:
                return
            raise NotFoundError("store.not_found", kind=kind, id=doc_id) from exc
        except es_exc.ConflictError as exc:
            current = self.get_doc(kind, doc_id)
            if current is None:
                raise NotFoundError("store.not_found", kind=kind, id=doc_id) from exc
            raise ConflictError(
                "store.conflict", current=current, kind=kind, id=doc_id, version=current.version
            ) from exc

    def find_docs(
        self, kind: DocKind, query: str = "*", *, limit: int = 1000, sort: str | None = None
    ) -> list[Versioned]:
        """Matching documents, ordered exactly as the SQLite store orders them (by id, then ``sort``)."""
        self.setup()
        match = matcher(query)
        out: list[Versioned] = []
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": to_dsl(parse(query)),
                "size": 1000,
                "sort": [{_ID: "asc"}],
                "seq_no_primary_term": True,
                "version": True,
            }
            if after is not None:
                body["search_after"] = after
            resp = self._search(self.index_for(kind), **body)
            hits = resp["hits"]["hits"]
            for h in hits:
                version = _doc_version(h["_source"], h["_version"])
                doc = _strip(h["_source"])
                if match(doc):  # the matcher has the last word, as in SQLite (e.g. analysed text)
                    out.append(Versioned(kind, h["_id"], doc, version, (h["_seq_no"], h["_primary_term"])))
            if len(hits) < 1000:
                break
            after = hits[-1]["sort"]
        if sort:
            desc = sort.startswith("-")
            key = sort.lstrip("-")
            out.sort(key=lambda v: (get(v.doc, key) is None, str(get(v.doc, key) or "")), reverse=desc)
        return out[:limit]

    # -- lifecycle -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.drain(force=True)
        self._dirty = False
        self.setup()
        self._call(
            self.client.indices.refresh,
            index=f"{self.prefix}-*",
            ignore_unavailable=True,
            allow_no_indices=True,
        )

    def health(self) -> dict[str, Any]:
        """Cluster name, status and node count, or the reason it cannot be reached."""
        try:
            h = self.client.cluster.health()
            return {"cluster": h["cluster_name"], "status": h["status"], "nodes": h["number_of_nodes"]}
        except es_exc.AuthenticationException:
            return {"status": "unreachable", "reason": t("es.auth")}
        except es_exc.ApiError as exc:
            return {"status": "unreachable", "reason": _reason(exc)}
        except (es_exc.ConnectionError, es_exc.ConnectionTimeout) as exc:
            return {"status": "unreachable", "reason": _cause(exc)}

    def stats(self) -> dict[str, Any]:
        info: dict[str, Any] = {"store": self.name, "location": f"{self.url} ({self.prefix}-*)"}
        info["cluster"] = self.health()
        if self.spool is not None:
            info["spool"] = {"path": str(self.spool.folder), "bytes": self.spool.backlog_bytes()}
        if info["cluster"].get("status") == "unreachable":
            return info
        self.setup()
        info["records"] = {s: self.count(s) for s in STREAMS}
        docs = {}
        for k in _DOC_KINDS:
            r = self._call(self.client.count, index=self.index_for(k), ignore_unavailable=True)
            if r["count"]:
                docs[k] = int(r["count"])
        info["documents"] = docs
        try:
            cat = self.client.cat.indices(index=f"{self.prefix}-*", format="json", bytes="b")
            info["indices"] = {
                row["index"]: {
                    "docs": int(row.get("docs.count") or 0),
                    "bytes": int(row.get("store.size") or 0),
                }
                for row in cast(list[dict[str, Any]], cat.body)
            }
            info["bytes"] = sum(v["bytes"] for v in info["indices"].values())
        except es_exc.ApiError:
            pass
        return info

    def drop(self) -> None:
        """Delete every index and template of this prefix (tests, and `canh` uninstall)."""
        try:
            self.client.indices.delete(
                index=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True
            )
            for name in (f"{self.prefix}-events", f"{self.prefix}-base"):
                with contextlib.suppress(es_exc.NotFoundError):
                    self.client.indices.delete_index_template(name=name)
        except (es_exc.ConnectionError, es_exc.ConnectionTimeout):
            pass
        self._ready = False

    def close(self) -> None:
        try:
            if self.drain(force=True) and self._dirty:
                # One command's writes are what the next command (`canh status`, a search) expects to see.
                self.client.indices.refresh(
                    index=f"{self.prefix}-*", ignore_unavailable=True, allow_no_indices=True
                )
        except (es_exc.ApiError, es_exc.TransportError):
            pass
        finally:
            self.client.close()


def _cause(exc: Exception) -> str:
    """The transport's underlying error in one line (``TLS error`` alone says too little)."""
    errors = getattr(exc, "errors", ()) or ()
    message = getattr(exc, "message", None)
    text = str(errors[0]) if errors else message if isinstance(message, str) and message else str(exc)
    return " ".join(text.split())[:300]


def _reason(exc: es_exc.ApiError) -> str:
    """The root cause Elasticsearch gave, in one line."""
    body = exc.body if isinstance(exc.body, dict) else {}
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        root = (err.get("root_cause") or [err])[0]
        return f"{root.get('type', '')}: {root.get('reason', '')}"[:300]
    return str(exc)[:300]


_last_stamp: list[Any] = [None, 0]


def _ms(stamp: Any, default: int) -> int:
    if not stamp:
        return default
    if stamp == _last_stamp[0]:
        return int(_last_stamp[1])  # a batch shares its ingest time
    if type(stamp) is str and len(stamp) == 24 and stamp[-1] == "Z":
        ms = int(datetime.fromisoformat(stamp).timestamp() * 1000)  # Canh's own format: the fast C path
    else:
        ms = to_epoch_ms(stamp)
    _last_stamp[0], _last_stamp[1] = stamp, ms
    return ms
