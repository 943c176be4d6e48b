"""Property tests of modifier semantics (hypothesis): wildcards vs contains/startswith/endswith,
case folding, CIDR membership against ipaddress, base64offset at every alignment."""

from __future__ import annotations

import base64
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.modifiers import SigmaBase64OffsetModifier, SigmaContainsModifier
from sigma.rule import SigmaDetectionItem
from sigma.types import SigmaString

from canh.rules.compile import Doc, Leaf, Or, leaf_pred, node_pred, string_leaf, value_node

# Sigma literals without wildcard or escape characters
LIT = st.text(
    alphabet=st.characters(blacklist_characters="*?\\", blacklist_categories=("Cs",)), min_size=1, max_size=12
)
VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


def check(pattern: str, value: str) -> bool:
    leaf = string_leaf("f", SigmaString(pattern))
    return leaf_pred(leaf)(Doc({"f": value}))


@given(LIT, VALUE)
def test_star_wrapped_equals_contains(lit: str, value: str) -> None:
    assert check(f"*{lit}*", value) == (lit.lower() in value.lower())


@given(LIT, VALUE)
def test_trailing_star_equals_startswith(lit: str, value: str) -> None:
    assert check(f"{lit}*", value) == value.lower().startswith(lit.lower())


@given(LIT, VALUE)
def test_leading_star_equals_endswith(lit: str, value: str) -> None:
    assert check(f"*{lit}", value) == value.lower().endswith(lit.lower())


@given(LIT, LIT, VALUE)
def test_inner_star_is_prefix_then_suffix(a: str, b: str, value: str) -> None:
    v = value.lower()
    al, bl = a.lower(), b.lower()
    expected = len(v) >= len(al) + len(bl) and v.startswith(al) and v.endswith(bl)
    assert check(f"{a}*{b}", value) == expected


@given(LIT, VALUE)
def test_question_mark_is_exactly_one_character(lit: str, value: str) -> None:
    v = value.lower()
    expected = len(v) == len(lit) + 1 and v.startswith(lit.lower())
    assert check(f"{lit}?", value) == expected


@given(LIT)
def test_equality_ignores_case_both_ways(lit: str) -> None:
    assert check(lit, lit.upper()) == (lit.upper().lower() == lit.lower())
    assert check(lit, lit.lower())
    assert check(lit.swapcase(), lit) == (lit.swapcase().lower() == lit.lower())


@given(LIT)
def test_escaped_wildcards_are_literal(lit: str) -> None:
    assert check(lit + "\\*", lit + "*")
    assert not check(lit + "\\*", lit + "x")
    assert check(lit + "\\?", lit + "?")


@settings(max_examples=200)
@given(
    st.ip_addresses(),
    st.integers(min_value=0, max_value=128),
    st.ip_addresses(),
)
def test_cidr_membership_matches_ipaddress(
    base: ipaddress._BaseAddress, bits: int, probe: ipaddress._BaseAddress
) -> None:
    prefix = min(bits, base.max_prefixlen)
    net = ipaddress.ip_network(f"{base}/{prefix}", strict=False)
    pred = leaf_pred(Leaf("ip", "cidr", (net,)))
    expected = probe.version == net.version and probe in net
    assert pred(Doc({"ip": str(probe)})) == expected


@settings(max_examples=150)
@given(
    st.text(
        alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="*?\\"),
        min_size=3,
        max_size=20,
    ),
    st.binary(max_size=7),
    st.binary(max_size=7),
)
def test_base64offset_finds_the_text_at_any_alignment(needle: str, before: bytes, after: bytes) -> None:
    item = SigmaDetectionItem("f", [SigmaBase64OffsetModifier, SigmaContainsModifier], [SigmaString(needle)])
    pred = node_pred(Or([value_node("f", v) for v in item.value]))
    blob = base64.b64encode(before + needle.encode() + after).decode()
    assert pred(Doc({"f": blob}))
