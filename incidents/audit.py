"""Audit entries for every change to the register and to incidents (the store's append-only stream)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from canh.events import format_ts
from canh.store.base import Store


def diff(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, prefix: str = ""
) -> dict[str, Any]:
    """Changed dotted fields as ``{field: [old, new]}`` (lists compared whole)."""
    before = before or {}
    after = after or {}
    out: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        name = f"{prefix}{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            out.update(diff(old, new, name + "."))
        elif old != new:
            out[name] = [old, new]
    return out


def audit_entry(
    kind: str, doc_id: str, action: str, actor: str, at: datetime, changes: Mapping[str, Any], version: int
) -> dict[str, Any]:
    """One audit record; its id is stable for (object, version, action) so a retry never doubles it."""
    rid = hashlib.blake2b(f"{kind}\0{doc_id}\0{version}\0{action}".encode(), digest_size=16).hexdigest()
    return {
        "id": rid,
        "@timestamp": format_ts(at),
        "object": {"id": f"{kind}/{doc_id}", "kind": kind, "version": version},
        "action": action,
        "user": {"name": actor},
        "changes": {k: [_short(v) for v in pair] for k, pair in changes.items()},
    }


def _short(v: Any) -> Any:
    # Audit keeps what changed, not whole histories copied again at every version.
    if isinstance(v, list) and len(v) > 20:
        return f"[{len(v)} items]"
    return v


def write_audit(store: Store, entry: Mapping[str, Any]) -> None:
    """Append one entry to the audit stream."""
    store.write("audit", [entry])
