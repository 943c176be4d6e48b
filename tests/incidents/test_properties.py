"""Property tests for the parsers and matchers: spreadsheet round trip, asset matching, priorities."""

from __future__ import annotations

import ipaddress
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.incidents.model import ALERT_LEVELS, PRIORITIES, priority_for
from canh.incidents.register import AssetIndex, System
from canh.incidents.register_io import read_csv, write_csv
from canh.incidents.regulation import (
    HOSTING,
    INFO_CLASSES,
    PLAN_STATUSES,
    SECRET_GRADES,
    SERVICES,
    TRUST_LABEL_STATUSES,
)

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(str.strip)
_code = st.from_regex(r"HT-[A-Z]{2,5}-[0-9]{2}", fullmatch=True)


_domain = st.from_regex(r"[a-z](?:[a-z0-9-]{0,7}[a-z0-9])?\.(gov|edu)\.vn", fullmatch=True)
_day = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


def _codes(vocabulary: dict[str, tuple[str, str]]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(sorted(vocabulary)), unique=True, max_size=3)


@st.composite
def systems(draw: st.DrawFn) -> System:
    domains = draw(st.lists(_domain, unique=True, max_size=2))
    classes = draw(_codes(INFO_CLASSES))
    return System(
        info_classes=classes,
        secret_grade=draw(st.none() | st.sampled_from(sorted(SECRET_GRADES)))
        if "state_secret" in classes
        else None,
        personal_data={
            "basic": draw(st.none() | st.integers(0, 10**7)),
            "sensitive": draw(st.none() | st.integers(0, 10**6)),
        },
        national_security=draw(st.booleans()),
        hosting=draw(st.none() | st.sampled_from(sorted(HOSTING))),
        services=draw(_codes(SERVICES)),
        os=draw(st.lists(_text.filter(lambda x: bool(x) and ";" not in x and "\n" not in x), max_size=2)),
        public_ips=[
            str(ipaddress.ip_address(i)) for i in draw(st.lists(st.integers(0, 2**32 - 1), max_size=2))
        ],
        domains=domains,
        security_regulation={"number": draw(_text), "date": draw(st.none() | _day)},
        plan={"status": draw(st.sampled_from(sorted(PLAN_STATUSES))), "eta": draw(st.none() | _day)},
        last_risk_assessment=draw(st.none() | _day),
        trust_labels=[
            {
                "asset": d,
                "status": draw(st.sampled_from(sorted(TRUST_LABEL_STATUSES))),
                "expires": draw(st.none() | _day),
            }
            for d in domains
        ],
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
