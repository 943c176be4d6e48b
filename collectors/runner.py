"""Runs sources side by side for ``canh collect``: each in its own thread, all writing to one store.

``emit(batch, commit)`` stores the batch, runs the detection hooks, then calls ``commit`` so the
source can move its checkpoint. A store that fails is retried until it answers or the run stops;
then the source ends without committing, and the next run reads the batch again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from canh.collectors.source import Source
from canh.errors import CanhError
from canh.events import Event
from canh.ingest import fewer_collections
from canh.store.base import Store

EventHook = Callable[[list[Event]], None]


@dataclass
class RunnerStats:
    """Totals over the run, for the summary ``canh collect`` prints at exit."""

    batches: int = 0
    events: int = 0
    written: int = 0
    duplicates: int = 0
    store_retries: int = 0
    failures: list[str] = field(default_factory=list)


class Runner:
    """Owns the store writes of every source: one lock, so batches and their commits stay in order."""

    def __init__(
        self, store: Store, sources: Sequence[Source], hooks: Sequence[EventHook] = (), retry: float = 1.0
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.hooks = list(hooks)
        self.retry = retry
        self.stop = threading.Event()
        self.stats = RunnerStats()
        self._lock = threading.Lock()
        self._errors: dict[str, BaseException] = {}

    def emit(self, batch: list[Event], commit: Callable[[], None] | None) -> None:
        """Store ``batch`` (retrying while the store is down), run the hooks, then ``commit``."""
        with self._lock:
            if batch:
                while True:
                    try:
                        result = self.store.write("events", batch)
                        break
                    except (CanhError, OSError) as exc:
                        self.stats.store_retries += 1
                        if self.stop.wait(self.retry):
                            raise exc
                        time.sleep(0)
                self.stats.batches += 1
                self.stats.events += len(batch)
                self.stats.written += result.written
                self.stats.duplicates += result.duplicates
                for hook in self.hooks:
                    hook(batch)
            if commit is not None:
                commit()

    def run(self, until: threading.Event | None = None) -> None:
        """Start every source and wait until stopped (``until`` set, or every source ended)."""
        threads = [
            threading.Thread(target=self._run_one, args=(src,), name=f"source:{src.name}", daemon=True)
            for src in self.sources
        ]
        with fewer_collections():
            for th in threads:
                th.start()
            while any(th.is_alive() for th in threads):
                if until is not None and until.wait(0.2):
                    break
                if until is None:
                    time.sleep(0.2)
                self.tick()
            self.stop.set()
            for th in threads:
                th.join()

    def tick(self) -> None:
        """Between batches, give hooks that keep time (detection closing correlation windows in a
        quiet stream) their turn, under the same lock as the batches."""
        with self._lock:
            for hook in self.hooks:
                tick = getattr(hook, "tick", None)
                if tick is None:
                    continue
                try:
                    tick()
                except (CanhError, OSError):
                    self.stats.store_retries += 1  # the store is down: the next tick tries again

    def _run_one(self, src: Source) -> None:
        try:
            src.run(self.emit, self.stop)
        except Exception as exc:
            text = exc.render() if isinstance(exc, CanhError) else f"{type(exc).__name__}: {exc}"
            self.stats.failures.append(f"{src.name}: {text}")


__all__ = ["EventHook", "Runner", "RunnerStats"]
