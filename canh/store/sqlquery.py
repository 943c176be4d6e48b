"""Translate a parsed hunting query (:mod:`canh.query`) to an SQLite WHERE clause.

Exact keyword matches and time ranges become plain SQL on indexed columns or ``json_each``; the
word, wildcard, regex, CIDR and range rules call back into :mod:`canh.query` through functions
registered on the connection, so SQLite and the Python matcher cannot disagree.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from canh.events import to_epoch_ms
from canh.fields import DEFAULT_TEXT_FIELDS, is_ip_field, is_text_field
from canh.query import (
    And,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Range,
    Term,
    as_number,
    in_range,
    keyword_matches,
    text_matches,
)


def register_functions(conn: sqlite3.Connection) -> None:
    """Install the query functions on a connection (deterministic, so SQLite may cache them)."""
    conn.create_function("canh_text", 3, _text, deterministic=True)
    conn.create_function("canh_kw", 4, _kw, deterministic=True)
    conn.create_function("canh_range", 6, _range, deterministic=True)


def _text(value: Any, kind: str, pattern: str) -> int:
    return 1 if value is not None and text_matches(value, kind, pattern) else 0


def _kw(value: Any, kind: str, pattern: str, field: str) -> int:
    return 1 if keyword_matches(value, kind, pattern, field) else 0


def _range(value: Any, field: str, low: str | None, high: str | None, il: int, ih: int) -> int:
    return 1 if in_range(value, Range(field, low, high, bool(il), bool(ih))) else 0


def json_path(field: str) -> str:
    """``source.ip`` → ``$."source"."ip"`` (quoted, so odd key names are safe)."""
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in field.split("."))


class SqlWhere:
    """Builds ``(sql, params)`` for one table: ``columns`` maps dotted fields to indexed columns."""

    def __init__(self, columns: Mapping[str, str], time_columns: Mapping[str, str], doc_col: str = "doc"):
        self.columns = columns
        self.time_columns = time_columns
        self.doc = doc_col

    def build(self, node: Node) -> tuple[str, list[Any]]:
        params: list[Any] = []
        return self._node(node, params), params

    def _node(self, node: Node, p: list[Any]) -> str:
        if isinstance(node, MatchAll):
            return "1"
        if isinstance(node, And):
            return self._balanced([self._node(i, p) for i in node.items], " AND ")
        if isinstance(node, Or):
            return self._balanced([self._node(i, p) for i in node.items], " OR ")
        if isinstance(node, Not):
            # coalesce: a comparison with an absent (NULL) column must count as "no match", not unknown
            return f"NOT coalesce({self._node(node.item, p)}, 0)"
        if isinstance(node, Exists):
            col = self.columns.get(node.field)
            if col:
                return f"({col} IS NOT NULL)"
            p.append(json_path(node.field))
            return f"(coalesce(json_type({self.doc}, ?), 'null') != 'null')"
        if isinstance(node, Range):
            return self._range(node, p)
        return self._term(node, p)

    @staticmethod
    def _balanced(parts: list[str], op: str) -> str:
        """``(a OR b OR ...)`` nested as a balanced tree: SQLite parses a flat chain of N terms N
        levels deep and refuses past 1,000 (Sigma rules list hundreds of values)."""
        if len(parts) <= 64:
            return "(" + op.join(parts) + ")"
        mid = len(parts) // 2
        return "(" + SqlWhere._balanced(parts[:mid], op) + op + SqlWhere._balanced(parts[mid:], op) + ")"

    def _range(self, node: Range, p: list[Any]) -> str:
        tcol = self.time_columns.get(node.field)
        if tcol:
            parts = []
            try:
                if node.low is not None:
                    p.append(to_epoch_ms(node.low))
                    parts.append(f"{tcol} {'>=' if node.include_low else '>'} ?")
                if node.high is not None:
                    p.append(to_epoch_ms(node.high))
                    parts.append(f"{tcol} {'<=' if node.include_high else '<'} ?")
            except ValueError:
                return "0"
            return "(" + (" AND ".join(parts) or "1") + ")"
        p.extend(
            [
                json_path(node.field),
                node.field,
                node.low,
                node.high,
                int(node.include_low),
                int(node.include_high),
            ]
        )
        return f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) WHERE canh_range(value, ?, ?, ?, ?, ?))"

    def _term(self, node: Term, p: list[Any]) -> str:
        if node.field is None:
            alts = [self._term(Term(f, node.value, node.kind), p) for f in DEFAULT_TEXT_FIELDS]
            return "(" + " OR ".join(alts) + ")"
        field = node.field
        if is_text_field(field):
            p.extend([json_path(field), node.kind, node.value])
            return f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) WHERE canh_text(value, ?, ?))"
        col = self.columns.get(field)
        simple = node.kind in ("exact", "phrase") and not ("/" in node.value and is_ip_field(field))
        if simple:
            number = as_number(node.value) if node.kind == "exact" else None
            if col:
                p.append(node.value)
                return f"({col} = ?)"
            p.append(json_path(field))
            if number is not None:
                p.extend([node.value, number])
                return f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) WHERE value = ? OR (type IN ('integer','real') AND value = ?))"
            if node.kind == "exact" and node.value in ("true", "false"):
                # JSON booleans: json_each types them 'true'/'false' (value 1/0), as the matcher reads them.
                p.extend([node.value, node.value])
                return f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) WHERE (value = ? AND type = 'text') OR type = ?)"
            p.append(node.value)
            return f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) WHERE value = ? AND type = 'text')"
        if col:
            p.extend([node.kind, node.value, field])
            return f"canh_kw({col}, ?, ?, ?)"
        p.extend([json_path(field), node.kind, node.value, field])
        return (
            f"EXISTS (SELECT 1 FROM json_each({self.doc}, ?) "
            "WHERE type NOT IN ('object', 'array') AND canh_kw(value, ?, ?, ?))"
        )
