"""Hypothesis strategies for the engine tests: regular expressions, rule trees, events."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from sigma.types import SigmaCasedString, SigmaRegularExpression, SigmaString

from canh.rules.compile import And, Node, Not, Or, string_leaf, value_node

# A small alphabet so that literals and values often meet; with characters whose lower-casing is
# special (dotted and dotless i, long s, Kelvin sign, final sigma) and a path separator.
ALPHA = "abcAB =:\\.İıſKΣσς"
TEXT = st.text(alphabet=ALPHA, max_size=12)
FIELDS = ("f", "g", "h")


@st.composite
def regex(draw: Any, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(["lit", "lit", "class", "any", "group", "alt", "rep", "seq"][: 4 if depth > 2 else 8])
    )
    if kind == "lit":
        return re.escape(draw(st.text(alphabet=ALPHA, min_size=1, max_size=5)))
    if kind == "class":
        return draw(st.sampled_from([r"\d", r"\s", r"\w", "[a-c]", "[^a]", r"\b", "^", "$"]))
    if kind == "any":
        return "."
    if kind == "group":
        flag = draw(st.sampled_from(["", "?:", "?i:", "?-i:"]))
        return f"({flag}{draw(regex(depth + 1))})"
    if kind == "alt":
        return f"(?:{draw(regex(depth + 1))}|{draw(regex(depth + 1))})"
    if kind == "rep":
        return f"(?:{draw(regex(depth + 1))}){draw(st.sampled_from(['?', '*', '+', '{2}', '{0,2}', '+?']))}"
    return draw(regex(depth + 1)) + draw(regex(depth + 1))


@st.composite
def leaf(draw: Any) -> Node:
    fld = draw(st.sampled_from([*FIELDS, None]))
    kind = draw(st.sampled_from(["str", "str", "cased", "re"] if fld else ["str", "cased"]))
    if kind == "re":
        pattern = draw(regex())
        try:
            re.compile(pattern)
        except re.error:
            assume(False)
        return value_node(fld, SigmaRegularExpression(pattern))
    text = draw(st.text(alphabet=ALPHA + "*?", max_size=6))
    try:
        s = SigmaCasedString(text) if kind == "cased" else SigmaString(text)
    except Exception:
        assume(False)
        raise
    return string_leaf(fld, s)


@st.composite
def tree(draw: Any, depth: int = 0) -> Node:
    kind = draw(st.sampled_from(["leaf", "leaf", "and", "or", "not"] if depth < 3 else ["leaf"]))
    if kind == "leaf":
        return draw(leaf())
    if kind == "not":
        return Not(draw(tree(depth + 1)))
    items = draw(st.lists(tree(depth + 1), min_size=1, max_size=3))
    return And(items) if kind == "and" else Or(items)


DOC = st.dictionaries(st.sampled_from(FIELDS), st.one_of(TEXT, st.lists(TEXT, max_size=3)), max_size=3)
