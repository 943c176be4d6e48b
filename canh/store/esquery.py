"""Translate a parsed hunting query (:mod:`canh.query`) to Elasticsearch query DSL.

Both stores run the same tree, so they agree on what a query means: keyword fields match exactly and
case-sensitively, text fields (:mod:`canh.fields`) word by word for words and phrases and on their
whole value (wildcards in any case) for patterns, bare words search the default text fields, terms
without an operator are ANDed. Passing the raw string to ``query_string`` would let
Lucene decide instead (its default operator, its handling of ``/`` and ``*``), which is how the two
stores used to disagree.
"""

from __future__ import annotations

from typing import Any

from canh.events import to_epoch_ms
from canh.fields import DEFAULT_TEXT_FIELDS, is_date_field, is_ip_field, is_text_field
from canh.query import And, Exists, MatchAll, Node, Not, Or, Range, Term, tokens

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
            wanted = tokens(node.value)
            if not wanted:
                return MATCH_NONE
            return {"match_phrase": {field: {"query": " ".join(wanted)}}}
        # Patterns test the whole value, as Sigma's contains/startswith/endswith do: on the exact
        # `.keyword` copy (values over its ignore_above are not there: docs/hunting.md).
        if node.kind == "wildcard":
            return {"wildcard": {f"{field}.keyword": {"value": node.value, "case_insensitive": True}}}
        return _regexp(f"{field}.keyword", node.value)
    if node.kind == "exact" or node.kind == "phrase":
        if node.kind == "phrase" and "/" in node.value and is_ip_field(field):
            return MATCH_NONE  # a quoted "10.0.0.0/8" is a literal value no address equals
        # `match` on keyword/number/ip/boolean fields is a term query; lenient keeps "abc" on a
        # numeric field a non-match (as in SQLite) instead of an error.
        return {"match": {field: {"query": node.value, "lenient": True}}}
    if node.kind == "wildcard":
        return {"wildcard": {field: {"value": node.value}}}
    return _regexp(field, node.value)


def _regexp(field: str, pattern: str) -> dict[str, Any]:
    value, caseless = lucene_regex(pattern)
    # Sigma-style patterns (.*a.*b.*c) need more automaton states than the default 10,000.
    body: dict[str, Any] = {"value": value, "flags": "NONE", "max_determinized_states": 200_000}
    if caseless:
        body["case_insensitive"] = True
    return {"regexp": {field: body}}


_CLASS_ESCAPES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \t\n\r\f\v"}
_CHAR_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}


def lucene_regex(pattern: str) -> tuple[str, bool]:
    r"""A Python regex (as the matcher reads it) in Lucene's dialect, and whether it is case-insensitive.

    Both are anchored (Python via fullmatch). Translated: ``(?i)``, ``(?:``, ``\d \w \s`` and their
    negations, ``\t``-style escapes, lazy quantifiers (same match set when anchored), ``^``/``$`` at
    the ends. Refused with a clear error: lookaround, backreferences, ``\b``, other inline flags.
    """
    from canh.errors import QueryError

    caseless = False
    if pattern.startswith("(?i)"):
        caseless, pattern = True, pattern[4:]
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in _CLASS_ESCAPES:
                body = _CLASS_ESCAPES[nxt].replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")
                body = body.replace("\\f", "\f").replace("\\v", "\v")
                out.append(body if in_class else f"[{body}]")
            elif nxt.lower() in _CLASS_ESCAPES and nxt.isupper():
                if in_class:
                    raise QueryError(
                        "query.invalid",
                        reason=f"/{pattern}/: a negated class escape inside [...] is not supported",
                    )
                body = (
                    _CLASS_ESCAPES[nxt.lower()].replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r")
                )
                body = body.replace("\\f", "\f").replace("\\v", "\v")
                out.append(f"[^{body}]")
            elif nxt in _CHAR_ESCAPES:
                out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f", "v": "\v"}[nxt])
            elif nxt.isalnum():
                raise QueryError(
                    "query.invalid",
                    reason=f"/{pattern}/: \\{nxt} is not supported by Elasticsearch regular expressions",
                )
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "-" and (pattern.startswith("]", i + 1) or out[-1] in ("[", "^")):
                out.append("\\-")  # a literal - at either end of a class (Lucene would read a range)
                i += 1
                continue
            elif ch in '"<>@&~#':
                out.append("\\" + ch)
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            if pattern.startswith("^", i + 1):
                out.append("^")
                i += 1
            i += 1
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if pattern.startswith("(?:", i):
                out.append("(")
                i += 3
                continue
            raise QueryError(
                "query.invalid", reason=f"/{pattern}/: lookaround and inline flags are not supported"
            )
        if ch in "+*?}" and out and pattern.startswith("?", i + 1) and ch != "?":
            out.append(ch)  # a lazy quantifier matches the same strings when the whole value must match
            i += 2
            continue
        if ch == "^" and i == 0:
            i += 1
            continue
        if ch == "$" and i == n - 1:
            i += 1
            continue
        if ch in "^$":
            # Lucene has no anchors (its expressions always match the whole value): a ^ or $ inside
            # would be a plain character there, so it is refused rather than run with another meaning.
            raise QueryError(
                "query.invalid",
                reason=f"/{pattern}/: ^ and $ are only supported at the ends of the expression",
            )
        if (ch == ")" and out and out[-1] == "|") or (ch == "|" and out and out[-1] in ("(", "|")):
            out.append("()")  # Lucene has no empty alternative: spell the empty string as ()
        if ch in '"<>@&~#':
            out.append("\\" + ch)  # operators or delimiters in Lucene, plain characters in Python
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), caseless
