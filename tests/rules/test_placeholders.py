"""Placeholder values from files: threat-intelligence lists of addresses and networks."""

from __future__ import annotations

from pathlib import Path

import pytest

from canh.errors import ConfigError
from canh.rules.placeholders import address_placeholders, read_file, resolve
from tests.rules.ruleutil import matches, sigma

RULE = sigma("  sel:\n    source.ip|expand: '%bad_ips%'\n  condition: sel", logsource="category: firewall")


def test_a_list_file_with_networks_matches_addresses_inside_them(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(
        "# feed of 2026-12-01\n203.0.113.0/24\n198.51.100.7  # c2\n2001:db8::/32\n\n", encoding="utf-8"
    )
    values = resolve({}, {"bad_ips": str(f)})
    assert values == {"bad_ips": ["203.0.113.0/24", "198.51.100.7", "2001:db8::/32"]}
    ev = {"event.category": "network", "event.dataset": "fortinet.firewall", "event.module": "fortinet"}
    assert matches(RULE, {**ev, "source.ip": "203.0.113.99"}, values)
    assert matches(RULE, {**ev, "source.ip": "2001:db8:1::5"}, values)
    assert matches(RULE, {**ev, "source.ip": "198.51.100.7"}, values)
    assert not matches(RULE, {**ev, "source.ip": "198.51.100.8"}, values)
    assert not matches(RULE, {**ev, "source.ip": "not an address"}, values)


def test_a_mistyped_address_is_an_error_at_its_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("203.0.113.1\n10.0.0.300\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        read_file("bad_ips", str(f))
    assert f"{f}:2" in str(err.value) and "10.0.0.300" in str(err.value)


def test_a_missing_file_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        read_file("bad_ips", str(tmp_path / "nope.txt"))
    assert "rules.placeholder_files.bad_ips" in str(err.value)


def test_lists_of_names_stay_plain_values() -> None:
    assert address_placeholders({"admins": ["root", "10.0.0.1"], "nets": ["10.0.0.0/8", "10.1.2.3"]}) == {
        "nets": ["10.0.0.0/8", "10.1.2.3/32"]
    }
