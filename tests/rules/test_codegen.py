"""Generated rule functions mean exactly what the closures of node_pred mean."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canh.rules.codegen import predicate
from canh.rules.compile import Doc, Leaf, Or, node_pred, simplify
from tests.rules.strategies import DOC, tree


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(tree(), DOC)
def test_generated_function_agrees_with_closures(node: Any, ev: dict[str, Any]) -> None:
    for n in (node, simplify(node)):
        assert predicate(n)(Doc(ev)) == node_pred(n)(Doc(ev)), (n, ev)


def test_many_literals_and_single_values() -> None:
    many = Leaf("f", "contains", tuple(f"w{i:02d}" for i in range(40)))
    assert predicate(many)(Doc({"f": "xx w39 yy"}))
    assert not predicate(many)(Doc({"f": "w4"}))
    # longer than a third of the literals: searched literal by literal, same answers
    assert predicate(many)(Doc({"f": "a command line that ends in w07"}))
    assert not predicate(many)(Doc({"f": "a command line with w4 and w 39 only"}))
    eq = Or([Leaf("f", "eq", ("a", "b")), Leaf("g", "startswith", ("pre",), cased=True)])
    assert predicate(eq)(Doc({"f": ["z", "B".lower()]}))
    assert predicate(eq)(Doc({"g": "prefix"}))
    assert not predicate(eq)(Doc({"g": "PREfix"}))


SMALL = st.text(alphabet="abB", max_size=5)


@settings(max_examples=500)
@given(
    st.sampled_from(["eq", "startswith", "endswith", "contains"]),
    st.lists(st.text(alphabet="abB", min_size=1, max_size=3), min_size=1, max_size=30),
    st.booleans(),
    st.one_of(SMALL, st.lists(SMALL, max_size=3)),
)
def test_each_string_test_agrees_with_its_closure(op: str, lits: list[str], cased: bool, value: Any) -> None:
    leaf = Leaf("f", op, tuple(lits if cased else [x.lower() for x in lits]), cased)
    assert predicate(leaf)(Doc({"f": value})) == node_pred(leaf)(Doc({"f": value}))
