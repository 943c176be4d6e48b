"""Compiling a Sigma rule's condition into a Python predicate, once, at load time.

The pySigma condition tree (after the pipeline has mapped the fields) is turned into a small tree of
nodes (:class:`And`, :class:`Or`, :class:`Not`, :class:`Leaf`), simplified (OR-lists of plain values
on one field become one set lookup or one ``str.endswith(tuple)``), then into closures over a
:class:`Doc`. The same tree gives the prefilter its "necessary atoms" (see ``prefilter.py``).

Semantics follow the Sigma specification: string comparison is case-insensitive unless ``|cased``;
``*`` and ``?`` are wildcards (``\\*`` escapes them); a list of values is OR unless ``|all``;
regular expressions are case-sensitive unless ``(?i)`` or ``|re|i``; ``null`` matches a missing or
empty field; keywords match anywhere in the event's text values.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from canh.events import expand

Pred = Callable[["Doc"], bool]


class Unsupported(Exception):
    """A rule uses something the engine cannot evaluate (with the reason, for the report)."""


class MissingPlaceholder(Unsupported):
    """A rule's ``%placeholder%`` has no values in this deployment's configuration (yet)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"placeholder %{name}% has no values (set rules.placeholders or rules.placeholder_files in config)"
        )
        self.name = name


# ---------------------------------------------------------------------------------------- documents


