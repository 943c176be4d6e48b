"""Sigma semantics of the compiled matcher: every value modifier, wildcards, case, conditions."""

from __future__ import annotations

import base64

import pytest

from tests.rules.ruleutil import auth, compile_one, matches, sigma


def det(field_spec: str, value: str) -> str:
    return sigma(f"  sel:\n    {field_spec}: {value}\n  condition: sel")


@pytest.mark.parametrize(
    ("spec", "value", "event_value", "expected"),
    [
        ("message", "'Accepted password'", "accepted PASSWORD", True),  # equality ignores case
        ("message", "'Accepted'", "Accepted password", False),  # equality is whole-value
        ("message|contains", "'password for'", "Failed password for root", True),
        ("message|startswith", "'failed'", "Failed password", True),
        ("message|startswith", "'password'", "Failed password", False),
        ("message|endswith", "'ssh2'", "from 1.2.3.4 port 22 ssh2", True),
        ("message", "'Fail*for ?oot'", "Failed password for root", True),
        ("message", "'Fail*for ?oot'", "Failed password for rooot", False),
        ("message", "'100\\*'", "100*", True),  # an escaped star is a literal star
        ("message", "'100\\*'", "1000", False),
        ("message|cased", "'Root'", "root", False),
        ("message|cased", "'Root'", "Root", True),
        ("message|contains|cased", "'Root'", "user Root", True),
        ("message|re", "'^Failed .* for (root|admin)$'", "Failed password for admin", True),
        ("message|re", "'^failed'", "Failed password", False),  # regexes are case-sensitive
        ("message|re|i", "'^failed'", "Failed password", True),
        ("message|re|m", "'^root$'", "user\nroot\nend", True),
        ("message|re|s", "'a.b'", "a\nb", True),
        ("message|re", "'a.b'", "a\nb", False),
        ("source.ip|cidr", "'10.0.0.0/8'", "10.20.30.40", True),
        ("source.ip|cidr", "'10.0.0.0/8'", "11.0.0.1", False),
        ("source.ip|cidr", "'2001:db8::/32'", "2001:db8:1::5", True),
        ("source.ip|cidr", "'2001:db8::/32'", "2001:db9::5", False),
        ("source.ip|cidr", "'10.0.0.0/8'", "2001:db8::1", False),
        ("source.port|lt", "1024", 22, True),
        ("source.port|lte", "22", "22", True),
        ("source.port|gt", "1024", 22, False),
        ("source.port|gte", "22", 22, True),
    ],
)
def test_value_modifiers(spec: str, value: str, event_value: object, expected: bool) -> None:
    field = spec.split("|")[0]
    assert matches(det(spec, value), auth(**{field.replace(".", "__"): event_value})) is expected


def test_base64_modifiers() -> None:
    text = "powershell -enc"
    encoded = base64.b64encode(text.encode()).decode()
    assert matches(det("message|base64", f"'{text}'"), auth(message=encoded))
    for prefix in ("", "x", "xy"):  # base64offset: the text at any of the three alignments
        blob = base64.b64encode((prefix + "Invoke-Mimikatz tail").encode()).decode()
        assert matches(det("message|base64offset|contains", "'Invoke-Mimikatz'"), auth(message=blob))
    assert not matches(det("message|base64offset|contains", "'Invoke-Mimikatz'"), auth(message="SW52b2tl"))


def test_utf16_and_wide() -> None:
    wide = base64.b64encode("whoami".encode("utf-16-le")).decode()
    assert matches(det("message|wide|base64offset|contains", "'whoami'"), auth(message=wide))
    big = base64.b64encode("whoami".encode("utf-16-be")).decode()
    assert matches(det("message|utf16be|base64offset|contains", "'whoami'"), auth(message=big))
    assert not matches(det("message|wide|base64offset|contains", "'whoami'"), auth(message=big))


def test_windash_matches_every_dash_form() -> None:
    rule = det("process.command_line|windash|contains", "' -enc '")
    for dash in ("-", "/", "\u2013", "\u2014", "\u2015"):
        assert matches(rule, auth(process__command_line=f"powershell {dash}enc AAAA"))
    assert not matches(rule, auth(process__command_line="powershell +enc AAAA"))


def test_all_modifier_needs_every_value() -> None:
    rule = det("message|contains|all", "['Failed', 'root']")
    assert matches(rule, auth(message="Failed password for root"))
    assert not matches(rule, auth(message="Failed password for admin"))


def test_list_values_are_or() -> None:
    rule = det("user.name", "[root, admin]")
    assert matches(rule, auth(user__name="ADMIN"))
    assert not matches(rule, auth(user__name="deploy"))


def test_exists_and_null() -> None:
    assert matches(det("user.name|exists", "true"), auth(user__name="x"))
    assert not matches(det("user.name|exists", "true"), auth())
    assert matches(det("user.name|exists", "false"), auth())
    assert matches(det("user.name", "null"), auth())
    assert matches(det("user.name", "null"), auth(user__name=""))
    assert not matches(det("user.name", "null"), auth(user__name="root"))


def test_fieldref() -> None:
    rule = det("user.name|fieldref", "user.target.name")
    assert matches(rule, auth(user__name="Root", user__target__name="root"))
    assert not matches(rule, auth(user__name="root", user__target__name="deploy"))
    assert not matches(rule, auth(user__name="root"))


