r"""Hunting queries in Lucene query-string syntax, one meaning for every store.

``parse`` turns a query into a small tree (:class:`Term`, :class:`Range`, :class:`Exists`, ``And``,
``Or``, ``Not``, :data:`MATCH_ALL`); ``matcher`` makes a Python predicate of it (used for documents
and in-memory filtering); the SQLite store translates the same tree to SQL, and Elasticsearch runs
the string itself with ``default_operator: AND`` and the default text fields. Semantics:

- ``field:value``: exact and case-sensitive on keyword fields; word match, case-insensitive, on text
  fields (:mod:`canh.fields`); numbers match numerically; ``ip_field:10.0.0.0/8`` is CIDR membership.
- Wildcards ``*`` ``?`` match the whole value: exactly on a keyword field, in any case on a text
  field (``url.original:*etc\/passwd*`` is Sigma's ``contains``, not a word pattern).
- ``"a phrase"``: the exact value of a keyword field, consecutive words of a text field.
- ``/regex/``: must match the whole value, on text fields too (Lucene regular expressions are
  anchored); ``(?i)`` at its start makes it case-insensitive.
- A bare word or phrase searches the default text fields (``message``, ``event.original``).
- ``field:[a TO b]``, ``{a TO b}``, ``field:>=a``; ``_exists_:field`` or ``field:*``; AND/OR/NOT,
  ``-x``, ``+x``, parentheses; terms with no operator between them are ANDed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal

from canh.errors import QueryError
from canh.events import format_ts, get, parse_ts
from canh.fields import DEFAULT_TEXT_FIELDS, is_date_field, is_ip_field, is_text_field
from canh.words import words

TermKind = Literal["exact", "wildcard", "phrase", "regex"]


@dataclass(frozen=True)
class Term:
    """``field:value`` (field None = default text fields)."""

    field: str | None
    value: str
    kind: TermKind


@dataclass(frozen=True)
class Range:
    """``field:[low TO high]``; a None bound is open."""

    field: str
    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class Exists:
    """``_exists_:field``: the field is present and not null."""

    field: str


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class MatchAll:
    pass


MATCH_ALL = MatchAll()
Node = Term | Range | Exists | And | Or | Not | MatchAll

_ESCAPE = re.compile(r"\\(.)")


# Lower-cased words of a text field, as Elasticsearch's standard analyser cuts them: canh.words
# itself under the name the query code has always used (no wrapper call per row scanned).
tokens = words


def unescape(value: str) -> str:
    """Drop Lucene backslash escapes (``web\\-01`` → ``web-01``)."""
    return _ESCAPE.sub(r"\1", value)


def has_wildcard(raw: str) -> bool:
    """True when an unescaped ``*`` or ``?`` is in a raw (still escaped) Lucene word."""
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] in "*?":
            return True
        i += 1
    return False


def wildcard_regex(raw: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """A compiled anchored regex for a raw Lucene wildcard word (escapes respected)."""
    out = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            out.append(re.escape(raw[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=512)
def parse(query: str) -> Node:
    """Parse a Lucene query string; an empty query or ``*`` matches everything."""
    text = (query or "").strip()
    if text in ("", "*", "*:*"):
        return MATCH_ALL
    from luqum.exceptions import ParseError
    from luqum.parser import parser

    try:
        tree = parser.parse(text)
    except (ParseError, Exception) as exc:  # luqum raises bare exceptions on lexer errors
        raise QueryError("query.invalid", reason=str(exc).splitlines()[0][:200]) from exc
    return _convert(tree, None)


def _convert(node: Any, field: str | None) -> Node:
    import luqum.tree as lt

    if isinstance(node, lt.SearchField):
        name = unescape(node.name)
        if name == "_exists_":
            return Exists(unescape(str(node.expr)))
        return _convert(node.expr, name)
    if isinstance(node, lt.Group | lt.FieldGroup):
        return _convert(node.expr, field)
    if isinstance(node, lt.AndOperation | lt.UnknownOperation):
        return And(tuple(_convert(c, field) for c in node.children))
    if isinstance(node, lt.OrOperation):
        return Or(tuple(_convert(c, field) for c in node.children))
    if isinstance(node, lt.Not | lt.Prohibit):
        return Not(_convert(node.a, field))
    if isinstance(node, lt.Plus):
        return _convert(node.a, field)
    if isinstance(node, lt.Boost):
        return _convert(node.expr, field)
    if isinstance(node, lt.Word):
        raw = node.value
        if raw == "*":
            return Exists(field) if field else MATCH_ALL
        if has_wildcard(raw):
            return Term(field, raw, "wildcard")  # kept escaped: wildcard_regex reads escapes
        return Term(field, unescape(raw), "exact")
    if isinstance(node, lt.Phrase):
        return Term(field, node.value[1:-1].replace('\\"', '"'), "phrase")
    if isinstance(node, lt.Regex):
        return Term(field, node.value[1:-1], "regex")
    if isinstance(node, lt.Range):
        if field is None:
            raise QueryError(
                "query.invalid", reason="a range needs a field, e.g. destination.port:[1 TO 1024]"
            )
        low = None if str(node.low) == "*" else unescape(str(node.low)).strip('"')
        high = None if str(node.high) == "*" else unescape(str(node.high)).strip('"')
        return Range(field, low, high, bool(node.include_low), bool(node.include_high))
    if isinstance(node, lt.From | lt.To):
        if field is None:
            raise QueryError(
                "query.invalid", reason="a comparison needs a field, e.g. http.response.status_code:>=500"
            )
        bound = unescape(str(node.a)).strip('"')
        if isinstance(node, lt.From):
            return Range(field, bound, None, bool(node.include), True)
        return Range(field, None, bound, True, bool(node.include))
    if isinstance(node, lt.Fuzzy | lt.Proximity):
        raise QueryError("query.invalid", reason="fuzzy and proximity searches (~) are not supported")
    raise QueryError("query.invalid", reason=f"unsupported syntax: {node}")


# -- value semantics shared by the Python matcher and the SQLite functions -------------------------


def as_number(value: str) -> float | None:
    """The number a query value stands for, if it is one."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def cidr_contains(value: Any, network: str) -> bool:
    """True when the address ``value`` lies in ``network`` (IPv4 or IPv6)."""
    try:
        return ipaddress.ip_address(str(value)) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def text_matches(text: Any, kind: str, pattern: str) -> bool:
    """A term on a text field: a word or phrase searches its words (any case); a wildcard pattern
    or a regex is matched against the whole value, the wildcard in any case (as Sigma means it)."""
    if not isinstance(text, str):
        text = str(text)
    if kind == "wildcard":
        return _caseless_wildcard(pattern).fullmatch(text) is not None
    if kind == "regex":
        return _regex(pattern).fullmatch(text) is not None
    words = tokens(text)
    wanted = tokens(pattern)
    if not wanted:
        return False
    if len(wanted) == 1:
        return wanted[0] in words
    n = len(wanted)
    return any(words[i : i + n] == wanted for i in range(len(words) - n + 1))