def _flatten(node: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        if type(value) is dict:
            if value:
                _flatten(value, f"{prefix}{key}.", out)
            else:
                out[f"{prefix}{key}"] = value
        else:
            out[f"{prefix}{key}"] = value


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted view of a (nested or already dotted) ECS event."""
    out: dict[str, Any] = {}
    _flatten(event, "", out)
    return out


def _as_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_EMPTY: tuple[str, ...] = ()
_PATHS: dict[str, tuple[str, ...]] = {}


def _strings(node: Mapping[str, Any], out: list[str]) -> None:
    for v in node.values():
        t = type(v)
        if t is str:
            out.append(v)
        elif t is dict:
            _strings(v, out)
        elif t is list:
            for x in v:
                if type(x) is str:
                    out.append(x)
                elif type(x) is dict:
                    _strings(x, out)


# A key "winlog" (or "winlog.x") of a JSON object: inside a JSON string its quotes would be escaped.
_WINLOG_KEY = re.compile(r'"winlog(?:\.[^"]*)?"\s*:')


def original_is_copy(original: str) -> bool:
    """Whether a Windows event's ``event.original`` is a serialised copy of the event's own fields:
    an EVTX record as the evtx reader renders it (``{"Event":{...``, native or Python mapping) or a
    Winlogbeat document (merged whole into the event). NXLog's flat JSON is not: its header Message,
    AccountName, Domain... have no field, so keyword searches keep reading it."""
    return original.startswith('{"Event":{') or (
        original.startswith("{") and _WINLOG_KEY.search(original) is not None
    )


def _through_lists(event: Mapping[str, Any], parts: tuple[str, ...]) -> list[Any] | None:
    """The values at a path that runs through lists of objects (``dns.answers.data`` over
    ``dns.answers: [{data: ...}, ...]``), as Elasticsearch reads arrays of objects; None if none."""
    nodes: list[Any] = [event]
    for part in parts:
        step: list[Any] = []
        for node in nodes:
            if type(node) is dict:
                got = node.get(part)
                if type(got) is list:
                    step.extend(got)
                elif got is not None:
                    step.append(got)
            elif type(node) is list:
                step.extend(x.get(part) for x in node if type(x) is dict and x.get(part) is not None)
        nodes = step
        if not nodes:
            return None
    leaves = [n for n in nodes if not (type(n) is dict and n)]
    return leaves or None


def _dotted(event: Mapping[str, Any]) -> bool:
    try:
        return "." in "".join(event)  # one C call for the usual string keys
    except TypeError:
        return any("." in k for k in event)


class Doc:
    """One event as the compiled rules see it: dotted fields, with string and lower-case views cached."""

    __slots__ = ("_all", "_fallback", "_flat", "_low", "_spaced", "_strs", "_text", "event")

    def __init__(self, event: Mapping[str, Any], flat: dict[str, Any] | None = None) -> None:
        # Nested ECS is read in place (no copy per event); dotted keys (hand-written test events)
        # are nested first so one lookup path serves both.
        if flat is None and _dotted(event):
            event = expand(event)
        self.event = event
        self._flat = flat
        self._strs: dict[str, tuple[str, ...]] = {}
        self._low: dict[str, tuple[str, ...]] = {}
        self._text: tuple[str, ...] | None = None
        self._all: str | None = None
        self._spaced: dict[str, Any] | None = None
        self._fallback: dict[str, Any] | None = None

    @property
    def nested(self) -> dict[str, Any] | None:
        """The event as nested dicts to read fields from in place, or None (a flat view given)."""
        event = self.event
        return event if self._flat is None and type(event) is dict else None

    @property
    def flat(self) -> dict[str, Any]:
        """Dotted view of the whole event (built on first use)."""
        if self._flat is None:
            self._flat = flatten(self.event)
        return self._flat

    def get(self, name: str) -> Any:
        """The value at a dotted path, or None."""
        if self._flat is not None:
            return self._flat.get(name)
        parts = _PATHS.get(name)
        if parts is None:
            parts = _PATHS[name] = tuple(name.split("."))
        node: Any = self.event
        for part in parts:
            if type(node) is not dict:
                return _through_lists(self.event, parts) if type(node) is list else None
            node = node.get(part)
            if node is None:
                return None
        return None if type(node) is dict and node else node

    def raw(self, name: str) -> Any:
        got = self.get(name)
        if got is not None or not name.startswith("winlog.event_data."):
            return got
        return self._winlog_fallback(name[18:])

    def _winlog_fallback(self, rest: str) -> Any:
        """A winlog.event_data field the channel keeps elsewhere: the same name under UserData,
        or the name with spaces (Defender's "Threat Name"; Sigma writes ThreatName)."""
        if self._flat is None and "." not in rest:
            return self._fallbacks().get(rest)
        got = self.get("winlog.user_data." + rest)
        if got is not None:
            return got
        return self._spaced_names().get(rest)

    def winlog_fallbacks(self) -> dict[str, Any]:
        """What :meth:`raw` finds for ``winlog.event_data.<name>`` missing from a nested event,
        by name (the prefilter's fast path: one dict lookup per missing field)."""
        return self._fallbacks()

    def _spaced_names(self) -> dict[str, Any]:
        got = self._spaced
        if got is None:
            got = self._spaced = {}
            winlog = self.event.get("winlog")
            if isinstance(winlog, dict):
                for sect in ("event_data", "user_data"):
                    data = winlog.get(sect)
                    if isinstance(data, dict):
                        for k, v in data.items():
                            if " " in k:
                                got[k.replace(" ", "")] = v
        return got

    def _fallbacks(self) -> dict[str, Any]:
        """Spaced names, overridden by UserData's own names where self.get would find a value
        (one dict lookup per missing field instead of a path walk and a second one)."""
        got = self._fallback
        if got is None:
            got = self._fallback = dict(self._spaced_names())
            winlog = self.event.get("winlog") if type(self.event) is dict else None
            data = winlog.get("user_data") if type(winlog) is dict else None
            if type(data) is dict:
                for k, v in data.items():
                    if v is not None and not (type(v) is dict and v):
                        got[k] = v
        return got

    def strs(self, name: str) -> tuple[str, ...]:
        """The field's values as strings (a list gives several; missing or null gives none)."""
        got = self._strs.get(name)
        if got is not None:
            return got
        # self.raw(name), inlined: this runs for every field of every event the prefilter reads
        if self._flat is None:
            parts = _PATHS.get(name)
            if parts is None:
                parts = _PATHS[name] = tuple(name.split("."))
            value: Any = self.event
            for part in parts:
                if type(value) is not dict:
                    value = _through_lists(self.event, parts) if type(value) is list else None
                    break
                value = value.get(part)
                if value is None:
                    break
            else:
                if type(value) is dict and value:
                    value = None
        else:
            value = self._flat.get(name)
        if value is None and name.startswith("winlog.event_data."):
            value = self._winlog_fallback(name[18:])
        t = type(value)
        if t is str:
            got = (value,)
        elif value is None:
            got = _EMPTY
        elif t is list or isinstance(value, list):
            got = tuple(_as_str(v) for v in value if v is not None and not isinstance(v, dict))
        elif isinstance(value, dict):
            got = _EMPTY
        else:
            got = (_as_str(value),)
        self._strs[name] = got
        return got

    def low(self, name: str) -> tuple[str, ...]:
        """The field's values lower-cased (Sigma compares case-insensitively by default)."""
        got = self._low.get(name)
        if got is None:
            vals = self.strs(name)
            got = (vals[0].lower(),) if len(vals) == 1 else tuple(s.lower() for s in vals)
            self._low[name] = got
        return got

    def text(self, raw: bool = False) -> tuple[str, ...]:
        """Every string value of the event (lower-cased unless ``raw``), for keyword searches; a
        Windows record's ``event.original`` left out when it only repeats the fields (JSON-escaped:
        ``C:\\\\Windows``), which also halves the text an EVTX event's keywords are searched in."""
        if self._text is None:
            vals: list[str] = []
            _strings(self.event, vals)
            original = self.original_copy()
            if original is not None:
                vals.remove(original)  # found by identity, near the front (event.* comes early)
            self._text = tuple(vals)
        return self._text if raw else tuple(v.lower() for v in self._text)

    def original_copy(self) -> str | None:
        """The Windows record's ``event.original`` when it only repeats the fields (left out of
        the keyword text), else None."""
        event = self.event
        winlog = event.get("winlog") if self._flat is None and type(event) is dict else None
        if type(winlog) is dict:  # the usual nested record, read in place (once per event)
            eid = winlog.get("event_id")
            if eid is None or (type(eid) is dict and eid):
                return None
            ev = event.get("event")
            original = ev.get("original") if type(ev) is dict else None
            return original if type(original) is str and original_is_copy(original) else None
        if winlog is None and self._flat is None and type(event) is dict:
            return None  # no winlog at all: not a Windows record
        original = self.get("event.original")
        if type(original) is str and self.get("winlog.event_id") is not None and original_is_copy(original):
            return original
        return None

    def alltext(self, raw: bool = False) -> str:
        """Every string value joined by NUL (one substring search covers them all), lower-cased
        unless ``raw``."""
        if raw:
            return "\x00".join(self.text(raw=True))
        if self._all is None:
            self._all = "\x00".join(self.text(raw=True)).lower()
        return self._all


@dataclass
class Leaf:
    """One test on one field. ``op``: eq, contains, startswith, endswith, re, wild, cidr, cmp,
    exists, null, fieldref, true, false; ``field`` None for keyword searches."""

    field: str | None
    op: str
    values: tuple[Any, ...]
    cased: bool = False
    extra: Any = None


@dataclass
class And:
    items: list[Node]


@dataclass
class Or:
    items: list[Node]


@dataclass
class Not:
    item: Node


Node = Leaf | And | Or | Not


def _string_parts(s: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for p in s.s:
        if isinstance(p, Placeholder):
            raise MissingPlaceholder(p.name)
        if isinstance(p, str) and parts and isinstance(parts[-1], str):
            parts[-1] += p
        else:
            parts.append(p)
    return parts


def _wild_regex(parts: list[str | SpecialChars], lower: bool, anychar: str = ".") -> str:
    out = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            out.append(anychar + "*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            out.append(anychar)
        else:
            out.append(re.escape(p.lower() if lower else p))
    return "".join(out)


def string_leaf(fld: str | None, s: SigmaString) -> Leaf:
    """A Sigma string (with wildcards) as the cheapest test that means the same."""
    cased = isinstance(s, SigmaCasedString)
    parts = _string_parts(s)
    star = SpecialChars.WILDCARD_MULTI

    def norm(x: str) -> str:
        return x if cased else x.lower()

    if fld is None:  # keyword: a plain word is searched anywhere in the text
        if all(isinstance(p, str) for p in parts):
            return Leaf(None, "contains", (norm("".join(parts)),), cased)  # type: ignore[arg-type]
        while parts and parts[0] is star:
            parts = parts[1:]
        while parts and parts[-1] is star:
            parts = parts[:-1]
        if all(isinstance(p, str) for p in parts):
            return Leaf(None, "contains", (norm("".join(parts)),), cased)  # type: ignore[arg-type]
        lits = [norm(p) for p in parts if isinstance(p, str)]
        rx = re.compile(_wild_regex(parts, not cased, "[^\x00]"))
        return Leaf(None, "wild", (rx,), cased, extra=max(lits, key=len) if lits else None)
    if not parts:
        return Leaf(fld, "eq", ("",), cased)
    if all(isinstance(p, str) for p in parts):
        return Leaf(fld, "eq", (norm(parts[0]),), cased)  # type: ignore[arg-type]
    inner = parts
    lead = inner[0] is star
    trail = inner[-1] is star and len(inner) > 1
    core = inner[1 if lead else 0 : len(inner) - 1 if trail else len(inner)]
    if len(core) == 1 and isinstance(core[0], str):
        lit = norm(core[0])
        if lead and trail:
            return Leaf(fld, "contains", (lit,), cased)
        if lead:
            return Leaf(fld, "endswith", (lit,), cased)
        if trail:
            return Leaf(fld, "startswith", (lit,), cased)
    if not core and (lead or trail):  # '*' alone: any value present
        return Leaf(fld, "exists", (True,))
    rx = re.compile(_wild_regex(parts, not cased) + r"\Z", re.S)
    lits = [norm(p) for p in parts if isinstance(p, str)]
    return Leaf(fld, "wild", (rx,), cased, extra=max(lits, key=len) if lits else None)


_CMP = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
}


def value_node(fld: str | None, value: Any) -> Node:
    """The node testing one field against one pySigma value."""
    if isinstance(value, SigmaExpansion):
        return Or([value_node(fld, v) for v in value.values])
    if isinstance(value, SigmaString):
        return string_leaf(fld, value)
    if fld is None:
        if isinstance(value, SigmaNumber):
            return Leaf(None, "contains", (str(value.number),))
        raise Unsupported(f"keyword of type {type(value).__name__}")
    if isinstance(value, SigmaBool):
        return Leaf(fld, "eq", ("true" if value.boolean else "false",))
    if isinstance(value, SigmaNumber):
        return Leaf(fld, "eq", (_as_str(value.number),))
    if isinstance(value, SigmaNull):
        return Leaf(fld, "null", ())
    if isinstance(value, SigmaExists):
        return Leaf(fld, "exists", (value.exists,))
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for f in value.flags:
            flags |= {
                SigmaRegularExpressionFlag.IGNORECASE: re.I,
                SigmaRegularExpressionFlag.MULTILINE: re.M,
                SigmaRegularExpressionFlag.DOTALL: re.S,
            }[f]
        try:
            rx = re.compile(str(value.regexp), flags)
        except re.error as err:
            raise Unsupported(f"regular expression {value.regexp}: {err}") from err
        return Leaf(fld, "re", (rx,), True)
    if isinstance(value, SigmaCIDRExpression):
        return Leaf(fld, "cidr", (ipaddress.ip_network(value.cidr, strict=False),))
    if isinstance(value, SigmaCompareExpression):
        op = _CMP.get(value.op)
        if op is None:  # |neq
            return Not(Leaf(fld, "eq", (_as_str(value.number.number),)))
        return Leaf(fld, "cmp", (value.number.number,), extra=op)
    if isinstance(value, SigmaFieldReference):
        mode = "startswith" if value.starts_with else "endswith" if value.ends_with else "eq"
        return Leaf(fld, "fieldref", (value.field,), extra=mode)
    raise Unsupported(f"value type {type(value).__name__} on field {fld}")


def to_node(cond: Any) -> Node:
    """The node tree of a pySigma condition tree."""
    if isinstance(cond, ConditionAND):
        return And([to_node(c) for c in cond.args])
    if isinstance(cond, ConditionOR):
        return Or([to_node(c) for c in cond.args])
    if isinstance(cond, ConditionNOT):
        return Not(to_node(cond.args[0]))
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        return value_node(cond.field, cond.value)
    if isinstance(cond, ConditionValueExpression):
        return value_node(None, cond.value)
    raise Unsupported(f"condition element {type(cond).__name__}")


_MERGEABLE = {"eq", "startswith", "endswith", "contains"}


def simplify(node: Node) -> Node:
    """Flatten nested AND/OR and merge OR-ed plain tests on one field into one leaf."""
    if isinstance(node, Not):
        inner = simplify(node.item)
        return inner.item if isinstance(inner, Not) else Not(inner)
    if isinstance(node, Leaf):
        return node
    kind = type(node)
    items: list[Node] = []
    for child in node.items:
        c = simplify(child)
        if type(c) is kind:
            items.extend(c.items)
        else:
            items.append(c)
    if kind is Or:
        merged: dict[tuple[Any, ...], Leaf] = {}
        rest: list[Node] = []
        for c in items:
            if isinstance(c, Leaf) and (
                (c.op in _MERGEABLE and (c.field is not None or c.op == "contains")) or c.op == "cidr"
            ):
                key = (c.field, c.op, c.cased)
                if key in merged:
                    merged[key] = Leaf(c.field, c.op, merged[key].values + c.values, c.cased)
                else:
                    merged[key] = c
            else:
                rest.append(c)
        items = [*merged.values(), *rest]
    if len(items) == 1:
        return items[0]
    return kind(items)


# ---------------------------------------------------------------------------------------- closures


def _ip(text: str) -> Any:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        try:
            return float(int(text, 0))
        except ValueError:
            return None


def leaf_pred(leaf: Leaf) -> Pred:
    """The closure for one test."""
    fld = leaf.field
    op = leaf.op
    vals = leaf.values
    if fld is None:
        text = (lambda d: d.alltext(raw=True)) if leaf.cased else (lambda d: d.alltext())
        if op == "contains":
            if len(vals) == 1:
                word = vals[0]
                return lambda d: word in text(d)
            if len(vals) > 8:
                return _contains_many(lambda d: (text(d),), vals)
            words = tuple(vals)

            def kw_any(d: Doc) -> bool:
                whole = text(d)
                for w in words:  # noqa: SIM110 - a loop is faster than any() over a generator here
                    if w in whole:
                        return True
                return False

            return kw_any
        rx = vals[0]
        return lambda d: rx.search(text(d)) is not None
    if op in _MERGEABLE or op == "wild":
        get = (lambda d: d.strs(fld)) if leaf.cased else (lambda d: d.low(fld))
        if op == "eq":
            if len(vals) == 1:
                one = vals[0]
                return lambda d: one in get(d)
            s = frozenset(vals)
            return lambda d: any(x in s for x in get(d))
        if op == "startswith":
            t = tuple(vals)
            return lambda d: any(x.startswith(t) for x in get(d))
        if op == "endswith":
            t = tuple(vals)
            return lambda d: any(x.endswith(t) for x in get(d))
        if op == "contains":
            if len(vals) == 1:
                one = vals[0]
                return lambda d: any(one in x for x in get(d))
            if len(vals) <= 24:
                few = tuple(vals)

                def contains_few(d: Doc) -> bool:
                    for x in get(d):
                        for v in few:
                            if v in x:
                                return True
                    return False

                return contains_few
            return _contains_many(get, vals)
        rx = vals[0]
        return lambda d: any(rx.match(x) for x in get(d))
    if op == "re":
        rx = vals[0]
        return lambda d: any(rx.search(x) for x in d.strs(fld))
    if op == "null":
        return lambda d: not any(d.strs(fld))
    if op == "exists":
        want = bool(vals[0])
        return lambda d: (d.raw(fld) is not None) is want
    if op == "cidr":
        if len(vals) > 1:
            return _cidr_many(fld, vals)
        net = vals[0]

        def cidr(d: Doc) -> bool:
            for x in d.strs(fld):
                ip = _ip(x)
                if ip is not None and ip.version == net.version and ip in net:
                    return True
            return False

        return cidr
    if op == "cmp":
        ref = vals[0]
        cmp = leaf.extra

        def compare(d: Doc) -> bool:
            for x in d.strs(fld):
                n = _num(x)
                if n is not None and cmp(n, ref):
                    return True
            return False

        return compare
    if op == "fieldref":
        other = vals[0]
        mode = leaf.extra

        def fieldref(d: Doc) -> bool:
            refs = d.low(other)
            for x in d.low(fld):
                for r in refs:
                    if (
                        (mode == "eq" and x == r)
                        or (mode == "startswith" and x.startswith(r))
                        or (mode == "endswith" and x.endswith(r))
                    ):
                        return True
            return False

        return fieldref
    raise Unsupported(f"test {op}")


def _cidr_many(fld: str, nets: tuple[Any, ...]) -> Pred:
    """Many networks (a threat-intelligence list) tested with one address parse per value: exact
    addresses in a set, networks by their leading bits, one set per prefix length."""
    exact: dict[int, set[int]] = {4: set(), 6: set()}
    heads: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
    for n in nets:
        bits = n.max_prefixlen
        if n.prefixlen == bits:
            exact[n.version].add(int(n.network_address))
        else:
            heads[n.version].setdefault(n.prefixlen, set()).add(
                int(n.network_address) >> (bits - n.prefixlen)
            )
    by_len = {v: tuple((32 if v == 4 else 128) - plen for plen in sorted(d)) for v, d in heads.items()}
    sets = {v: tuple(heads[v][plen] for plen in sorted(heads[v])) for v in heads}

    def cidr_many(d: Doc) -> bool:
        for x in d.strs(fld):
            ip = _ip(x)
            if ip is None:
                continue
            v = ip.version
            n = int(ip)
            if n in exact[v]:
                return True
            for shift, known in zip(by_len[v], sets[v], strict=True):
                if n >> shift in known:
                    return True
        return False

    return cidr_many


def _contains_many(get: Callable[[Doc], tuple[str, ...]], vals: tuple[Any, ...]) -> Pred:
    """Many literals searched at once: each position of the value looks up the literals starting
    with its next k characters (k = the shortest literal), instead of one scan per literal."""
    k = min(len(v) for v in vals)
    if k == 0:
        return lambda d: bool(get(d))
    # A C substring search of a short value costs about a third of one position's Python step:
    # positions are looked up only when there are several times more literals than characters.
    many = len(vals) // 3
    heads: dict[str, list[str]] = {}
    for v in sorted(set(vals), key=len):
        heads.setdefault(v[:k], []).append(v)

    def contains_many(d: Doc) -> bool:
        for x in get(d):
            if len(x) > many:  # one C substring search per literal is cheaper
                for v in vals:
                    if v in x:
                        return True
                continue
            look = heads.get
            for i in range(len(x) - k + 1):
                lits = look(x[i : i + k])
                if lits:
                    for lit in lits:
                        if x.startswith(lit, i):
                            return True
        return False

    return contains_many


def node_pred(node: Node) -> Pred:
    """The closure for a node tree."""
    if isinstance(node, Leaf):
        return leaf_pred(node)
    if isinstance(node, Not):
        inner = node_pred(node.item)
        return lambda d: not inner(d)
    preds = [node_pred(c) for c in node.items]
    if isinstance(node, And):
        if len(preds) == 2:
            a, b = preds
            return lambda d: a(d) and b(d)
        return lambda d: all(p(d) for p in preds)
    if len(preds) == 2:
        a, b = preds
        return lambda d: a(d) or b(d)
    return lambda d: any(p(d) for p in preds)


@dataclass
class Compiled:
    """A condition compiled: the predicate and its simplified tree."""

    predicate: Pred
    tree: Node
    fields: set[str] = field(default_factory=set)


def compile_condition(parsed: Any) -> Compiled:
    """Compile one pySigma parsed condition (``SigmaCondition.parsed``)."""
    from canh.rules.codegen import predicate  # imports this module

    tree = simplify(to_node(parsed))
    return Compiled(predicate(tree), tree)
