"""The prefilter: which rules can possibly match an event, found without evaluating them.

From each compiled rule we derive a set of *necessary atoms*: tests of which at least one must hold
for the rule to match (an AND keeps the child least likely to hold, an OR the union of its
children's). An atom is an exact value of a field (``event.code = 4688``), the last path component
of a field (``...\\rundll32.exe``) or a literal the field must contain (from ``|contains``,
``|startswith``, wildcards, keywords, or the literals a regular expression requires). For each
event we look its own values up in tables of atoms, and only the rules hit (plus the few rules
with no usable atom) are evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from canh.rules.compile import Doc, Leaf, Node, Not, Or
from canh.rules.literals import GRAM, LiteralIndex
from canh.rules.regex_literals import required_literals

Atom = tuple[str, str, str]  # (kind, field, key): kind eq | tail | sub
MEMO = 20_000  # remembered values per table; bounded so a stream of unique values cannot grow it
# Strings remembered as holding no keyword literal, per route: few and short enough that the set
# stays a few MB (ids and timestamps never repeat, so it is refilled now and then).
KW_MEMO, KW_LONG = 8192, 512
TEXT = "\x00text"  # pseudo-field: all the event's text, for keyword searches
_WEIGHT = {"eq": 1.0, "tail": 2.0, "sub": 4.0}
# Rough chance that a value contains a literal of this length (longer literals are rarer).
_SUB_CHANCE = {1: 0.3, 2: 0.1, 3: 0.04, 4: 0.02, 5: 0.01}
_SUB_CHANCE_LONG = 0.005


def _sub_atoms(fld: str, lits: Iterable[str], cased: bool) -> frozenset[Atom] | None:
    out: set[Atom] = set()
    for v in lits:
        low = str(v).lower()
        # An empty literal holds for any value; a case-sensitive non-ASCII literal may not be found
        # in the lower-cased value (lower-casing a capital sigma depends on its neighbours).
        if not low or (cased and not str(v).isascii()):
            return None
        if fld == TEXT and "\x00" in low:  # would span two strings of the joined text
            return None
        out.add(("sub", fld, low))
    return frozenset(out)


def _leaf_atoms(leaf: Leaf) -> frozenset[Atom] | None:
    fld = TEXT if leaf.field is None else leaf.field
    op = leaf.op
    if op == "eq" and leaf.field is not None:
        return frozenset(("eq", fld, str(v).lower()) for v in leaf.values)
    if op in ("startswith", "contains"):
        return _sub_atoms(fld, leaf.values, leaf.cased)
    if op == "endswith":
        out: set[Atom] = set()
        for v in leaf.values:
            low = str(v).lower()
            if "\\" in low and not (leaf.cased and not str(v).isascii()):
                out.add(("tail", fld, low[low.rfind("\\") :]))
            else:
                sub = _sub_atoms(fld, (v,), leaf.cased)
                if sub is None:
                    return None
                out |= sub
        return frozenset(out)
    if op == "wild":
        return _sub_atoms(fld, (leaf.extra,), leaf.cased) if leaf.extra else None
    if op == "re" and leaf.field is not None:
        rx = leaf.values[0]
        alts = required_literals(rx.pattern, rx.flags)
        if not alts:
            return None
        best = min(alts, key=lambda s: _chance(frozenset(("sub", fld, x) for x in s), {}))
        return frozenset(("sub", fld, x) for x in best)
    return None


class Selectivity(Counter[str]):
    """Distinct values each field is compared to across all rules (a proxy for its selectivity),
    with how many tests name each file (``tails``: ``\\cmd.exe`` is named by many, a common one)
    and how many literals hold each 4-gram (``grams``: ``c:\\w`` is in many)."""

    def __init__(self) -> None:
        super().__init__()
        self.tails: Counter[str] = Counter()
        self.grams: Counter[str] = Counter()


def eq_diversity(trees: Iterable[Node]) -> Selectivity:
    """The :class:`Selectivity` of the rules' trees."""
    seen: dict[str, set[str]] = {}
    lits: list[str] = []
    tails: list[str] = []
    stack = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf):
            if node.op == "eq" and node.field:
                seen.setdefault(node.field, set()).update(str(v).lower() for v in node.values)
            elif node.op in ("contains", "startswith", "endswith"):
                low = [str(v).lower() for v in node.values]
                lits.extend(low)
                if node.op == "endswith":
                    tails.extend(x[x.rfind("\\") :] for x in low if "\\" in x)
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            stack.extend(node.items)
    out = Selectivity()
    out.update({f: len(v) for f, v in seen.items()})
    out.tails.update(tails)
    # the first grams of a literal are enough to tell a common one from a rare one
    out.grams.update(x[i : i + GRAM] for x in set(lits) for i in range(min(len(x) - GRAM + 1, 32)))
    return out