def test_expand_with_placeholders_from_config() -> None:
    rule = det("source.ip|expand", "'%admin_hosts%'")
    assert matches(rule, auth(source__ip="10.1.1.1"), {"admin_hosts": ["10.1.1.1", "10.1.1.2"]})
    assert not matches(rule, auth(source__ip="10.9.9.9"), {"admin_hosts": ["10.1.1.1"]})


def test_unfilled_placeholder_is_unsupported_with_reason() -> None:
    from pathlib import Path

    from canh.rules.engine import compile_rules
    from canh.rules.loader import LoadedRules, parse_text

    out = LoadedRules()
    rules = parse_text(det("source.ip|expand", "'%admin_hosts%'"), Path("r.yml"), out)
    compiled, bad = compile_rules(rules)  # type: ignore[arg-type]
    assert compiled == [] and "admin_hosts" in bad[0].reason


def test_keywords_search_every_text_value() -> None:
    rule = sigma(
        "  keywords:\n    - 'POSSIBLE BREAK-IN'\n    - 'session opened for user r*t'\n  condition: keywords"
    )
    assert matches(rule, auth(message="reverse mapping checking ... - POSSIBLE BREAK-IN ATTEMPT!"))
    assert matches(rule, auth(event__original="pam: session opened for user root by (uid=0)"))
    assert not matches(rule, auth(message="session opened for user deploy"))


def test_conditions_not_and_of_selectors() -> None:
    rule = sigma(
        "  sel_a:\n    message|contains: Failed\n"
        "  sel_b:\n    message|contains: Invalid\n"
        "  filter:\n    source.ip|cidr: 10.0.0.0/8\n"
        "  condition: 1 of sel_* and not filter"
    )
    assert matches(rule, auth(message="Invalid user x", source__ip="1.2.3.4"))
    assert not matches(rule, auth(message="Invalid user x", source__ip="10.0.0.4"))
    assert not matches(rule, auth(message="Accepted", source__ip="1.2.3.4"))
    both = sigma(
        "  sel_a:\n    message|contains: Failed\n  sel_b:\n    user.name: root\n  condition: all of them"
    )
    assert matches(both, auth(message="Failed password", user__name="root"))
    assert not matches(both, auth(message="Failed password", user__name="bob"))
    paren = sigma(
        "  a:\n    user.name: root\n  b:\n    user.name: admin\n  c:\n    event.outcome: failure\n"
        "  condition: (a or b) and not c"
    )
    assert matches(paren, auth(user__name="admin", event__outcome="success"))
    assert not matches(paren, auth(user__name="admin", event__outcome="failure"))


def test_list_valued_fields_match_any_element() -> None:
    rule = det("event.category", "authentication")
    assert matches(rule, auth(event__category=["session", "authentication"]))


def test_logsource_routing_keeps_rules_off_other_sources() -> None:
    rule = sigma("  sel:\n    message|contains: Failed\n  condition: sel", logsource="category: webserver")
    assert not matches(rule, auth(message="Failed password"))
    web = {"event.dataset": "nginx.access", "event.module": "nginx", "message": "Failed"}
    assert matches(rule, web)


def test_webserver_taxonomy_maps_to_ecs() -> None:
    rule = sigma(
        "  sel:\n    cs-method: POST\n    c-uri|contains: '/uploads/'\n    sc-status: 200\n  condition: sel",
        logsource="category: webserver",
    )
    event = {
        "event": {"dataset": "apache.access", "module": "apache"},
        "http": {"request": {"method": "POST"}, "response": {"status_code": 200}},
        "url": {"original": "/uploads/x.php"},
    }
    assert matches(rule, event)
    event["http"]["response"]["status_code"] = 404  # type: ignore[index]
    assert not matches(rule, event)


def test_windows_fields_resolve_to_event_data_and_system() -> None:
    rule = sigma(
        "  sel:\n    EventID: 4625\n    TargetUserName|endswith: '$'\n  condition: sel",
        logsource="product: windows\n  service: security",
    )
    event = {
        "event": {"code": "4625", "dataset": "windows.security", "module": "windows"},
        "winlog": {"channel": "Security", "event_id": 4625, "event_data": {"TargetUserName": "DC01$"}},
    }
    assert matches(rule, event)
    event["event"]["code"] = "4624"  # type: ignore[index]
    assert not matches(rule, event)


def test_sysmon_category_routing_by_event_id() -> None:
    rule = sigma(
        "  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel",
        logsource="product: windows\n  category: process_creation",
    )
    ev = {
        "event": {"code": "1", "dataset": "windows.sysmon_operational", "module": "sysmon"},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 1,
            "event_data": {"Image": "C:\\Windows\\System32\\WHOAMI.EXE"},
        },
    }
    assert matches(rule, ev)
    ev["winlog"]["event_id"] = 11  # type: ignore[index]  # a file event is not a process creation
    ev["event"]["code"] = "11"  # type: ignore[index]
    assert not matches(rule, ev)


def test_rule_metadata_kept_for_alerts() -> None:
    rule = compile_one(
        det("user.name", "root").replace("status: test", "status: test\ntags:\n  - attack.t1110.001")
    )
    assert rule.author == "Canh tests" and rule.techniques == ["T1110.001"] and rule.level == "medium"
