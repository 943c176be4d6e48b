"""Property tests for the parsers and matchers: spreadsheet round trip, asset matching, priorities."""

from __future__ import annotations

import ipaddress

from canh.incidents.model import ALERT_LEVELS, PRIORITIES, priority_for
from canh.incidents.register import AssetIndex, System
from canh.incidents.register_io import read_csv, write_csv
from hypothesis import given, settings
from hypothesis import strategies as st

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(str.strip)
_code = st.from_regex(r"HT-[A-Z]{2,5}-[0-9]{2}", fullmatch=True)


@st.composite
def systems(draw: st.DrawFn) -> System:
    return System(
        code=draw(_code),
        name_vi=draw(_text.filter(bool)),
        name_en=draw(_text),
        owner_org=draw(_text),
        proposed_level=draw(st.none() | st.integers(1, 5)),
        notes=draw(_text),
        assets={
            "hosts": draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), max_size=3)),
            "cidrs": [
                str(
                    ipaddress.ip_network(
                        (draw(st.integers(0, 2**32 - 1)), draw(st.integers(8, 32))), strict=False
                    )
                )
            ],
        },
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(systems(), max_size=5, unique_by=lambda s: s.code))
def test_csv_round_trip_keeps_every_field_the_spreadsheet_has(items: list[System]) -> None:
    again = read_csv(write_csv(items))
    assert not again.errors
    assert [s.doc() for s in again.systems] == [s.doc() for s in items]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(8, 32), st.integers(0, 2**32 - 1))
def test_an_address_matches_a_system_exactly_when_its_range_contains_it(
    net_int: int, prefix: int, ip_int: int
) -> None:
    net = ipaddress.ip_network((net_int, prefix), strict=False)
    idx = AssetIndex([System(code="S", name_vi="s", assets={"cidrs": [str(net)]})])
    ip = ipaddress.ip_address(ip_int)
    assert (idx.match({"destination": {"ip": str(ip)}}) == {"S"}) == (ip in net)


@given(st.sampled_from(ALERT_LEVELS), st.integers(0, 4))
def test_a_higher_system_level_never_lowers_the_priority(level: str, sys_level: int) -> None:
    lower, higher = priority_for(level, sys_level), priority_for(level, sys_level + 1)
    assert PRIORITIES.index(higher) <= PRIORITIES.index(lower)