_NONE = Selectivity()


def _chance(atoms: frozenset[Atom], diversity: Mapping[str, int]) -> float:
    """Rough chance that one of the atoms holds for an event: an exact value of a field compared to
    few values (an HTTP method, a status code) is common, and so is a file many rules name (a
    parent ``\\cmd.exe``) or a literal made of grams many literals hold (``c:\\windows\\``); a
    long substring or a rarely named file is rare."""
    sel = diversity if isinstance(diversity, Selectivity) else _NONE
    p = 0.0
    for kind, fld, key in atoms:
        if kind == "eq":  # values compared to are skewed: the few common ones are very common
            p += 1.0 / max(diversity.get(fld, 1), 2) ** 0.5
        elif kind == "tail":
            p += 0.005 * max(sel.tails[key], 1) ** 0.5
        else:  # the joined text of the whole event is likelier to contain a literal than one field
            q = _SUB_CHANCE.get(len(key), _SUB_CHANCE_LONG) * (2.0 if fld == TEXT else 1.0)
            if len(key) >= GRAM and sel.grams:
                q *= max(min(sel.grams[key[i : i + GRAM]] for i in range(len(key) - GRAM + 1)), 1) ** 0.5
            p += q
    return min(p, 1.0)


def atoms_of(node: Node, diversity: Mapping[str, int] | None = None) -> frozenset[Atom] | None:
    """Atoms of which at least one holds whenever ``node`` holds; None when there is no such set."""
    if isinstance(node, Leaf):
        return _leaf_atoms(node)
    if isinstance(node, Not):
        return None
    kids = [atoms_of(c, diversity) for c in node.items]
    if isinstance(node, Or):
        if any(k is None for k in kids):
            return None
        return frozenset().union(*kids)  # type: ignore[arg-type]
    best: frozenset[Atom] | None = None
    best_cost = float("inf")
    for k in kids:
        if k is None:
            continue
        cost = _chance(k, diversity) if diversity is not None else sum(_WEIGHT[a[0]] for a in k)
        if cost < best_cost:
            best, best_cost = k, cost
    return best


Lookup = Callable[[str], tuple[int, ...]]
_EVENT_DATA = ("winlog", "event_data")  # where doc.strs looks further for a missing field
_Field = tuple[str, str, tuple[Lookup, ...], dict[str, tuple[int, ...]]]  # name, last part, tables, memo


@dataclass
class _Table:
    kind: str
    field: str
    keys: dict[str, list[int]] = dc_field(default_factory=dict)

    def lookup(self, counts: Counter[str]) -> Lookup:
        """The function giving the rules one (lower-cased) value of the field hits."""
        keys = {k: tuple(v) for k, v in self.keys.items()}
        if self.kind == "eq":
            return lambda x: keys.get(x, ())
        if self.kind == "tail":
            return lambda x: keys.get(x[x.rfind("\\") :], ()) if "\\" in x else ()
        return LiteralIndex(keys, counts).find


