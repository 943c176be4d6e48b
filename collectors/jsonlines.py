"""Helpers shared by the JSON-lines parsers (Suricata, Zeek, Winlogbeat/NXLog): decoding and URL splitting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from canh.errors import InputError


def load_object(line: str) -> dict[str, Any] | None:
    """The JSON object on a line, None for a blank line; anything else is an InputError."""
    if not line.strip():
        return None
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError("input.bad_json", reason=str(exc).split(":")[0]) from exc
    if not isinstance(doc, dict):
        raise InputError("collect.json_not_object", reason=type(doc).__name__)
    return doc


def sample_objects(lines: Sequence[str], limit: int = 20) -> list[dict[str, Any]]:
    """Up to ``limit`` JSON objects decoded from a sample of lines (undecodable lines count as None)."""
    out: list[dict[str, Any]] = []
    for ln in lines:
        if not ln.strip():
            continue
        if len(out) >= limit:
            break
        try:
            doc = orjson.loads(ln)
        except orjson.JSONDecodeError:
            doc = None
        out.append(doc if isinstance(doc, dict) else {})
    return out


def url_fields(original: str, domain: str | None = None) -> dict[str, Any]:
    """``url.*`` from a request target (``/a/b.php?x=1``) or an absolute URL."""
    out: dict[str, Any] = {"url.original": original}
    rest = original
    if "://" in rest:
        scheme, _, rest = rest.partition("://")
        host, slash, rest = rest.partition("/")
        rest = slash + rest
        out["url.scheme"] = scheme.lower()
        domain = domain or host.rsplit("@", 1)[-1].split(":", 1)[0] or None
    path, _, query = rest.partition("?")
    path = path.split("#", 1)[0]
    if path:
        out["url.path"] = path
        leaf = path.rsplit("/", 1)[-1]
        if "." in leaf and not leaf.endswith("."):
            out["url.extension"] = leaf.rsplit(".", 1)[-1].lower()
    if query:
        out["url.query"] = query.split("#", 1)[0]
    if domain:
        out["url.domain"] = domain
    return out


def as_int(value: Any) -> int | None:
    """An int from a JSON number or numeric string; None otherwise (bool is not a number here)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e18 else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def as_str(value: Any) -> str | None:
    """A non-empty string value, or None (zeek's ``-`` unset marker included)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value) if not isinstance(value, str) else value
    return text if text and text != "-" else None
