"""Long-running sources for ``canh collect``: the protocol every source follows, and the factory.

A source reads until ``stop`` is set and hands batches to ``emit(batch, commit)``. The runner stores
the batch (and runs detection), then calls ``commit()`` so the source can advance its checkpoint:
a crash between the two re-reads at most that batch, and deterministic event ids make it a no-op.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module
from typing import Any, Protocol

from canh.errors import ConfigError
from canh.events import Event

Emit = Callable[[list[Event], Callable[[], None] | None], None]


class Source(Protocol):
    """A long-running input: files followed, a syslog listener, an EVTX folder, a capture."""

    name: str

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Read and emit until ``stop`` is set, then flush what is pending and return."""
        ...

    def stats(self) -> dict[str, int]:
        """Counters: read, emitted, dropped, errors (and whatever else the source counts)."""
        ...


# Looked up lazily by dotted path: a source whose module needs an optional native package (evtx,
# scapy) only fails when a config actually uses it.
SOURCE_TYPES: dict[str, str] = {
    "file": "canh.collectors.files:build",
    "syslog": "canh.collectors.syslog_server:build",
    "evtx": "canh.collectors.evtx:build",
    "pcap": "canh.collectors.packets.source:build",
    "capture": "canh.collectors.packets.source:build",
}


def source_options(cfg: Any) -> dict[str, Any]:
    """Options of a SourceConfig as a dict: declared fields (when set) plus the extra keys."""
    if isinstance(cfg, dict):
        return dict(cfg)
    data = dict(getattr(cfg, "model_extra", None) or {})
    for key in ("type", "name", "timezone", "format"):
        value = getattr(cfg, key, None)
        if value is not None:
            data[key] = value
    return data


def build_source(cfg: Any, runtime: Any) -> Source:
    """The source a config entry describes, dispatched on its ``type``."""
    kind = str(source_options(cfg).get("type") or "")
    target = SOURCE_TYPES.get(kind)
    if target is None:
        raise ConfigError(
            "config.bad_value",
            key="sources.type",
            reason=f"{kind!r}: one of {', '.join(sorted(SOURCE_TYPES))}",
        )
    module, _, attr = target.partition(":")
    try:
        factory = getattr(import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError("collect.source_unavailable", where=kind, reason=str(exc)) from exc
    return factory(cfg, runtime)  # type: ignore[no-any-return,unused-ignore]


__all__ = ["SOURCE_TYPES", "Emit", "Source", "build_source", "source_options"]