@dataclass
class RouteIndex:
    """Prefilter tables for the rules of one log source route."""

    always: list[int]
    tables: list[_Table]
    size: int
    counts: Counter[str] = dc_field(default_factory=Counter)

    def __post_init__(self) -> None:
        # (field, lookups of its tables, memo of raw value -> rules hit); one entry per field, so
        # a value is read and lower-cased once for its eq, tail and substring tables.
        by_field: dict[str, list[Lookup]] = {}
        for t in self.tables:
            by_field.setdefault(t.field, []).append(t.lookup(self.counts))
        self._text: tuple[Lookup, ...] = tuple(by_field.pop(TEXT, ()))
        self._clean: set[str] = set()  # strings known to hold none of the keyword literals
        # Fields grouped by their parent object (winlog.event_data...), reached once per event.
        groups: dict[tuple[str, ...], list[_Field]] = {}
        for fld, lookups in by_field.items():
            *parent, leaf = fld.split(".")
            groups.setdefault(tuple(parent), []).append((fld, leaf, tuple(lookups), {}))
        # the same tuple object for winlog.event_data, so candidates() tests it with `is`
        self._groups = [(_EVENT_DATA if p == _EVENT_DATA else p, tuple(f)) for p, f in groups.items()]

    def candidates(self, doc: Doc) -> list[int]:
        """Indexes of the rules that may match ``doc`` (sorted, so the order is stable)."""
        hit: set[int] = set(self.always)
        event = doc.nested
        fallback = _EVENT_DATA
        found: dict[str, Any] | None = None  # doc.winlog_fallbacks(), read once
        for parent, fields in self._groups:
            node: Any = event
            for part in parent:
                if node is None:
                    break
                node = node.get(part)
                if type(node) is not dict:
                    node = None
            for fld, leaf, lookups, memo in fields:
                # A string found in place is what doc.strs gives; missing under a parent found,
                # there is nothing unless the channel keeps the field elsewhere; anything else
                # (a list, a number, no parent) goes through doc.strs.
                if node is not None:
                    value = node.get(leaf)
                    if value is None:
                        if fallback is not parent:
                            continue
                        if found is None:
                            found = doc.winlog_fallbacks()
                        if found.get(leaf) is None:
                            continue
                else:
                    value = None
                for x in (value,) if type(value) is str else doc.strs(fld):
                    # Field values repeat (an image path, a user agent, a URL): remember what they hit.
                    got = memo.get(x)
                    if got is None:
                        low = x.lower()
                        got = lookups[0](low) if len(lookups) == 1 else _union(lookups, low)
                        if len(memo) >= MEMO:
                            memo.clear()
                        memo[x] = got
                    if got:
                        hit.update(got)
        if self._text:
            hit.update(self._keywords(doc))
        return sorted(hit)

    def _keywords(self, doc: Doc) -> Sequence[int]:
        """Rules whose keyword literals the event's text holds. Most strings of an event repeat
        (host, file path, image, user, hashes): the ones known to hold no literal are skipped and
        the rest searched once, joined (a literal has no NUL, so it is in the joined text exactly
        when it is in one string; lower-casing each string or the whole gives the same text)."""
        clean = self._clean
        pending: list[str] = []
        event = doc.nested
        if event is None:
            pending = [s for s in doc.text(raw=True) if s not in clean]
        else:
            _unseen(event, clean, pending)
            original = doc.original_copy()
            if original is not None and original in pending:
                pending.remove(original)  # as doc.text: one copy left out
        if not pending:
            return ()
        text = "\x00".join(pending).lower()
        lookups = self._text
        got = lookups[0](text) if len(lookups) == 1 else _union(lookups, text)
        if not got:
            if len(clean) + len(pending) > KW_MEMO:
                clean.clear()
            if max(map(len, pending)) <= KW_LONG:
                clean.update(pending)
            else:
                clean.update(s for s in pending if len(s) <= KW_LONG)
        return got


def _unseen(node: Mapping[str, Any], clean: set[str], out: list[str]) -> None:
    """The event's strings not in ``clean``, in the order doc.text gives them."""
    for v in node.values():
        t = type(v)
        if t is str:
            if v not in clean:
                out.append(v)
        elif t is dict:
            _unseen(v, clean, out)
        elif t is list:
            for x in v:
                if type(x) is str:
                    if x not in clean:
                        out.append(x)
                elif type(x) is dict:
                    _unseen(x, clean, out)


def _union(lookups: Sequence[Lookup], x: str) -> tuple[int, ...]:
    out: list[int] = []
    for lookup in lookups:
        out.extend(lookup(x))
    return tuple(out)


def gram_counts(atom_sets: Iterable[frozenset[Atom] | None]) -> Counter[str]:
    """How many literals each 4-gram occurs in, to pick each literal's rarest gram."""
    counts: Counter[str] = Counter()
    for atoms in atom_sets:
        for kind, _, key in atoms or ():
            if kind == "sub":
                counts.update({key[i : i + GRAM] for i in range(len(key) - GRAM + 1)})
    return counts


def build_index(members: Sequence[tuple[int, frozenset[Atom] | None]], counts: Counter[str]) -> RouteIndex:
    """Index the rules ``members`` (rule index, atoms) of one route."""
    always: list[int] = []
    tables: dict[tuple[str, str], _Table] = {}
    for idx, atoms in members:
        if not atoms:
            always.append(idx)
            continue
        for kind, fld, key in atoms:
            table = tables.setdefault((kind, fld), _Table(kind, fld))
            lst = table.keys.setdefault(key, [])
            if not lst or lst[-1] != idx:
                lst.append(idx)
    return RouteIndex(always, list(tables.values()), len(members), counts)
