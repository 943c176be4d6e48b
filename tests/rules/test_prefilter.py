"""The prefilter never drops a rule that matches (hypothesis over random rule trees and events),
literal indexes answer exactly, and regular expressions' required literals hold in every match."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sigma.types import SigmaCasedString, SigmaString

from canh.rules import literals
from canh.rules.compile import Doc, Node, node_pred, simplify, string_leaf
from canh.rules.literals import LiteralIndex, shared_gates
from canh.rules.prefilter import atoms_of, build_index, eq_diversity, gram_counts
from canh.rules.regex_literals import ICASE_UNSAFE, required_literals
from tests.rules.strategies import DOC, TEXT, regex, tree


def test_icase_unsafe_letters_are_exactly_those_with_foreign_matches() -> None:
    every = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i < 0xE000)
    unsafe = set()
    for code in range(128):
        c = chr(code)
        if any(d.lower() != c.lower() for d in set(re.findall("(?i)" + re.escape(c), every))):
            unsafe.add(c)
    assert unsafe == set(ICASE_UNSAFE)


def _holds(alts: list[frozenset[str]], value: str) -> bool:
    low = value.lower()
    return all(any(lit in low for lit in lits) for lits in alts)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(regex(), st.booleans(), st.data())
def test_required_literals_occur_in_every_match(pattern: str, icase: bool, data: Any) -> None:
    flags = re.I if icase else 0
    try:
        rx = re.compile(pattern, flags)
    except re.error:
        assume(False)
        return
    alts = required_literals(pattern, flags)
    for lits in alts:
        assert lits and all(lit and lit.isascii() and lit == lit.lower() for lit in lits)
    value = data.draw(st.from_regex(rx).filter(lambda v: rx.search(v) is not None))
    assert _holds(alts, value), (pattern, value, alts)
    other = data.draw(TEXT)
    if rx.search(other):
        assert _holds(alts, other), (pattern, other, alts)


def test_required_literals_of_sigma_like_patterns() -> None:
    assert required_literals(r"ping\s+-n.{6,64}echo EEEE\s?>\s?") == [
        frozenset({"ping"}),
        frozenset({"-n"}),
        frozenset({"echo eeee"}),
        frozenset({">"}),
    ]
    assert required_literals(r"(?i)\$\{`?e`?n") == [frozenset({"${"}), frozenset({"e"}), frozenset({"n"})]
    # i and s are not kept under IGNORECASE (İ, ı and ſ match them but lower-case to others)
    assert required_literals(r"(?i)shutdown") == [frozenset({"hutdown"})]
    assert required_literals("shutdown") == [frozenset({"shutdown"})]
    assert required_literals("(?:abc|xyz)d") == [frozenset({"abc", "xyz"}), frozenset({"d"})]
    assert required_literals("(?:abc|.)") == []
    assert required_literals("(unbalanced") == []


@settings(max_examples=300)
@given(
    st.dictionaries(st.text(alphabet="abc=:%x", min_size=1, max_size=7), st.just(()), max_size=40),
    st.lists(st.text(alphabet="abc=:%xy", max_size=300), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=4),
)
def test_literal_index_is_exact(lits: dict[str, Any], values: list[str], learn: int) -> None:
    rules = {lit: (n,) for n, lit in enumerate(lits)}
    saved = literals.LEARN
    literals.LEARN = learn  # so that the character gates are picked within the example
    try:
        index = LiteralIndex(rules, gram_counts([frozenset(("sub", "f", k) for k in rules)]))
        for value in values * 2:
            want = sorted(n for lit, (n,) in rules.items() if lit in value)
            assert sorted(set(index(value))) == want
    finally:
        literals.LEARN = saved


@settings(max_examples=200)
@given(
    # few letters and long literals: gates shared by several literals, and quotes and backslashes
    st.dictionaries(st.text(alphabet="ab'\\\"=:", min_size=1, max_size=9), st.just(()), max_size=30),
    st.lists(st.text(alphabet="ab'\\\"=:y", max_size=60), min_size=3, max_size=20),
)
@example({"ab=:ab": (), "xab=:abq": (), "ab=:abzz": (), "b'b": (), 'a"\\b': ()}, ["ab", "b'b", "zz"])
def test_generated_scan_answers_as_the_loop_does(lits: dict[str, Any], values: list[str]) -> None:
    rules = {lit: (n, n + 100) for n, lit in enumerate(lits)}
    saved = literals.LEARN
    literals.LEARN = 3
    try:
        index = LiteralIndex(rules, gram_counts([frozenset(("sub", "f", k) for k in rules)]))
        for value in values[:3]:
            index._learn(value)  # the character plan is picked, and its scan generated
        assert not isinstance(index._fast, literals._Scanner)
        loop = literals._Scanner(index._plan)
        for value in values + [f"y{lit}y" for lit in rules]:  # every literal found at least once
            want = sorted(r for lit, rs in rules.items() if lit in value for r in rs)
            assert index._fast(value) == loop(value)
            assert sorted(index._fast(value)) == want
    finally:
        literals.LEARN = saved


@given(st.lists(st.text(alphabet="abcdefgh:", min_size=1, max_size=20), max_size=30, unique=True))
def test_shared_gates_cover_every_literal_once(lits: list[str]) -> None:
    groups = shared_gates(lits)
    seen = [lit for _, group in groups for lit in group]
    assert sorted(seen) == sorted(lits)
    assert all(gate in lit for gate, group in groups for lit in group)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(tree(), st.lists(DOC, min_size=1, max_size=6), st.integers(min_value=1, max_value=3))
def test_prefilter_keeps_every_matching_rule(node: Node, docs: list[dict[str, Any]], learn: int) -> None:
    node = simplify(node)
    pred = node_pred(node)
    atoms = atoms_of(node, eq_diversity([node]))
    saved = literals.LEARN
    literals.LEARN = learn
    try:
        index = build_index([(0, atoms)], gram_counts([atoms]))
        for ev in docs * 2:
            if pred(Doc(ev)):
                assert index.candidates(Doc(ev)) == [0], (node, ev, atoms)
    finally:
        literals.LEARN = saved


@pytest.mark.parametrize(
    ("pattern", "value"),
    [("*kerberos::golden*", "mimikatz # KERBEROS::GOLDEN /user:x"), ("*=whoami*", "GET /s.php?c=whoami")],
)
def test_keyword_literals_are_found_in_long_text(pattern: str, value: str) -> None:
    node = string_leaf(None, SigmaString(pattern))
    atoms = atoms_of(node, {})
    index = build_index([(7, atoms)], gram_counts([atoms]))
    filler = {f"k{i}": "x" * 300 for i in range(12)}
    assert index.candidates(Doc({**filler, "message": value})) == [7]
    assert index.candidates(Doc({**filler, "message": value.replace(":", ";").replace("=", "-")})) == []


def test_cased_literal_with_a_capital_sigma_keeps_its_rule() -> None:
    # "ΑΣ".lower() is "ας" (final sigma) while "Σ".lower() is "σ": lower-cased, the literal is lost
    node = string_leaf("f", SigmaCasedString("*Σ*"))
    ev = {"f": "ΑΣ"}
    assert node_pred(node)(Doc(ev))
    atoms = atoms_of(node, {})
    assert build_index([(0, atoms)], gram_counts([atoms])).candidates(Doc(ev)) == [0]


def test_keyword_strings_remembered_clean_never_hide_a_literal() -> None:
    node = string_leaf(None, SigmaString("*sekurlsa::*"))
    atoms = atoms_of(node, {})
    index = build_index([(3, atoms)], gram_counts([atoms]))
    base = {"host": {"name": "ws-01"}, "process": {"command_line": "whoami /all"}, "tags": ["a", "b"]}
    for _ in range(3):  # the same strings again: skipped as known clean
        assert index.candidates(Doc(base)) == []
    hit = {**base, "message": "mimikatz SEKURLSA::logonpasswords"}
    for _ in range(3):  # a string holding the literal is searched every time, never remembered
        assert index.candidates(Doc(hit)) == [3]
    assert index.candidates(Doc({**base, "tags": ["a", "x sekurlsa::y"]})) == [3]
    # a Windows record's JSON copy of its fields is left out of the text, as doc.text does
    copy = '{"Event":{"EventData":{"x":"sekurlsa::"}}}'
    win = {"event": {"original": copy}, "winlog": {"event_id": 1}, "host": {"name": "ws-01"}}
    assert index.candidates(Doc(win)) == []
    assert index.candidates(Doc({**win, "winlog": {"event_id": 1, "x": copy}})) == [3]
