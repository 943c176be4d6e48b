"""A rule's node tree as ONE generated Python function, instead of a tree of closures.

Calling a closure per node and ``any()`` over a generator per value cost more than the tests
themselves (about 3 µs per rule evaluated on the corpus); the generated function reads each field
through one bound method and tests it in straight-line ``and``/``or`` code. Tests other than
plain string comparisons (regular expressions, wildcards, CIDR, keywords...) stay the closures of
:func:`canh.rules.compile.leaf_pred`, called from the generated code. Same semantics as
:func:`canh.rules.compile.node_pred` (checked by property tests).
"""

from __future__ import annotations

from typing import Any

from canh.rules.compile import And, Leaf, Node, Not, Or, Pred, leaf_pred

FEW = 24  # up to this many literals of one |contains are searched one by one


# Loops, not any() over a generator: a generator costs more than the test on one or two values.
def _starts(values: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    for x in values:  # noqa: SIM110
        if x.startswith(prefixes):
            return True
    return False


def _ends(values: tuple[str, ...], suffixes: tuple[str, ...]) -> bool:
    for x in values:  # noqa: SIM110
        if x.endswith(suffixes):
            return True
    return False


def _has(values: tuple[str, ...], lit: str) -> bool:
    for x in values:  # noqa: SIM110
        if lit in x:
            return True
    return False


def _has_any(values: tuple[str, ...], lits: tuple[str, ...]) -> bool:
    for x in values:
        for lit in lits:
            if lit in x:
                return True
    return False


_HELPERS = {"_starts": _starts, "_ends": _ends, "_has": _has, "_has_any": _has_any}


# Rough cost of a test in set lookups; a keyword search reads the whole event's text.
_COST = {"eq": 1.0, "startswith": 1.5, "endswith": 1.5, "exists": 1.0, "null": 1.0, "true": 0.1,
         "false": 0.1, "fieldref": 3.0, "cmp": 4.0, "cidr": 5.0, "wild": 6.0, "re": 10.0}  # fmt: skip


def cost(node: Node) -> float:
    """Rough cost of evaluating ``node`` on one event (what orders an AND's or an OR's tests)."""
    if isinstance(node, Not):
        return cost(node.item)
    if isinstance(node, (And, Or)):
        return sum(cost(c) for c in node.items)
    if node.field is None:
        return 50.0
    if node.op == "contains":
        return 1.0 + 0.3 * min(len(node.values), 40)
    return _COST.get(node.op, 10.0)


class _Gen:
    def __init__(self) -> None:
        self.consts: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        name = f"c{len(self.consts)}"
        self.consts[name] = value
        return name

    def expr(self, node: Node) -> str:
        if isinstance(node, Not):
            return f"(not {self.expr(node.item)})"
        if isinstance(node, (And, Or)):
            joiner = " and " if isinstance(node, And) else " or "
            # Cheapest first: the tests are pure, so the order changes only how soon the
            # answer is known (a rare |contains before a regular expression on a command line).
            items = sorted(node.items, key=cost)
            return "(" + joiner.join(self.expr(c) for c in items) + ")"
        return self.leaf(node)

    def leaf(self, leaf: Leaf) -> str:
        op, vals = leaf.op, leaf.values
        if leaf.field is None or op not in ("eq", "startswith", "endswith", "contains"):
            return f"{self.const(leaf_pred(leaf))}(d)"
        get = f"{'strs' if leaf.cased else 'low'}({leaf.field!r})"
        if op == "eq":
            if len(vals) == 1:
                return f"({self.const(vals[0])} in {get})"
            return f"(not {self.const(frozenset(vals))}.isdisjoint({get}))"
        if op == "startswith":
            return f"_starts({get}, {self.const(tuple(vals))})"
        if op == "endswith":
            return f"_ends({get}, {self.const(tuple(vals))})"
        if len(vals) == 1:
            return f"_has({get}, {self.const(vals[0])})"
        if len(vals) <= FEW:
            return f"_has_any({get}, {self.const(tuple(vals))})"
        return f"{self.const(leaf_pred(leaf))}(d)"


def predicate(node: Node) -> Pred:
    """The generated function testing ``node`` on a :class:`~canh.rules.compile.Doc`."""
    gen = _Gen()
    body = gen.expr(node)
    source = f"def rule(d):\n    low = d.low\n    strs = d.strs\n    return {body}\n"
    scope: dict[str, Any] = {**_HELPERS, **gen.consts}
    try:
        exec(compile(source, "<sigma rule>", "exec"), scope)
    except (RecursionError, MemoryError, SyntaxError):  # pragma: no cover - absurdly deep trees
        from canh.rules.compile import node_pred

        return node_pred(node)
    fn: Pred = scope["rule"]
    return fn
