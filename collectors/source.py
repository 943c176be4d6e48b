"""Long-running sources for ``canh collect``: the protocol every source follows, and the factory.

A source reads until ``stop`` is set and hands batches to ``emit(batch, commit)``. The runner stores
the batch (and runs detection), then calls ``commit()`` so the source can advance its checkpoint:
a crash between the two re-reads at most that batch, and deterministic event ids make it a no-op.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any, Protocol

from canh.errors import ConfigError
from canh.events import Event
from canh.i18n import t

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


# Each type's pure settings parser: the options checked against the type's declared keys and read,
# without opening a file, a socket or a checkpoint, so `canh config check` finds what `canh collect`
# would fail on (build() calls the same parser).
SETTINGS_PARSERS: dict[str, str] = {
    "file": "canh.collectors.files:parse_settings",
    "syslog": "canh.collectors.syslog_server:parse_settings",
    "evtx": "canh.collectors.evtx:parse_settings",
    "pcap": "canh.collectors.packets.source:parse_settings",
    "capture": "canh.collectors.packets.source:parse_settings",
}

# The declared fields of canh.config.SourceConfig. Text sources (file, syslog) read all four; EVTX and
# packet sources read no line format or zone (their records carry UTC times), so only BASE_OPTIONS.
BASE_OPTIONS = frozenset({"type", "name"})
COMMON_OPTIONS = BASE_OPTIONS | {"timezone", "format"}


def _resolve(kind: str, table: dict[str, str]) -> Callable[..., Any]:
    target = table.get(kind)
    if target is None:
        raise ConfigError(
            "config.bad_value",
            key="sources.type",
            reason=f"{kind!r}: one of {', '.join(sorted(SOURCE_TYPES))}",
        )
    module, _, attr = target.partition(":")
    try:
        return getattr(import_module(module), attr)  # type: ignore[no-any-return,unused-ignore]
    except (ImportError, AttributeError) as exc:
        raise ConfigError("collect.source_unavailable", where=kind, reason=str(exc)) from exc


def build_source(cfg: Any, runtime: Any) -> Source:
    """The source a config entry describes, dispatched on its ``type``."""
    factory = _resolve(str(source_options(cfg).get("type") or ""), SOURCE_TYPES)
    return factory(cfg, runtime)  # type: ignore[no-any-return,unused-ignore]


def check_source(cfg: Any) -> None:
    """Check a source entry's options as ``canh collect`` would read them; ConfigError if wrong."""
    opts = source_options(cfg)
    _resolve(str(opts.get("type") or ""), SETTINGS_PARSERS)(opts)


def check_keys(opts: dict[str, Any], known: Iterable[str], where: str, prefix: str = "") -> None:
    """Refuse a key the source does not read (a typo would otherwise be ignored silently)."""
    names = sorted(set(known))
    for key in opts:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = t("config.did_you_mean", key=close[0]) if close else ""
            raise ConfigError(
                "config.unknown_key",
                where=where,
                key=f"{prefix}{key}",
                suggestion=hint,
                option=f"{prefix}{key}",
            )


def option_error(where: str, option: str, reason: str) -> ConfigError:
    """A bad option value, naming the option so `canh config check` can point at its line."""
    return ConfigError("config.bad_value", where=where, key=option, reason=reason, option=option)


def number_option(opts: dict[str, Any], key: str, default: float, where: str, option: str = "") -> float:
    """``opts[key]`` as a number >= 0 (``default`` when absent); ConfigError naming the option if not."""
    value = opts.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number >= 0:
        raise option_error(where, option or key, t("config.wrong_type", expected=t("config.type_number"),
                                                  got=repr(value)[:60]))  # fmt: skip
    return number


__all__ = [
    "BASE_OPTIONS", "COMMON_OPTIONS", "SETTINGS_PARSERS", "SOURCE_TYPES", "Emit", "Source", "build_source",
    "check_keys", "check_source", "number_option", "option_error", "source_options",
]  # fmt: skip
