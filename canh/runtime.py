"""Wires the parts together for one run: paths, config, clock and the store in use.

Only this module (and the rest of ``canh/``) knows which store implementation is configured; the
collectors, rules, incidents and console receive a :class:`canh.store.base.Store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from canh.clock import Clock, SystemClock
from canh.config import CanhConfig, Paths, load_config, resolve_paths
from canh.store.base import Store


def open_store(config: CanhConfig, paths: Paths) -> Store:
    """The store the config names: the embedded SQLite file by default, or Elasticsearch."""
    if config.store.type == "elasticsearch":
        from canh.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_config(config.store.elasticsearch, paths)
    from canh.store.sqlite import SQLiteStore

    path = Path(config.store.sqlite.path) if config.store.sqlite.path else paths.data / "canh.db"
    return SQLiteStore(path, index_entities=config.store.sqlite.index_entities)


@dataclass
class Runtime:
    """Everything a command needs: where files live, the validated config, the clock, the store."""

    paths: Paths
    config: CanhConfig
    clock: Clock = field(default_factory=SystemClock)
    _store: Store | None = None

    @classmethod
    def load(cls, home: str | None = None, config: str | None = None, clock: Clock | None = None) -> Runtime:
        """Resolve paths, read and validate the config file."""
        paths = resolve_paths(home, config)
        return cls(
            paths=paths, config=load_config(paths, required=config is not None), clock=clock or SystemClock()
        )

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.config, self.paths)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
