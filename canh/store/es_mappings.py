"""Index templates for Canh's indices: ECS types by field name, one source of truth with canh.fields.

Strings are exact keywords unless :data:`canh.fields.TEXT_FIELDS` says they are searched by word;
``*.ip`` fields are ``ip`` (CIDR and range queries); the date fields are dates. Date and number
detection on strings is off: a value that looks like a date in a keyword field stays a keyword, as
it does in the SQLite store.
"""

from __future__ import annotations

from typing import Any

from canh.fields import DATE_FIELDS, TEXT_FIELDS

DATE_FORMAT = "strict_date_optional_time||epoch_millis"
META = "canh_meta"


def _field_tree(paths: set[str], leaf: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for path in sorted(paths):
        parts = path.split(".")
        node = props
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = dict(leaf)
    return props


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        if key in out and "properties" in out[key] and "properties" in value:
            out[key] = {"properties": _merge(out[key]["properties"], value["properties"])}
        else:
            out[key] = value
    return out


def mappings() -> dict[str, Any]:
    """The mapping every Canh index shares (events, alerts, audit and versioned documents)."""
    # Text fields are cut into words by the standard analyser, which canh.words follows for the
    # SQLite store, so a word query means the same on both (and Kibana's searches work on them).
    # No norms: they only serve scoring, and results are ordered by time, never scored. The
    # `.keyword` sub-field serves exact values, whole-value patterns and aggregations.
    text = {
        "type": "text",
        "analyzer": "standard",
        "norms": False,
        "fields": {"keyword": {"type": "keyword", "ignore_above": 8191}},
    }
    date = {"type": "date", "format": DATE_FORMAT, "ignore_malformed": True}
    props = _merge(_field_tree(set(TEXT_FIELDS), text), _field_tree(set(DATE_FIELDS), date))
    # The store's own bookkeeping, stripped from every record read back: the record id and the
    # event/ingest times in ms (defaulting to "now" when a record has none, like SQLite's columns).
    props[META] = {
        "properties": {
            "id": {"type": "keyword"},
            "version": {"type": "long"},
            "ts": {"type": "date", "format": "epoch_millis"},
            "ingested": {"type": "date", "format": "epoch_millis"},
        }
    }
    return {
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            {"ips": {"path_match": ["*.ip", "ip"], "mapping": {"type": "ip", "ignore_malformed": True}}},
            {
                "stamps": {
                    "match_mapping_type": "string",
                    "path_match": ["*_at", "*.timestamp"],
                    "mapping": date,
                }
            },
            {
                "strings": {
                    "match_mapping_type": "string",
                    "mapping": {"type": "keyword", "ignore_above": 8191},
                }
            },
        ],
        "properties": props,
    }


def template(prefix: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """A composable index template for ``<prefix>-*``, events joining the ``<prefix>-events`` alias."""
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "template": {
            "settings": {
                "number_of_shards": shards,
                "number_of_replicas": replicas,
                "mapping": {"total_fields": {"limit": 5000}},
            },
            "mappings": mappings(),
        },
        "_meta": {"managed_by": "canh"},
    }


RESTORE = "restore"


def events_template(prefix: str, *, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Daily event indices ``<prefix>-events-YYYY.MM.DD`` behind the alias ``<prefix>-events``."""
    body = template(prefix, shards=shards, replicas=replicas)
    body["index_patterns"] = [f"{prefix}-events-*"]
    body["priority"] = 210
    body["template"]["aliases"] = {f"{prefix}-events": {}}
    props = body["template"]["mappings"]["properties"]
    # An event's id and times are its own event.id, @timestamp and event.ingested (the writer
    # makes the stamps canonical and keeps any original under `restore`, never indexed), so the
    # bookkeeping fields are aliases: three fields fewer to index per event (~12% of the node's
    # work on a log event), and queries on canh_meta.* read the same on older indices.
    props.setdefault("event", {"properties": {}})["properties"]["id"] = {"type": "keyword"}
    props[META] = {
        "properties": {
            "id": {"type": "alias", "path": "event.id"},
            "ts": {"type": "alias", "path": "@timestamp"},
            "ingested": {"type": "alias", "path": "event.ingested"},
            RESTORE: {"type": "object", "enabled": False},
        }
    }
    return body
