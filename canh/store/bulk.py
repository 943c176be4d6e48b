"""Bulk writes to Elasticsearch, modelled on elasticsearch-py's streaming_bulk.

Records are sent as ``create`` actions with the record id as ``_id``, so a retried request never makes
a second copy (409 = already there = a duplicate, not an error). Chunks are cut by count and by bytes.
Only the documents that got 429/503 are retried, with capped exponential backoff; any other
per-document failure (a mapping conflict, a bad value) is reported with its reason while the rest of
the chunk lands.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_exc

RETRY_STATUS = frozenset({429, 502, 503, 504})


class Unavailable(Exception):
    """Elasticsearch cannot take these documents now (unreachable, or still overloaded after retries)."""

    def __init__(self, reason: str, pending: list[tuple[str, str, dict[str, Any]]]):
        super().__init__(reason)
        self.reason = reason
        self.pending = pending
        self.outcome: BulkOutcome | None = None  # what did land before the outage


@dataclass
class BulkOutcome:
    """Counts of one bulk call, and the documents that failed for good with their reasons."""

    written: int = 0
    duplicates: int = 0
    failed: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)  # id, index, reason, doc


def chunks(
    actions: Iterable[tuple[str, str, dict[str, Any]]], *, max_docs: int, max_bytes: int
) -> Iterator[list[tuple[str, str, dict[str, Any], bytes]]]:
    """Group ``(index, id, doc)`` into chunks of at most ``max_docs`` docs and about ``max_bytes`` bytes."""
    chunk: list[tuple[str, str, dict[str, Any], bytes]] = []
    size = 0
    for index, doc_id, doc in actions:
        body = orjson.dumps(doc, default=str)
        if chunk and (len(chunk) >= max_docs or size + len(body) > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append((index, doc_id, doc, body))
        size += len(body) + 80
    if chunk:
        yield chunk


def _payload(chunk: list[tuple[str, str, dict[str, Any], bytes]]) -> bytes:
    lines = []
    for index, doc_id, _, body in chunk:
        lines.append(orjson.dumps({"create": {"_index": index, "_id": doc_id}}))
        lines.append(body)
    return b"\n".join(lines) + b"\n"


class BulkWriter:
    """Sends chunks with per-document retry; raises :class:`Unavailable` with what did not land."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        max_docs: int = 2000,
        max_bytes: int = 5_000_000,
        max_retries: int = 5,
        initial_backoff: float = 0.5,
        max_backoff: float = 8.0,
        threads: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.max_docs = max_docs
        self.max_bytes = max_bytes
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        self.threads = threads

    def write(
        self, actions: Iterable[tuple[str, str, dict[str, Any]]], *, refresh: bool = False
    ) -> BulkOutcome:
        """Write every ``(index, id, doc)``; per-document failures are returned, outages raised."""
        out = BulkOutcome()
        stream = chunks(actions, max_docs=self.max_docs, max_bytes=self.max_bytes)
        if self.threads <= 1:
            for chunk in stream:
                try:
                    self._send(chunk, out, refresh)
                except Unavailable as exc:
                    # Everything not yet sent goes back to the caller (to the spool), in order.
                    for rest in stream:
                        exc.pending.extend((i, d, doc) for i, d, doc, _ in rest)
                    exc.outcome = out
                    raise
            return out
        return self._write_parallel(stream, out, refresh)

    def _write_parallel(
        self, stream: Iterator[list[tuple[str, str, dict[str, Any], bytes]]], out: BulkOutcome, refresh: bool
    ) -> BulkOutcome:
        """Encode the next chunks while earlier ones are in flight (as helpers.parallel_bulk does)."""
        lock = threading.Lock()
        failed: list[Unavailable] = []

        def send(chunk: list[tuple[str, str, dict[str, Any], bytes]]) -> None:
            part = BulkOutcome()
            try:
                self._send(chunk, part, refresh)
            except Unavailable as exc:
                with lock:
                    failed.append(exc)
            with lock:
                out.written += part.written
                out.duplicates += part.duplicates
                out.failed.extend(part.failed)

        with ThreadPoolExecutor(self.threads) as pool:
            inflight: list[Future[None]] = []
            for chunk in stream:
                if failed:
                    # The cluster went away: stop sending, hand the rest to the caller in order.
                    extra = [(i, d, doc) for i, d, doc, _ in chunk]
                    for rest in stream:
                        extra.extend((i, d, doc) for i, d, doc, _ in rest)
                    failed.append(Unavailable(failed[0].reason, extra))
                    break
                inflight.append(pool.submit(send, chunk))
                if len(inflight) >= self.threads * 2:
                    inflight.pop(0).result()
            for f in inflight:
                f.result()
        if failed:
            exc = Unavailable(failed[0].reason, [p for e in failed for p in e.pending])
            exc.outcome = out
            raise exc
        return out

    def _send(
        self, chunk: list[tuple[str, str, dict[str, Any], bytes]], out: BulkOutcome, refresh: bool
    ) -> None:
        attempt = 0
        todo = chunk
        while todo:
            try:
                resp = self.client.options(request_timeout=120).bulk(
                    operations=_payload(todo),  # type: ignore[arg-type]  # pre-encoded NDJSON is accepted as is
                    refresh=refresh or None,
                )
                items = resp["items"]
            except (es_exc.ConnectionError, es_exc.ConnectionTimeout) as exc:
                # Unreachable: one quick retry, then let the caller spool instead of blocking it.
                if attempt >= 1:
                    raise Unavailable(
                        f"unreachable: {type(exc).__name__}", [(i, d, doc) for i, d, doc, _ in todo]
                    ) from exc
                retry, reason, items = todo, f"unreachable: {type(exc).__name__}", None
            except es_exc.ApiError as exc:
                if exc.meta.status not in RETRY_STATUS:
                    raise
                retry, reason, items = todo, f"HTTP {exc.meta.status}", None
            if items is not None:
                retry = []
                reason = ""
                for (index, doc_id, doc, body), item in zip(todo, items, strict=True):
                    res = item["create"]
                    status = res.get("status", 500)
                    if status in (200, 201):
                        out.written += 1
                    elif status == 409:
                        out.duplicates += 1
                    elif status in RETRY_STATUS:
                        retry.append((index, doc_id, doc, body))
                        reason = f"HTTP {status}"
                    else:
                        err = res.get("error") or {}
                        why = f"{err.get('type', status)}: {err.get('reason', '')}"
                        cause = err.get("caused_by")
                        if isinstance(cause, dict) and cause.get("reason"):
                            why += f" ({cause['reason']})"
                        out.failed.append((doc_id, index, why, doc))
            if not retry:
                return
            attempt += 1
            if attempt > self.max_retries:
                raise Unavailable(reason, [(i, d, doc) for i, d, doc, _ in retry])
            self.sleep(min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1)))
            todo = retry
