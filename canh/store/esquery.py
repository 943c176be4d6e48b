"""Translate a parsed hunting query (:mod:`canh.query`) to Elasticsearch query DSL.

Both stores run the same tree, so they agree on what a query means: keyword fields match exactly and
case-sensitively, text fields (:mod:`canh.fields`) word by word, bare words search the default text
fields, terms without an operator are ANDed. Passing the raw string to ``query_string`` would let
Lucene decide instead (its default operator, its handling of ``/`` and ``*``), which is how the two
stores used to disagree.
"""

from __future__ import annotations

from typing import Any

from canh.events import to_epoch_ms
from canh.fields import DEFAULT_TEXT_FIELDS, is_date_field, is_ip_field, is_text_field
from canh.query import And, Exists, MatchAll, Node, Not, Or, Range, Term

MATCH_NONE: dict[str, Any] = {"match_none": {}}


def to_dsl(node: Node, time_fields: dict[str, str] | None = None) -> dict[str, Any]:
    """The DSL query for a parsed hunting query.

    ``time_fields`` maps ``@timestamp``/``event.ingested`` to the store's own always-present time
    fields, so a range on them means what it means in SQLite (whose time columns default to "now").
    """
    return _dsl(node, time_fields or {})


def _dsl(node: Node, tf: dict[str, str]) -> dict[str, Any]:
    to_dsl = lambda n: _dsl(n, tf)  # noqa: E731
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, And):
        return {"bool": {"filter": [to_dsl(i) for i in node.items]}}
    if isinstance(node, Or):
        return {"bool": {"should": [to_dsl(i) for i in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_dsl(node.item)]}}
    if isinstance(node, Exists):
        return {"exists": {"field": node.field}}
    if isinstance(node, Range):
        return _range(node, tf.get(node.field, node.field))
    return _term(node)


def _range(node: Range, target: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if is_date_field(node.field):
        # Bounds become instants here, as the SQLite store does, so "2026-11-22" means UTC midnight.
        try:
            if node.low is not None:
                body["gte" if node.include_low else "gt"] = to_epoch_ms(node.low)
            if node.high is not None:
                body["lte" if node.include_high else "lt"] = to_epoch_ms(node.high)
        except ValueError:
            return MATCH_NONE
        body["format"] = "epoch_millis"
    else:
        if node.low is not None:
            body["gte" if node.include_low else "gt"] = node.low
        if node.high is not None:
            body["lte" if node.include_high else "lt"] = node.high
    return {"range": {target: body}}


def _term(node: Term) -> dict[str, Any]:
    if node.field is None:
        alts = [_term(Term(f, node.value, node.kind)) for f in DEFAULT_TEXT_FIELDS]
        return {"bool": {"should": alts, "minimum_should_match": 1}}
    field = node.field
    if is_text_field(field):
        if node.kind in ("exact", "phrase"):
            return {"match_phrase": {field: {"query": node.value}}}
        if node.kind == "wildcard":
            # Indexed words are lower-cased: the pattern is matched against each word, as canh.query does.
            return {"wildcard": {field: {"value": node.value.lower()}}}
        return {"regexp": {field: {"value": node.value, "flags": "NONE"}}}
    if node.kind == "exact" or node.kind == "phrase":
        if node.kind == "phrase" and "/" in node.value and is_ip_field(field):
            return MATCH_NONE  # a quoted "10.0.0.0/8" is a literal value no address equals
        # `match` on keyword/number/ip/boolean fields is a term query; lenient keeps "abc" on a
        # numeric field a non-match (as in SQLite) instead of an error.
        return {"match": {field: {"query": node.value, "lenient": True}}}
    if node.kind == "wildcard":
        return {"wildcard": {field: {"value": node.value}}}
    return {"regexp": {field: {"value": node.value, "flags": "NONE"}}}
