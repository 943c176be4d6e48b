"""Alert and register fixtures written for these tests, in the shape canh.store.scheduled.make_alert writes."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from canh.incidents.register import System
from canh.incidents.register_io import read_file
from canh.store.scheduled import alert_id


def sample_register() -> list[System]:
    path = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))
    result = read_file(path)
    assert not result.errors
    return result.systems


def alert(
    rule: str,
    host: str | None,
    ts: str,
    *,
    level: str = "high",
    src: str | None = None,
    event_id: str | None = None,
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    eid = event_id or f"{rule}-{host}-{ts}-{src}"
    a: dict[str, Any] = {
        "id": alert_id(rule, eid),
        "@timestamp": ts,
        "event": {"kind": "signal", "severity_label": level, "ingested": ts},
        "rule": {"id": rule, "name": name or f"Rule {rule}", "level": level},
        "related": {"event_ids": [eid]},
    }
    if host:
        a["host"] = {"name": host}
    if src:
        a["source"] = {"ip": src}
    if group:
        a["canh"] = {"correlation": {"group": group}}
    if tags:
        a["tags"] = tags
    a.update(extra)
    return a
