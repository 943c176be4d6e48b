"""Placeholder values (``%name%`` in rules with ``|expand``): from ``rules.placeholders`` in canh.yml
and from files named in ``rules.placeholder_files`` (one value a line, ``#`` comments), merged.

A threat-intelligence list is a file of addresses and networks, refreshed by a script: every line
that looks like an address must be one (``10.0.0.300`` is an error at its file:line, not a value
that silently never matches). A placeholder whose values are all addresses or networks is matched
as ``|cidr`` by the pipeline (``address_placeholders``), so a list may hold ``203.0.113.0/24``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canh.errors import ConfigError

# dotted digits (an IPv4 address, maybe mistyped) or hex with a colon (IPv6); domains have neither
_LOOKS_LIKE_ADDRESS = re.compile(r"^(?:\d+(?:\.\d+){1,3}|[0-9a-fA-F.]*:[0-9a-fA-F:.]*)(?:/\d{1,3})?$")


def network(value: str) -> str | None:
    """``value`` as a network in CIDR form (an address is a /32 or /128), or None."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        return None


def read_file(name: str, path: str) -> list[str]:
    """The values of one placeholder file; a line that looks like an address but is none is an error."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "config.placeholder_file",
            where=f"rules.placeholder_files.{name}",
            path=str(file),
            reason=str(exc),
        ) from exc
    out: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        value = line.split("#", 1)[0].strip()
        if not value:
            continue
        if _LOOKS_LIKE_ADDRESS.match(value) and network(value) is None:
            raise ConfigError("config.placeholder_bad_address", where=f"{file}:{n}", value=value, name=name)
        out.append(value)
    return out


def resolve(placeholders: Mapping[str, list[str]], files: Mapping[str, str]) -> dict[str, list[str]]:
    """Every placeholder's values: the inline ones, then those of its file (both when both are set)."""
    out = {k: [str(v) for v in vs] for k, vs in placeholders.items()}
    for name, path in files.items():
        out.setdefault(name, []).extend(read_file(name, path))
    return {k: v for k, v in out.items() if v}


def of_config(cfg: Any) -> dict[str, list[str]]:
    """The placeholder values of a ``RulesConfig``."""
    return resolve(getattr(cfg, "placeholders", {}) or {}, getattr(cfg, "placeholder_files", {}) or {})


def address_placeholders(placeholders: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The placeholders whose values are all addresses or networks, as networks in CIDR form."""
    out: dict[str, list[str]] = {}
    for name, values in placeholders.items():
        nets = [network(str(v)) for v in values]
        if nets and all(n is not None for n in nets):
            out[name] = list(dict.fromkeys(n for n in nets if n is not None))
    return out
