"""The prefilter: which rules can possibly match an event, found without evaluating them.

From each compiled rule we derive a set of *necessary atoms*: tests of which at least one must hold
for the rule to match (an AND keeps the cheapest child's atoms, an OR the union of its children's).
An atom is an exact value of a field (``event.code = 4688``), the last path component of a field
(``...\\rundll32.exe``) or a short substring (4 characters) of a literal the field must contain.
For each event we look its own values up in hash tables of atoms, and only the rules hit (plus the
few rules with no usable atom) are evaluated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field

from canh.rules.compile import Doc, Leaf, Node, Not, Or

Atom = tuple[str, str, str]  # (kind, field, key): kind eq | tail | sub
GRAM = 4
MEMO = 20_000  # remembered values per table; bounded so a stream of unique values cannot grow it
TEXT = "\x00text"  # pseudo-field: all the event's text, for keyword searches
_WEIGHT = {"eq": 1.0, "tail": 2.0, "sub": 4.0}


def _leaf_atoms(leaf: Leaf) -> frozenset[Atom] | None:
    fld = leaf.field
    if fld is None:  # keyword search: a substring of the event's joined text
        if leaf.op == "contains" and all(len(str(v)) >= GRAM for v in leaf.values):
            return frozenset(("sub", TEXT, str(v).lower()) for v in leaf.values)
        return None
    out: set[Atom] = set()
    if leaf.op == "eq":
        out.update(("eq", fld, str(v).lower()) for v in leaf.values)
        return frozenset(out)
    if leaf.op in ("startswith", "contains", "endswith"):
        for v in leaf.values:
            low = str(v).lower()
            if leaf.op == "endswith" and "\\" in low:
                out.add(("tail", fld, low[low.rfind("\\") :]))
            elif len(low) >= GRAM:
                out.add(("sub", fld, low))
            else:
                return None
        return frozenset(out)
    if leaf.op == "wild" and leaf.extra and len(leaf.extra) >= GRAM:
        return frozenset({("sub", fld, str(leaf.extra).lower())})
    return None


def eq_diversity(trees: Iterable[Node]) -> Counter[str]:
    """Distinct values each field is compared to across all rules (a proxy for its selectivity)."""
    seen: dict[str, set[str]] = {}
    stack = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, Leaf):
            if node.op == "eq" and node.field:
                seen.setdefault(node.field, set()).update(str(v).lower() for v in node.values)
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            stack.extend(node.items)
    return Counter({f: len(v) for f, v in seen.items()})


def _chance(atoms: frozenset[Atom], diversity: Mapping[str, int]) -> float:
    """Rough chance that one of the atoms holds for an event: an exact value of a field compared to
    few values (an HTTP method, a status code) is common; a substring or a file name is rare."""
    p = 0.0
    for kind, fld, _ in atoms:
        p += 1.0 / max(diversity.get(fld, 1), 2) if kind == "eq" else 0.02
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


@dataclass
class _Table:
    kind: str
    field: str
    keys: dict[str, list[int]] = dc_field(default_factory=dict)


@dataclass
class RouteIndex:
    """Prefilter tables for the rules of one log source route."""

    always: list[int]
    tables: list[_Table]
    size: int

    def __post_init__(self) -> None:
        # (field, kind, keys, memo of value -> rules hit)
        self._plan: list[tuple[str, str, dict[str, list[int]], dict[str, tuple[int, ...]]]] = [
            (t.field, t.kind, t.keys, {}) for t in self.tables
        ]

    def candidates(self, doc: Doc) -> list[int]:
        """Indexes of the rules that may match ``doc`` (sorted, so the order is stable)."""
        hit: set[int] = set(self.always)
        for fld, kind, keys, memo in self._plan:
            if fld == TEXT:
                values: tuple[str, ...] = (doc.alltext(),)
            else:
                values = doc.low(fld)
                if not values:
                    continue
            for x in values:
                # Field values repeat (an image path, a user agent, a URL): remember what they hit.
                got = memo.get(x)
                if got is None:
                    got = _lookup(kind, keys, x)
                    if len(memo) >= MEMO:
                        memo.clear()
                    memo[x] = got
                if got:
                    hit.update(got)
        return sorted(hit)


def _lookup(kind: str, keys: dict[str, list[int]], x: str) -> tuple[int, ...]:
    """The rules one value of a field hits in one table."""
    if kind == "eq":
        return tuple(keys.get(x, ()))
    if kind == "tail":
        pos = x.rfind("\\")
        return tuple(keys.get(x[pos:], ())) if pos >= 0 else ()
    out: list[int] = []
    if len(keys) < len(x):
        for g, rules in keys.items():
            if g in x:
                out.extend(rules)
    else:
        for g in {x[i : i + GRAM] for i in range(len(x) - GRAM + 1)}.intersection(keys):
            out.extend(keys[g])
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
            if kind == "sub":
                key = min(
                    (key[i : i + GRAM] for i in range(len(key) - GRAM + 1)), key=lambda g: (counts[g], g)
                )
            table = tables.setdefault((kind, fld), _Table(kind, fld))
            lst = table.keys.setdefault(key, [])
            if not lst or lst[-1] != idx:
                lst.append(idx)
    return RouteIndex(always, list(tables.values()), len(members))
