"""Which of many literals a value contains, found with as few Python steps as CPython allows.

A C substring search (``lit in value``) costs about a nanosecond per character of the value, a
Python step tens of nanoseconds; so against a long value we search few *gates* rather than every
literal: a substring several literals share (``kerberos::`` for ``kerberos::golden`` and
``kerberos::ptt``), and a character that is rare in the values seen so far (``=`` in web logs, for
``=whoami`` and ``=cmd+/c+``), whose literals are only searched when the gate is found. Against a
short value with many literals, the value's own n-grams are looked up in an index instead. Every
answer is exact: a literal is reported only when the value contains it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

GRAM = 4
GATE_MIN, GATE_MAX = 4, 10  # shared-substring gate lengths: long enough to be rare and fast to find
LEARN = 256  # values looked at before picking character gates
RARE = 0.5  # a character found in more of those values than this is no gate
PAIRS = 48  # character pairs whose presence is learned, at most
SHARE_MAX = 400  # literals among which shared gates are looked for, at most
PAIR_RARE = 0.1  # a pair costs a search: it must be rarer than a character to be a gate

Rules = tuple[int, ...]
# (gate, literals other than the gate itself, rules of the gate when it is a literal too)
Gate = tuple[str, tuple[tuple[str, Rules], ...], Rules]
Plan = tuple[tuple[str, tuple[Gate, ...]], ...]  # (short gate or "", the gates under it)


class LiteralIndex:
    """Maps a lower-cased value to the rules of the literals it contains (see the module doc)."""

    __slots__ = (
        "_by_gram", "_chars", "_fast", "_learning", "_lits", "_plan", "_present", "_scan_from", "_scans",
        "_seen", "_short",
    )  # fmt: skip

    def __init__(self, lits: Mapping[str, Rules], counts: Mapping[str, int]) -> None:
        self._lits = dict(lits)
        self._chars = _gate_candidates(self._lits)
        self._present = dict.fromkeys(self._chars, 0)
        self._seen = 0
        # Sharing is looked for among a few hundred literals; more are never scanned one by one.
        members = list(self._lits)
        gates = _gates(self._lits, members) if len(members) <= SHARE_MAX else _own_gates(self._lits)
        self._plan: Plan = (("", gates),)
        self._scans = float(len(self._plan[0][1]))
        self._scan_from = _scan_from(self._scans)
        self._learning = True
        # the learning plan is walked in a loop: most indexes never see enough values to learn,
        # and generating a function costs about what a thousand loop scans do
        self._fast: Callable[[str], Rules] = _Scanner(self._plan)
        by_gram: dict[str, list[tuple[str, Rules]]] = {}
        short: dict[int, dict[str, Rules]] = {}
        for lit, rules in self._lits.items():
            if len(lit) >= GRAM:
                # (the counts cover the first grams of each literal only)
                grams = (lit[i : i + GRAM] for i in range(min(len(lit) - GRAM + 1, 32)))
                by_gram.setdefault(min(grams, key=lambda g: (counts.get(g, 0), g)), []).append((lit, rules))
            else:
                short.setdefault(len(lit), {})[lit] = rules
        self._by_gram = {g: tuple(v) for g, v in by_gram.items()}
        self._short = tuple(sorted(short.items()))

    def find(self, x: str) -> Rules:
        """The rules of the literals ``x`` holds (call the bound method: calling the index itself
        goes through a slower slot lookup, about 0.5 us here)."""
        # Scanning costs a search per gate over the whole value; n-grams a Python step per character.
        if len(x) > self._scan_from:
            if self._learning:
                self._learn(x)
            return self._fast(x)
        return self._grams(x)

    __call__ = find

    def _grams(self, x: str) -> Rules:
        out: list[int] = []
        if self._by_gram:
            for g in {x[i : i + GRAM] for i in range(len(x) - GRAM + 1)}.intersection(self._by_gram):
                for lit, rules in self._by_gram[g]:
                    if lit in x:
                        out.extend(rules)
        for size, group in self._short:
            if len(group) <= 8:
                for lit, rules in group.items():
                    if lit in x:
                        out.extend(rules)
            else:
                grams = set(x) if size == 1 else {x[i : i + size] for i in range(len(x) - size + 1)}
                for lit in grams.intersection(group):
                    out.extend(group[lit])
        return tuple(out)

    def _learn(self, x: str) -> None:
        present = self._present
        for c in self._chars:
            if c in x:
                present[c] += 1
        self._seen += 1
        if self._seen == LEARN:
            self._plan, self._scans = _char_plan(self._lits, present, LEARN)
            self._fast = scan_function(self._plan, self._scans)
            self._scan_from = _scan_from(self._scans)
        self._learning = self._seen < LEARN


def _scan_from(scans: float) -> float:
    """The value length above which scanning costs less than looking up the value's n-grams.
    Measured here on the corpus's keyword texts (generated scans): a gate costs about 20 ns and
    0.45 ns a character, n-grams about 2 us and 130 ns a character, so scans * (44 + n) < 4400 +
    290 * n: scanning wins at any length up to ~90 gates, never beyond ~290."""
    if scans >= 290:
        return float("inf")
    return max((44 * scans - 4400) / (290 - scans), 0.0)


CODEGEN_MAX = 400  # gates per plan, at most, written out as one function (scanned only when few)


def scan_function(plan: Plan, scans: float) -> Callable[[str], Rules]:
    """The scan of ``plan`` (what :class:`_Scanner` does) as one generated function of straight-line tests:
    a gate is rarely found, and a loop step with its unpacking costs more than the C search
    itself (about 40 of the 60 ns of one gate on a short value)."""
    gates = sum(1 + len(group) for _, entries in plan for _, group, _ in entries)
    if scans > CODEGEN_MAX or gates > 4 * CODEGEN_MAX:  # searched by n-grams, never scanned
        return _Scanner(plan)
    lines = ["def scan(x):", "    out = ()"]
    for short, entries in plan:
        pad = "    "
        if short:
            lines.append(f"    if {short!r} in x:")
            pad = "        "
        for gate, group, own in entries:
            lines.append(f"{pad}if {gate!r} in x:")
            lines.append(f"{pad}    out += {own!r}" if own else f"{pad}    pass")
            for lit, rules in group:
                lines.append(f"{pad}    if {lit!r} in x:")
                lines.append(f"{pad}        out += {rules!r}")
        if short and not entries:  # pragma: no cover - a gate always holds literals
            lines.append("        pass")
    lines.append("    return out")
    scope: dict[str, Any] = {}
    try:
        exec(compile("\n".join(lines) + "\n", "<literal scan>", "exec"), scope)
    except (RecursionError, MemoryError, SyntaxError):  # pragma: no cover - absurd plans
        return _Scanner(plan)
    fn: Callable[[str], Rules] = scope["scan"]
    return fn


class _Scanner:
    """The plan walked in a loop (the reference :func:`scan_function` must agree with)."""

    __slots__ = ("plan",)

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def __call__(self, x: str) -> Rules:
        out: list[int] = []
        for short, gates in self.plan:
            if short and short not in x:
                continue
            for gate, group, own in gates:
                if gate in x:
                    out.extend(own)
                    for lit, rules in group:
                        if lit in x:
                            out.extend(rules)
        return tuple(out)


def _gate_candidates(lits: Mapping[str, Rules]) -> tuple[str, ...]:
    """Characters of the literals, and their pairs with punctuation in them (``::``, ``${``)
    shared by the most literals: short gates whose presence in the values is learned."""
    chars = {c for lit in lits for c in lit}
    pairs: Counter[str] = Counter()
    for lit in lits:
        pairs.update(
            {p for p in (lit[i : i + 2] for i in range(len(lit) - 1)) if not p.isalnum() and p.strip()}
        )
    return tuple(sorted(chars)) + tuple(sorted(p for p, _ in pairs.most_common(PAIRS)))


def _char_plan(lits: Mapping[str, Rules], present: Mapping[str, int], seen: int) -> tuple[Plan, float]:
    """Literals grouped under their rarest short gate (when it is rare enough), the rest ungated."""
    # Each literal under its rarest character (memchr finds one fast), when it is rare enough;
    # then the literals left, under pairs many of them share that are rarer still (``::``).
    groups: dict[str, list[str]] = {}
    left: list[str] = []
    for lit in lits:
        char = min(set(lit), key=lambda c: (present[c], c))
        if present[char] <= RARE * seen:
            groups.setdefault(char, []).append(lit)
        else:
            left.append(lit)
    pairs = [g for g in present if len(g) == 2 and present[g] <= PAIR_RARE * seen]
    while left and pairs:
        best = max(pairs, key=lambda g: (sum(g in lit for lit in left), -present[g], g))
        mine = [lit for lit in left if best in lit]
        if len(mine) < 4:
            break
        groups[best] = mine
        left = [lit for lit in left if best not in lit]
        pairs.remove(best)
    if left:
        groups[""] = left
    plan = []
    scans = 0.0
    for gate in sorted(groups, key=lambda g: (g != "", present.get(g, 0), g)):
        gates = (
            _gates(lits, groups[gate])
            if len(groups[gate]) <= SHARE_MAX
            else _own_gates({lit: lits[lit] for lit in groups[gate]})
        )
        rate = present[gate] / seen if gate else 1.0
        scans += (_gate_cost(gate) if gate else 0.0) + rate * len(gates)
        plan.append((gate, gates))
    return tuple(plan), scans


def _own_gates(lits: Mapping[str, Rules]) -> tuple[Gate, ...]:
    return tuple((lit, (), rules) for lit, rules in sorted(lits.items()))


def _gate_cost(gate: str) -> float:
    """In searches of a long literal: memchr finds a character some times faster; a two-character
    search skips nothing and costs about three."""
    return 0.25 if len(gate) == 1 else 3.0


def _gates(lits: Mapping[str, Rules], members: Sequence[str]) -> tuple[Gate, ...]:
    return tuple(
        (gate, tuple((lit, lits[lit]) for lit in group if lit != gate), lits.get(gate, ()))
        for gate, group in shared_gates(members)
    )


def shared_gates(lits: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Group literals under substrings they share (greedily, the substring shared by most first);
    a literal sharing nothing is its own gate. Every literal of a group contains its gate."""
    return [(gate, list(group)) for gate, group in _shared_gates(tuple(sorted(set(lits))))]


@lru_cache(maxsize=1024)
def _shared_gates(lits: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # cached: the routes of one product share tables (every Windows route has the same keywords)
    owners: dict[str, set[str]] = {}
    for lit in lits:
        for size in range(GATE_MIN, min(len(lit), GATE_MAX) + 1):
            for i in range(len(lit) - size + 1):
                owners.setdefault(lit[i : i + size], set()).add(lit)
    heap = [(-len(o), -len(s), s) for s, o in owners.items() if len(o) > 1]
    heapq.heapify(heap)
    left = set(lits)
    out: list[tuple[str, tuple[str, ...]]] = []
    while heap:
        _, neg_len, s = heapq.heappop(heap)
        mine = owners[s] & left
        if len(mine) < 2:
            continue
        if heap and (-len(mine), neg_len, s) > heap[0]:  # its count dropped: back in order
            heapq.heappush(heap, (-len(mine), neg_len, s))
            continue
        out.append((s, tuple(sorted(mine))))
        left -= mine
    out.extend((lit, (lit,)) for lit in sorted(left))
    return tuple(out)