@lru_cache(maxsize=256)
def _caseless_wildcard(raw: str) -> re.Pattern[str]:
    return wildcard_regex(raw, ignore_case=True)


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as exc:
        raise QueryError("query.invalid", reason=f"bad regular expression /{pattern}/: {exc}") from exc


def keyword_matches(value: Any, kind: str, pattern: str, field: str) -> bool:
    """Match on a keyword (exact) field value, with the numeric, CIDR and wildcard rules."""
    if value is None or isinstance(value, dict | list):
        return False
    if isinstance(value, bool):
        value = "true" if value else "false"
    if kind in ("exact", "phrase"):
        if isinstance(value, int | float):
            number = as_number(pattern)
            return number is not None and float(value) == number
        if kind == "exact" and "/" in pattern and is_ip_field(field):
            return cidr_contains(value, pattern)
        return str(value) == pattern
    if kind == "wildcard":
        return _cased_wildcard(pattern).fullmatch(str(value)) is not None
    return bool(_regex(pattern).fullmatch(str(value)))


@lru_cache(maxsize=256)
def _cased_wildcard(raw: str) -> re.Pattern[str]:
    return wildcard_regex(raw)


def range_key(field: str, value: str) -> Any:
    """A comparable form of a range bound or field value: time, number, IP, or the string itself."""
    if is_date_field(field):
        try:
            return format_ts(parse_ts(value))
        except ValueError:
            return value
    number = as_number(value)
    if number is not None:
        return number
    if is_ip_field(field):
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return value
    return value


def in_range(value: Any, node: Range) -> bool:
    """True when ``value`` lies in the range (numbers numerically, times as times)."""
    if value is None or isinstance(value, dict | list | bool):
        return False
    key = range_key(node.field, str(value)) if not isinstance(value, int | float) else float(value)
    for bound, include, is_low in ((node.low, node.include_low, True), (node.high, node.include_high, False)):
        if bound is None:
            continue
        b = range_key(node.field, bound)
        try:
            if is_low and (key < b or (key == b and not include)):
                return False
            if not is_low and (key > b or (key == b and not include)):
                return False
        except TypeError:
            return False
    return True


def _values(doc: Mapping[str, Any], field: str) -> Iterable[Any]:
    value = get(doc, field)
    if isinstance(value, list):
        return value
    return () if value is None else (value,)


def matcher(node: Node | str) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over documents for a query (string or parsed tree)."""
    tree = parse(node) if isinstance(node, str) else node
    return _compile(tree)


def _compile(node: Node) -> Callable[[Mapping[str, Any]], bool]:
    if isinstance(node, MatchAll):
        return lambda doc: True
    if isinstance(node, And):
        parts = [_compile(i) for i in node.items]
        return lambda doc: all(p(doc) for p in parts)
    if isinstance(node, Or):
        parts = [_compile(i) for i in node.items]
        return lambda doc: any(p(doc) for p in parts)
    if isinstance(node, Not):
        inner = _compile(node.item)
        return lambda doc: not inner(doc)
    if isinstance(node, Exists):
        f = node.field
        return lambda doc: any(v is not None for v in _values(doc, f))
    if isinstance(node, Range):
        r = node
        return lambda doc: any(in_range(v, r) for v in _values(doc, r.field))
    term = node
    fields = (term.field,) if term.field else DEFAULT_TEXT_FIELDS
    checks: list[tuple[str, Callable[[Any], bool]]] = []
    for f in fields:
        if is_text_field(f):
            checks.append((f, partial(_text_check, term)))
        else:
            checks.append((f, partial(_keyword_check, term, f)))
    return lambda doc: any(check(v) for f, check in checks for v in _values(doc, f))


def _text_check(term: Term, value: Any) -> bool:
    return text_matches(value, term.kind, term.value)


def _keyword_check(term: Term, field: str, value: Any) -> bool:
    return keyword_matches(value, term.kind, term.value, field)


def fields_of(node: Node) -> set[str]:
    """Every field a query names (for validation and for choosing indexes)."""
    if isinstance(node, And | Or):
        out: set[str] = set()
        for item in node.items:
            out |= fields_of(item)
        return out
    if isinstance(node, Not):
        return fields_of(node.item)
    if isinstance(node, Term):
        return {node.field} if node.field else set(DEFAULT_TEXT_FIELDS)
    if isinstance(node, Range | Exists):
        return {node.field}
    return set()
