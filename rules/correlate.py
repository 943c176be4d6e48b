"""Sigma correlation rules evaluated on a stream of matched events, with bounded state.

Pure module: no store, no I/O. The engine calls :meth:`Correlator.feed` for every event that
matched a base rule referenced by a correlation and turns the returned hits into alerts.

Semantics (see docs/rules.md, "Correlations"):

- Conditions that only grow as events are added (``gt``/``gte``, and every temporal condition
  without ``not``) are checked on arrival over the sliding window ``[t - timespan, t]``; the
  first window that satisfies the condition fires and its events are consumed, so a burst of
  1,000 failed logins with ``gte: 10`` gives 100 hits rather than 991 overlapping ones.
- Conditions that can be spoiled by later events (``lt``/``lte``/``eq``/``neq`` and ranges with
  an upper bound) are checked when a window closes: windows are anchored at a group's first
  event and close once the group's newest event (or the correlation's newest event, on the
  periodic sweep, or :meth:`Correlator.flush`) is past ``start + timespan + lateness``.
- Events may arrive out of order by up to ``lateness``: a late event is inserted in time order
  and every window containing it is re-checked, so whether a group fires does not depend on
  arrival order within the lateness. Later than that, the event is counted (``late``) and dropped.
- State is bounded: events older than ``newest - timespan - lateness`` are dropped from a group,
  idle groups whose window has passed are evicted on a periodic sweep (``expired``), and past
  ``max_keys`` groups in total the least recently used group is evicted (``evicted``).
- A correlation may reference another correlation (e.g. "success after a brute force"): its
  hits are fed on as events whose fields are the inner hit's group-by values.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from canh.errors import RuleError
from canh.events import get

MAX_HIT_IDS = 100
SWEEP_EVERY = 4096
TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
OPERATORS = ("gt", "gte", "lt", "lte", "eq", "neq")
_MONOTONE_OPS = frozenset({"gt", "gte"})
_TIMESPAN_RE = re.compile(r"([0-9]+)([smhdwMy])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2629746, "y": 31556952}


def parse_timespan(text: str) -> timedelta:
    """A Sigma timespan (``30s``, ``5m``, ``1h``, ``2d``, ``1w``, ``1M``, ``1y``) as a timedelta."""
    m = _TIMESPAN_RE.fullmatch(str(text).strip())
    if not m or int(m.group(1)) <= 0:
        raise RuleError("correlate.bad_timespan", value=text)
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


def check(bounds: Sequence[tuple[str, int]], n: int) -> bool:
    """Whether ``n`` satisfies every ``(operator, count)`` bound (a range is two bounds)."""
    for op, c in bounds:
        if op == "gt":
            ok = n > c
        elif op == "gte":
            ok = n >= c
        elif op == "lt":
            ok = n < c
        elif op == "lte":
            ok = n <= c
        elif op == "eq":
            ok = n == c
        else:
            ok = n != c
        if not ok:
            return False
    return True


# --- extended temporal conditions ("a and not b"), evaluated over the set of rules seen -------

_Expr = Callable[[frozenset[int]], bool]
_TOKEN_RE = re.compile(r"\s*(\(|\)|[A-Za-z_][A-Za-z0-9_\-]*)")


def _compile_expression(text: str, index_of: Callable[[str], int]) -> tuple[_Expr, bool]:
    """Compile a boolean rule expression; returns the predicate and whether it uses ``not``."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            if text[pos:].strip() == "":
                break
            raise RuleError("correlate.bad_expression", expression=text)
        tokens.append(m.group(1))
        pos = m.end()
    uses_not = False

    def parse_or(i: int) -> tuple[_Expr, int]:
        left, i = parse_and(i)
        while i < len(tokens) and tokens[i].lower() == "or":
            right, i = parse_and(i + 1)
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left, i

    def parse_and(i: int) -> tuple[_Expr, int]:
        left, i = parse_not(i)
        while i < len(tokens) and tokens[i].lower() == "and":
            right, i = parse_not(i + 1)
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left, i

    def parse_not(i: int) -> tuple[_Expr, int]:
        nonlocal uses_not
        if i >= len(tokens):
            raise RuleError("correlate.bad_expression", expression=text)
        tok = tokens[i]
        if tok.lower() == "not":
            uses_not = True
            inner, i = parse_not(i + 1)
            return (lambda a: lambda s: not a(s))(inner), i
        if tok == "(":
            inner, i = parse_or(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise RuleError("correlate.bad_expression", expression=text)
            return inner, i + 1
        if tok == ")" or tok.lower() in ("and", "or"):
            raise RuleError("correlate.bad_expression", expression=text)
        idx = index_of(tok)
        return (lambda k: lambda s: k in s)(idx), i + 1

    expr, end = parse_or(0)
    if end != len(tokens):
        raise RuleError("correlate.bad_expression", expression=text)
    return expr, uses_not


# --- the specification -------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrelationSpec:
    """One correlation rule, reduced to what the correlator needs (built by :meth:`from_sigma`)."""

    id: str
    title: str
    type: str
    rules: tuple[frozenset[str], ...]
    """For each referenced rule, every name it is known by (reference, id, name)."""
    timespan: timedelta
    group_by: tuple[str, ...] = ()
    bounds: tuple[tuple[str, int], ...] = (("gte", 1),)
    value_fields: tuple[str, ...] = ()
    aliases: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    """alias -> {index of the referenced rule -> the field holding the value in its events}."""
    expression: str | None = None
    generate: bool = False
    name: str | None = None
    rule: Any = field(default=None, compare=False, repr=False)
    """The source rule (a pySigma SigmaCorrelationRule) for the engine's alerts."""

    def __post_init__(self) -> None:
        where = self.id or self.title
        if self.type not in TYPES:
            raise RuleError("correlate.unsupported_type", where=where, type=self.type)
        if not self.rules:
            raise RuleError("correlate.no_rules", where=where)
        for op, _ in self.bounds:
            if op not in OPERATORS:
                raise RuleError("correlate.bad_condition", where=where, condition=op)
        if self.type == "value_count" and not self.value_fields:
            raise RuleError("correlate.no_value_field", where=where)
        if self.timespan.total_seconds() <= 0:
            raise RuleError("correlate.bad_timespan", where=where, value=str(self.timespan))

    @property
    def keys(self) -> frozenset[str]:
        """Every id and name this correlation can be referenced by (for chained correlations)."""
        return frozenset(k for k in (self.id, self.name) if k)

    @property
    def monotone(self) -> bool:
        """True when the condition can only become true as events are added (checked on arrival)."""
        if self.type in ("temporal", "temporal_ordered") and self.expression is not None:
            return "not" not in re.split(r"[\s()]+", self.expression.lower())
        return all(op in _MONOTONE_OPS for op, _ in self.bounds)

    @classmethod
    def from_sigma(
        cls, rule: Any, fields: Mapping[str, str] | Callable[[str], str] | None = None
    ) -> CorrelationSpec:
        """Build from a pySigma ``SigmaCorrelationRule``; ``fields`` maps Sigma field names to ECS
        (a dotted ECS name, or one the mapping does not know, is kept as written)."""
        from sigma.correlations import SigmaCorrelationCondition, SigmaExtendedCorrelationCondition

        where = str(rule.source) if getattr(rule, "source", None) else str(rule.id or rule.title)
        if callable(fields):
            fmap: Callable[[str], str] = fields
        else:
            table = dict(fields or {})

            def fmap(name: str) -> str:
                return table.get(name, name)

        ctype = rule.type.name.lower() if hasattr(rule.type, "name") else str(rule.type)
        if ctype not in TYPES:
            raise RuleError("correlate.unsupported_type", where=where, type=ctype)
        refs = (
            list(rule.rules) if rule.rules is not None else list(getattr(rule, "referenced_rules", []) or [])
        )
        expression: str | None = None
        cond = rule.condition
        if isinstance(cond, SigmaExtendedCorrelationCondition):
            expression = cond.expression
            if not refs:
                from sigma.correlations import SigmaRuleReference

                refs = [SigmaRuleReference(r) for r in cond.get_referenced_rules()]
        rule_keys = tuple(_reference_keys(r) for r in refs)

        def index_of(ref: str) -> int:
            for i, keys in enumerate(rule_keys):
                if ref in keys:
                    return i
            raise RuleError("correlate.unknown_reference", where=where, reference=ref)

        aliases: dict[str, dict[int, str]] = {}
        for alias in rule.aliases:
            per_rule: dict[int, str] = {}
            for ref, fname in alias.mapping.items():
                per_rule[index_of(ref.reference)] = fmap(fname)
            aliases[alias.alias] = per_rule

        bounds: tuple[tuple[str, int], ...]
        value_fields: tuple[str, ...] = ()
        if isinstance(cond, SigmaCorrelationCondition):
            bounds = ((cond.op.name.lower(), int(cond.count)),)
            extra = getattr(rule, "custom_attributes", {}) or {}
            more = extra.get("condition_range") if isinstance(extra, dict) else None
            if isinstance(more, dict):
                # pySigma allows one operator; a range's second bound rides in a custom attribute.
                bounds = bounds + tuple((str(k).lower(), int(v)) for k, v in more.items())
            if cond.fieldref:
                refs_f = cond.fieldref if isinstance(cond.fieldref, list) else [cond.fieldref]
                value_fields = tuple(f if f in aliases else fmap(f) for f in refs_f)
        else:
            bounds = (("gte", 1),)
        if (
            ctype in ("temporal", "temporal_ordered")
            and expression is None
            and not isinstance(cond, SigmaCorrelationCondition)
        ):
            bounds = (("gte", len(rule_keys)),)
        if expression is not None:
            _compile_expression(expression, index_of)  # report a bad expression at load time
        group_by = tuple(g if g in aliases else fmap(g) for g in (rule.group_by or ()))
        return cls(
            id=str(rule.id) if rule.id else (rule.name or rule.title),
            name=getattr(rule, "name", None),
            title=rule.title,
            type=ctype,
            rules=rule_keys,
            timespan=timedelta(seconds=rule.timespan.seconds),
            group_by=group_by,
            bounds=bounds,
            value_fields=value_fields,
            aliases=aliases,
            expression=expression,
            generate=bool(rule.generate),
            rule=rule,
        )


def _reference_keys(ref: Any) -> frozenset[str]:
    keys = {str(ref.reference)}
    target = getattr(ref, "rule", None)  # set once the collection resolved its references
    if target is not None:
        if getattr(target, "id", None):
            keys.add(str(target.id))
        if getattr(target, "name", None):
            keys.add(str(target.name))
    return frozenset(keys)


@dataclass
class CorrelationHit:
    """A correlation that fired: its group, the events that made it (first 100) and when."""

    spec: CorrelationSpec
    group: dict[str, Any]
    event_ids: list[str]
    first: datetime
    last: datetime
    value: int | None
    events: int = 0
    """How many events made the hit (``event_ids`` keeps the first :data:`MAX_HIT_IDS`)."""


# --- state ------------------------------------------------------------------------------------

# An entry is one event in a group: (ts, seq, event ids, mask of referenced rules it matched, value).
_Entry = tuple[float, int, Any, int, Any]


class _Group:
    __slots__ = ("counter", "entries", "max_ts", "start", "touched")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.start = 0  # first entry inside the window ending at max_ts (monotone mode)
        self.counter: dict[Any, int] | None = None  # values / rule indices inside that window
        self.max_ts = float("-inf")
        self.touched = 0


class _SpecState:
    __slots__ = (
        "expr",
        "feeds",
        "groups",
        "index",
        "last_sweep",
        "monotone",
        "nrules",
        "order",
        "span",
        "spec",
        "watermark",
    )

    def __init__(self, spec: CorrelationSpec, index: int) -> None:
        self.spec = spec
        self.index = index
        self.groups: OrderedDict[Any, _Group] = OrderedDict()
        self.watermark = float("-inf")
        self.span = spec.timespan.total_seconds()
        self.nrules = len(spec.rules)
        self.monotone = spec.monotone
        self.expr: _Expr | None = None
        if spec.expression is not None:

            def index_of(ref: str) -> int:
                for i, keys in enumerate(spec.rules):
                    if ref in keys:
                        return i
                raise RuleError("correlate.unknown_reference", where=spec.id, reference=ref)

            self.expr, _ = _compile_expression(spec.expression, index_of)
        # The rules a temporal_ordered correlation needs in order: all, or with an extended
        # condition those whose absence alone makes it false.
        everyone = frozenset(range(self.nrules))
        expr = self.expr
        self.order = tuple(i for i in range(self.nrules) if expr is None or not expr(everyone - {i}))
        self.feeds = 0
        self.last_sweep = 0


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    return value


_MISSING = object()
_PARTS: dict[str, list[str]] = {}


def _lookup(event: Mapping[str, Any], name: str) -> Any:
    """A field's value as a hashable; the plain nested-dict walk first (the common case is hot)."""
    value = event.get(name, _MISSING)
    if value is _MISSING:
        parts = _PARTS.get(name)
        if parts is None:
            parts = _PARTS[name] = name.split(".")
        node: Any = event
        for part in parts:
            if type(node) is not dict:
                node = _MISSING
                break
            node = node.get(part, _MISSING)
            if node is _MISSING:
                break
        value = node if node is not _MISSING else get(event, name)  # flattened remainders
    if type(value) is list or type(value) is dict:
        return _hashable(value)
    return value


class Correlator:
    """Evaluates correlation specs over matched events; bounded by time window and ``max_keys``."""

    def __init__(
        self,
        specs: Sequence[CorrelationSpec],
        lateness: timedelta = timedelta(seconds=60),
        max_keys: int = 1_000_000,
    ) -> None:
        self.lateness = lateness.total_seconds()
        self.max_keys = max_keys
        self._states = [_SpecState(s, i) for i, s in enumerate(specs)]
        # reference (rule id or name) -> [(spec state, index of the referenced rule)]
        self._by_ref: dict[str, list[tuple[_SpecState, int]]] = {}
        for st in self._states:
            for i, keys in enumerate(st.spec.rules):
                for k in keys:
                    self._by_ref.setdefault(k, []).append((st, i))
        self._seq = 0
        self._newest = float("-inf")  # the newest event time fed (for advance)
        self._keys = 0
        self._stats = {"fed": 0, "hits": 0, "late": 0, "evicted": 0, "expired": 0}

    @property
    def references(self) -> frozenset[str]:
        """Every rule id/name some correlation listens to (the engine feeds only these)."""
        return frozenset(self._by_ref)

    def stats(self) -> dict[str, int]:
        """Counters: keys (groups held now), evicted (past max_keys), expired, late, fed, hits."""
        return {"keys": self._keys, **self._stats}

    # -- feeding --------------------------------------------------------------------------------

    def feed(self, matched: Collection[str], event: Mapping[str, Any], ts: datetime) -> list[CorrelationHit]:
        """Feed one event with the ids/names of the base rules it matched; returns the hits it caused."""
        targets: dict[int, tuple[_SpecState, int]] = {}
        for ref in matched:
            for st, idx in self._by_ref.get(ref, ()):
                prev = targets.get(st.index)
                targets[st.index] = (st, (prev[1] if prev else 0) | (1 << idx))
        if not targets:
            return []
        self._stats["fed"] += 1
        eid = _lookup(event, "event.id") or ""
        t = ts.timestamp()
        if t > self._newest:
            self._newest = t
        hits: list[CorrelationHit] = []
        for st, mask in targets.values():
            self._feed_spec(st, mask, event, eid, t, hits)
        return hits

    def flush(self) -> list[CorrelationHit]:
        """Close every pending window: the hits of conditions checked at window close (lt, lte, eq,
        neq, ranges). Call it when the input ends (end of a ``canh ingest`` run, a backtest, a rule
        test case); a live stream closes its windows as time moves on (see :meth:`advance`)."""
        return self._close_until(float("inf"))

    def advance(self, seconds: float) -> list[CorrelationHit]:
        """Hits of the windows that close if event time moves ``seconds`` past the newest event fed:
        a quiet live stream counts its idle wall-clock time as stream time, so its windows close."""
        if self._newest == float("-inf") or seconds <= 0:
            return []
        return self._close_until(self._newest + seconds)

    def _close_until(self, now: float) -> list[CorrelationHit]:
        hits: list[CorrelationHit] = []
        # A closed window's hit may feed a correlation over this one (chained), which opens windows of
        # its own: go round until no window that should close is left open.
        while True:
            closed = 0
            for st in self._states:
                if st.monotone or not st.groups:
                    continue
                horizon = now - self.lateness - st.span
                for key in list(st.groups):
                    g = st.groups.get(key)
                    if g is None:
                        continue
                    while g.entries and g.entries[0][0] < horizon:
                        self._close_window(st, key, g, hits)
                        closed += 1
                    if not g.entries:
                        self._drop_group(st, key)
            if not closed:
                return hits

    def _feed_spec(
        self,
        st: _SpecState,
        mask: int,
        event: Mapping[str, Any],
        eid: Any,
        t: float,
        hits: list[CorrelationHit],
    ) -> None:
        spec = st.spec
        self._seq += 1
        st.feeds += 1
        if t > st.watermark:
            st.watermark = t
        if not mask & (mask - 1):  # one referenced rule matched: the common case, kept short
            idx = mask.bit_length() - 1
            value = self._value(spec, idx, event) if spec.type == "value_count" else None
            if value is not None or spec.type != "value_count":
                self._add(st, self._group_key(spec, idx, event), (t, self._seq, eid, mask, value), hits)
            if st.feeds - st.last_sweep >= SWEEP_EVERY:
                self._sweep(st, hits)
            return
        # One entry per distinct group key: with aliases, two matched rules may group differently.
        by_key: dict[Any, tuple[int, Any]] = {}
        for idx in range(st.nrules):
            bit = 1 << idx
            if not mask & bit:
                continue
            key = self._group_key(spec, idx, event)
            value = self._value(spec, idx, event) if spec.type == "value_count" else None
            if spec.type == "value_count" and value is None:
                continue
            prev = by_key.get(key)
            by_key[key] = (
                (prev[0] if prev else 0) | bit,
                value if prev is None or prev[1] is None else prev[1],
            )
        for key, (m, value) in by_key.items():
            entry: _Entry = (t, self._seq, eid, m, value)
            self._add(st, key, entry, hits)
        if st.feeds - st.last_sweep >= SWEEP_EVERY:
            self._sweep(st, hits)

    def _group_key(self, spec: CorrelationSpec, idx: int, event: Mapping[str, Any]) -> Any:
        if not spec.group_by:
            return None
        vals = []
        for g in spec.group_by:
            alias = spec.aliases.get(g)
            vals.append(
                _lookup(event, alias[idx]) if alias is not None and idx in alias else _lookup(event, g)
            )
        return vals[0] if len(vals) == 1 else tuple(vals)

    def _value(self, spec: CorrelationSpec, idx: int, event: Mapping[str, Any]) -> Any:
        vals = []
        for f in spec.value_fields:
            alias = spec.aliases.get(f)
            vals.append(
                _lookup(event, alias[idx]) if alias is not None and idx in alias else _lookup(event, f)
            )
        if all(v is None for v in vals):
            return None
        return vals[0] if len(vals) == 1 else tuple(vals)

    def _add(self, st: _SpecState, key: Any, entry: _Entry, hits: list[CorrelationHit]) -> None:
        g = st.groups.get(key)
        if g is None:
            if self._keys >= self.max_keys:
                self._evict_one(st, hits)
            g = _Group()
            st.groups[key] = g
            self._keys += 1
        else:
            st.groups.move_to_end(key)
        g.touched = st.feeds
        t = entry[0]
        if t < g.max_ts - self.lateness:
            self._stats["late"] += 1
            if not g.entries:
                self._drop_group(st, key)
            return
        if st.monotone:
            self._add_monotone(st, key, g, entry, hits)
        else:
            self._add_windowed(st, key, g, entry, hits)
        if not g.entries and key in st.groups:
            self._drop_group(st, key)

    # -- conditions checked on arrival -------------------------------------------------------------

    def _add_monotone(
        self, st: _SpecState, key: Any, g: _Group, entry: _Entry, hits: list[CorrelationHit]
    ) -> None:
        t = entry[0]
        ents = g.entries
        if t >= g.max_ts:
            g.max_ts = t
            ents.append(entry)
            self._count_in(st, g, entry)
            self._advance(st, g)
            self._prune(st, g)
            if st.spec.type == "temporal_ordered" and st.order and not entry[3] >> st.order[-1] & 1:
                return  # nothing new can complete an ordered sequence but its last step
            n = self._measure_counter(st, g)
            if self._satisfied(st, n, ents, g.start, len(ents)):
                self._fire(st, key, g, g.start, len(ents), n, hits)
            return
        # Late but within the allowed lateness: insert in time order, re-check every window holding it.
        pos = bisect.bisect_right(ents, (t, entry[1]))
        ents.insert(pos, entry)
        if pos >= g.start:
            self._count_in(st, g, entry)
        else:
            g.start += 1
        self._advance(st, g)
        span = st.span
        end = bisect.bisect_right(ents, (t + span, float("inf")))
        for j in range(pos, end):
            tj = ents[j][0]
            lo = bisect.bisect_left(ents, (tj - span,))
            hi = j + 1
            while hi < len(ents) and ents[hi][0] == tj:
                hi += 1
            n = self._measure_slice(st, ents, lo, hi)
            if self._satisfied(st, n, ents, lo, hi):
                self._fire(st, key, g, lo, hi, n, hits)
                return

    def _advance(self, st: _SpecState, g: _Group) -> None:
        """Move the window start so it holds the entries within timespan of the newest one."""
        lo = g.max_ts - st.span
        ents = g.entries
        while g.start < len(ents) and ents[g.start][0] < lo:
            self._count_out(st, g, ents[g.start])
            g.start += 1

    def _prune(self, st: _SpecState, g: _Group) -> None:
        """Forget entries no future window can hold (older than newest - lateness - timespan)."""
        horizon = g.max_ts - self.lateness - st.span
        ents = g.entries
        k = 0
        while k < g.start and ents[k][0] < horizon:
            k += 1
        if k:
            del ents[:k]
            g.start -= k

    def _count_in(self, st: _SpecState, g: _Group, entry: _Entry) -> None:
        kind = st.spec.type
        if kind == "event_count" or kind == "temporal_ordered":
            return
        if g.counter is None:
            g.counter = {}
        c = g.counter
        if kind == "value_count":
            c[entry[4]] = c.get(entry[4], 0) + 1
        else:
            m = entry[3]
            for i in range(st.nrules):
                if m >> i & 1:
                    c[i] = c.get(i, 0) + 1

    def _count_out(self, st: _SpecState, g: _Group, entry: _Entry) -> None:
        c = g.counter
        if c is None:
            return
        keys: Iterable[Any]
        if st.spec.type == "value_count":
            keys = (entry[4],)
        else:
            keys = [i for i in range(st.nrules) if entry[3] >> i & 1]
        for k in keys:
            n = c.get(k, 0) - 1
            if n > 0:
                c[k] = n
            else:
                c.pop(k, None)

    def _measure_counter(self, st: _SpecState, g: _Group) -> int:
        kind = st.spec.type
        if kind == "event_count":
            return len(g.entries) - g.start
        if kind == "temporal_ordered":
            return -1  # measured by _satisfied (an ordered subsequence, not a count)
        return len(g.counter or ())

    def _measure_slice(self, st: _SpecState, ents: list[_Entry], lo: int, hi: int) -> int:
        kind = st.spec.type
        if kind == "event_count":
            return hi - lo
        if kind == "value_count":
            return len({e[4] for e in ents[lo:hi]})
        if kind == "temporal":
            seen = 0
            for e in ents[lo:hi]:
                seen |= e[3]
            return bin(seen).count("1")
        return -1

    def _satisfied(self, st: _SpecState, n: int, ents: list[_Entry], lo: int, hi: int) -> bool:
        kind = st.spec.type
        if kind == "temporal_ordered":
            return self._ordered(st, ents, lo, hi)
        if st.expr is not None:
            seen = 0
            for e in ents[lo:hi]:
                seen |= e[3]
            return st.expr(frozenset(i for i in range(st.nrules) if seen >> i & 1))
        return check(st.spec.bounds, n)

    def _ordered(self, st: _SpecState, ents: list[_Entry], lo: int, hi: int) -> bool:
        if st.expr is not None:
            seen = 0
            for e in ents[lo:hi]:
                seen |= e[3]
            if not st.expr(frozenset(i for i in range(st.nrules) if seen >> i & 1)):
                return False
        # Greedy earliest match finds an ordered subsequence whenever one exists.
        order = st.order
        need = 0
        for k in range(lo, hi):
            if need == len(order):
                break
            if ents[k][3] >> order[need] & 1:
                need += 1
        return need == len(order)

    @staticmethod
    def _ordered_start(st: _SpecState, ents: list[_Entry], lo: int, hi: int) -> int:
        """Where the tightest ordered subsequence in ents[lo:hi] starts (greedy from the end)."""
        order = st.order
        need = len(order) - 1
        for k in range(hi - 1, lo - 1, -1):
            if need < 0:
                break
            if ents[k][3] >> order[need] & 1:
                need -= 1
                if need < 0:
                    return k
        return lo

    def _fire(
        self, st: _SpecState, key: Any, g: _Group, lo: int, hi: int, n: int, hits: list[CorrelationHit]
    ) -> None:
        ents = g.entries
        if st.spec.type == "temporal_ordered":
            lo = max(lo, self._ordered_start(st, ents, lo, hi))
        chosen = ents[lo:hi]
        del ents[lo:hi]
        # Rebuild the window bookkeeping from scratch: firing is rare next to feeding.
        g.counter = None
        g.start = 0
        if ents:
            g.max_ts = max(g.max_ts, ents[-1][0])
            for e in ents:
                if e[0] >= g.max_ts - st.span:
                    self._count_in(st, g, e)
            lo_ts = g.max_ts - st.span
            while g.start < len(ents) and ents[g.start][0] < lo_ts:
                g.start += 1
        self._emit(st, key, chosen, n, hits)

    # -- conditions checked when a window closes ---------------------------------------------------

    def _add_windowed(
        self, st: _SpecState, key: Any, g: _Group, entry: _Entry, hits: list[CorrelationHit]
    ) -> None:
        t = entry[0]
        ents = g.entries
        bisect.insort(ents, entry)
        if t > g.max_ts:
            g.max_ts = t
        while ents and g.max_ts > ents[0][0] + st.span + self.lateness:
            self._close_window(st, key, g, hits)

    def _close_window(self, st: _SpecState, key: Any, g: _Group, hits: list[CorrelationHit]) -> None:
        ents = g.entries
        end_ts = ents[0][0] + st.span
        hi = bisect.bisect_right(ents, (end_ts, float("inf")))
        n = self._measure_slice(st, ents, 0, hi)
        if self._satisfied(st, n, ents, 0, hi):
            self._emit(st, key, ents[:hi], n, hits)
        del ents[:hi]

    # -- output and bookkeeping --------------------------------------------------------------------

    def _emit(
        self, st: _SpecState, key: Any, chosen: list[_Entry], n: int, hits: list[CorrelationHit]
    ) -> None:
        spec = st.spec
        ids: list[str] = []
        total = 0
        seen: set[str] = set()
        for e in chosen:
            for i in e[2] if isinstance(e[2], tuple) else (e[2],):
                total += 1
                if i not in seen and len(ids) < MAX_HIT_IDS:
                    seen.add(i)
                    ids.append(i)
        if spec.group_by:
            values = (key,) if len(spec.group_by) == 1 else key
            group = dict(zip(spec.group_by, values, strict=True))
        else:
            group = {}
        value = n if n >= 0 else st.nrules
        hit = CorrelationHit(
            spec=spec,
            group=group,
            event_ids=ids,
            first=datetime.fromtimestamp(chosen[0][0], UTC),
            last=datetime.fromtimestamp(max(e[0] for e in chosen), UTC),
            value=value,
            events=total,
        )
        self._stats["hits"] += 1
        hits.append(hit)
        self._chain(hit, chosen, hits)

    def _chain(self, hit: CorrelationHit, chosen: list[_Entry], hits: list[CorrelationHit]) -> None:
        """Feed a hit to the correlations that reference this one, as an event of its group values."""
        targets: dict[int, tuple[_SpecState, int]] = {}
        for ref in hit.spec.keys:
            for st, idx in self._by_ref.get(ref, ()):
                prev = targets.get(st.index)
                targets[st.index] = (st, (prev[1] if prev else 0) | (1 << idx))
        if not targets:
            return
        ids: list[str] = []
        for e in chosen:
            ids.extend(e[2] if isinstance(e[2], tuple) else (e[2],))
        event = dict(hit.group)
        t = hit.last.timestamp()
        for st, mask in targets.values():
            if st.spec is hit.spec:
                continue
            self._feed_spec(st, mask, event, tuple(ids), t, hits)

    def _drop_group(self, st: _SpecState, key: Any) -> None:
        if st.groups.pop(key, None) is not None:
            self._keys -= 1

    def _evict_one(self, st: _SpecState, hits: list[CorrelationHit]) -> None:
        """Past max_keys: drop the least recently used group (closing its window first)."""
        victim_state = st if st.groups else next((s for s in self._states if s.groups), None)
        if victim_state is None:
            return
        key, g = next(iter(victim_state.groups.items()))
        if not victim_state.monotone:
            while g.entries:
                self._close_window(victim_state, key, g, hits)
        self._drop_group(victim_state, key)
        self._stats["evicted"] += 1

    def _sweep(self, st: _SpecState, hits: list[CorrelationHit]) -> None:
        """Evict groups idle since the last sweep whose window has passed the correlation's newest event."""
        horizon = st.watermark - self.lateness - st.span
        last = st.last_sweep
        st.last_sweep = st.feeds
        for key in list(st.groups):
            g = st.groups[key]
            if g.touched > last:
                break  # LRU order: everything after this was touched more recently
            if g.max_ts >= horizon:
                continue
            if not st.monotone:
                while g.entries:
                    self._close_window(st, key, g, hits)
            self._drop_group(st, key)
            self._stats["expired"] += 1
