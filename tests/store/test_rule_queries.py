"""What Canh's pipeline adds to a rule's Lucene query so it means what the engine does: the log-source
condition (the inverse of the routing table) and regular expressions that search the value."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.query import matcher
from canh.rules.logsource import (
    AUTH_PROGRAMS,
    DATASETS,
    POWERSHELL_CATEGORIES,
    SURICATA_TYPES,
    SYSMON_CATEGORIES,
    WINDOWS_CHANNELS,
    event_source,
    route_key,
)
from canh.rules.pipelines import logsource_query, search_regex

_CHANNELS = ["Security", "System", "Microsoft-Windows-Sysmon/Operational", "Windows PowerShell",
             "Microsoft-Windows-PowerShell/Operational", "Application"]  # fmt: skip
_DATASETS = [*DATASETS, "windows.security", "zeek.ssl", "other.log"]
_PRODUCTS = sorted({p for ds in DATASETS.values() for p in ds[0]} | {"windows", "zeek", "system", "foo"})
_CATEGORIES = sorted(
    {c for ds in DATASETS.values() for c in ds[1]}
    | {c for cs in SYSMON_CATEGORIES.values() for c in cs}
    | {c for cs in POWERSHELL_CATEGORIES.values() for c in cs}
)
_SERVICES = sorted(
    {s for ds in DATASETS.values() for s in ds[2]}
    | set(AUTH_PROGRAMS.values())
    | set(WINDOWS_CHANNELS.values())
    | set(SURICATA_TYPES)
    | {"ssl"}
)


@st.composite
def _events(draw: st.DrawFn) -> dict[str, Any]:
    ev: dict[str, Any] = {"event": {"dataset": draw(st.sampled_from(_DATASETS))}}
    if draw(st.booleans()):
        ev["event"]["module"] = draw(st.sampled_from(["system", "nginx", "windows", "network", "zeek"]))
    if draw(st.booleans()):
        ev["winlog"] = {"channel": draw(st.sampled_from(_CHANNELS)),
                        "event_id": draw(st.sampled_from([1, 3, 11, 13, 4104, 400, 4624]))}  # fmt: skip
    if ev["event"]["dataset"] == "system.auth":
        ev["process"] = {"name": draw(st.sampled_from([*AUTH_PROGRAMS, "systemd"]))}
    if ev["event"]["dataset"] == "suricata.eve":
        ev["suricata"] = {"eve": {"event_type": draw(st.sampled_from([*SURICATA_TYPES, "alert", "tls"]))}}
    return ev


_maybe = lambda values: st.none() | st.sampled_from(values)  # noqa: E731


@settings(max_examples=400, deadline=None)
@given(ev=_events(), product=_maybe(_PRODUCTS), category=_maybe(_CATEGORIES), service=_maybe(_SERVICES))
def test_logsource_condition_selects_what_the_engine_routes(
    ev: dict[str, Any], product: str | None, category: str | None, service: str | None
) -> None:
    query = logsource_query(product, category, service)
    routed = event_source(route_key(_Flat(ev))).fits(product, category, service)
    assert (matcher(query)(ev) if query else True) is routed, query


class _Flat:
    """``get(dotted)`` over a nested event, as route_key reads it."""

    def __init__(self, ev: dict[str, Any]) -> None:
        self.ev = ev

    def get(self, name: str) -> Any:
        node: Any = self.ev
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node


def test_logsource_condition_reads_as_the_routing_table() -> None:
    assert logsource_query(None, None, None) is None
    assert logsource_query("linux", None, "sudo") == (
        "((event.module:linux OR event.dataset:(system.auth OR syslog)) AND (event.dataset:zeek.sudo"
        " OR (event.dataset:system.auth AND process.name:sudo)"
        " OR (event.dataset:suricata.eve AND suricata.eve.event_type:sudo)))"
    )
    sysmon = logsource_query("windows", "process_creation", None)
    assert (
        sysmon is not None
        and 'winlog.channel:"Microsoft-Windows-Sysmon/Operational" AND winlog.event_id:1' in sysmon
    )
    assert logsource_query(None, "no_such_category", None) == "event.dataset:canh.no_such_log_source"


_PIECES = [
    "a",
    "b",
    "&",
    "=",
    ".",
    "x+",
    "[ab]",
    "\\.",
    "(a|b)",
    "(^|&)",
    "(&|$)",
    "^",
    "$",
    "(a|^b)",
    "(b|c$)",
]


@st.composite
def _patterns(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=5))
    pattern = "".join(parts)
    if draw(st.booleans()):
        pattern += "|" + "".join(draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3)))
    return pattern


@settings(max_examples=500, deadline=None)
@given(pattern=_patterns(), text=st.text(alphabet="ab&=.c", max_size=8))
def test_search_regex_matches_whole_values_as_the_rule_searches(pattern: str, text: str) -> None:
    try:
        rx = re.compile(pattern)
    except re.error:
        return
    assert (re.fullmatch(search_regex(pattern), text, re.S) is not None) is (rx.search(text) is not None)


def test_search_regex_keeps_anchored_patterns_plain() -> None:
    assert search_regex("^abc$") == "abc"
    assert search_regex("abc") == ".*abc.*"
    assert search_regex("(?i)(^|&)cmd=(id|ls)(&|$)") == "(?i)(?:.*&)?cmd=(id|ls)(?:&.*)?"
    assert search_regex("a|b") == ".*(?:a|b).*"
    # a path ending in a backslash, anchored: \\ then the anchor, not an escaped dollar
    assert search_regex(r"^C\:\\Windows\\$") == r"C\:\\Windows\\"
    assert search_regex(r"cost\$") == r".*cost\$.*"


def test_unicode_spaces_in_rule_values_stay_inside_their_term() -> None:
    from sigma.collection import SigmaCollection

    from canh.query import Or, Term, parse
    from canh.rules.convert import convert

    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n"
        "  sel:\n    CommandLine|contains:\n      - \"\\u2005\"\n      - 'x'\n  condition: sel\n"
    ).rules[0]
    (res,) = convert([rule], "lucene")
    tree = parse(res.queries[0])
    terms = [t for t in tree.items[-1].items] if isinstance(tree.items[-1], Or) else [tree.items[-1]]  # type: ignore[union-attr]
    # the space has no case (a wildcard term); x has, so it compares as a caseless expression
    assert [t.value for t in terms if isinstance(t, Term)] == ["*\\\u2005*", "(?i).*x.*"]


_CHARS = st.sampled_from([*"aAbBzZ09 _-./\\:*?\"'()[]{}|^$+#&<>~@%!=,;", "đ", "Đ", "ß", "\u2005"])


@settings(max_examples=200, deadline=None)
@given(
    # with a cased letter: a value of none keeps pySigma's own form
    needle=st.text(_CHARS, min_size=1, max_size=8).filter(lambda s: s.lower() != s.upper()),
    hay=st.text(_CHARS, max_size=12),
    how=st.sampled_from(["", "|contains", "|startswith", "|endswith"]),
    field=st.sampled_from(["Image", "CommandLine"]),  # a keyword field and a text field
)
def test_rule_values_compare_without_case_as_sigma_does(needle: str, hay: str, how: str, field: str) -> None:
    import json

    from sigma.collection import SigmaCollection

    from canh.rules.convert import convert

    value = needle.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    rule = SigmaCollection.from_yaml(
        "title: t\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n"
        f"  sel:\n    {field}{how}: {json.dumps(value)}\n  condition: sel\n"
    ).rules[0]
    (res,) = convert([rule], "lucene")
    n = needle.lower()
    for text in (hay, needle + hay, hay + needle, needle.upper(), hay + needle.swapcase() + hay):
        t = text.lower()
        want = {"": t == n, "|contains": n in t, "|startswith": t.startswith(n), "|endswith": t.endswith(n)}[
            how
        ]
        ev = {"event": {"dataset": "windows.sysmon_operational"},
              "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
                         "event_data": {field: text}}}  # fmt: skip
        assert matcher(res.queries[0])(ev) is want, (res.queries[0], text)
