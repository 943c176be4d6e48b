"""The rule pack: every rule parses with pySigma, ids are unique, and every rule's test cases pass."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.validators.core import validators as core_validators

from canh.rules.engine import Engine, EngineRule, compile_rules
from canh.rules.loader import PACK_DIR, LoadedRules, load_paths
from canh.rules.ruletests import run_file

RULE_FILES = sorted(p for p in PACK_DIR.rglob("*.yml") if not p.name.endswith(".tests.yml"))
FOLDERS = {"linux", "web", "network", "windows"}
# Validators that judge SigmaHQ's own conventions (file names, their reference list) rather than rule
# correctness; the pack follows its own naming and always cites ATT&CK.
SKIPPED_VALIDATORS = {
    "identifier_existence",
    "identifier_uniqueness",
    "filename_length",
    "duplicate_filename",
    # These load tag catalogues (MITRE ATT&CK, D3FEND, CAR) from the network; tag_format checks the form offline.
    "attacktag",
    "d3_fendtag",
    "cartag",
    "cvetag",
}


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def cases_of(path: Path) -> dict[str, list[Any]]:
    tests = path.with_name(path.stem + ".tests.yml")
    assert tests.is_file(), f"{path.relative_to(PACK_DIR)} has no sibling .tests.yml"
    data = yaml.safe_load(tests.read_text(encoding="utf-8")) or {}
    return {"match": data.get("match") or [], "no_match": data.get("no_match") or []}


@functools.cache
def pack() -> tuple[LoadedRules, list[EngineRule]]:
    """The whole pack, loaded and compiled once, as Canh runs it."""
    loaded = load_paths([PACK_DIR])
    compiled, bad = compile_rules(loaded.rules)
    assert not loaded.problems, loaded.problems
    # Only the threat-intel rules wait, for a list the deployment configures: inactive, not broken.
    assert [(Path(str(u.path)).name, u.placeholder, u.waits_for) for u in bad] == [
        (THREAT_INTEL.name, True, "threat_intel_ips")
    ] * 3, bad
    return loaded, compiled


THREAT_INTEL = PACK_DIR / "network" / "threat_intel_address.yml"


def test_pack_has_the_expected_folders_and_rules() -> None:
    assert {p.name for p in PACK_DIR.iterdir() if p.is_dir()} >= FOLDERS
    assert len(RULE_FILES) >= 30


def test_every_rule_parses_with_pysigma_and_ids_and_names_are_unique() -> None:
    ids: dict[str, Path] = {}
    names: dict[str, Path] = {}
    for path in RULE_FILES:
        coll = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
        errors = [e for r in coll for e in r.errors]
        assert not errors, f"{path}: {errors}"
        for rule in coll:
            assert isinstance(rule, SigmaRule | SigmaCorrelationRule)
            rid = str(rule.id)
            assert rule.id is not None, f"{path}: {rule.title} has no id"
            assert rid not in ids, f"{path}: id {rid} also in {ids.get(rid)}"
            ids[rid] = path
            if rule.name:
                assert rule.name not in names, f"{path}: name {rule.name} also in {names.get(rule.name)}"
                names[rule.name] = path


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(PACK_DIR)))
def test_rule_metadata_and_validators(path: Path) -> None:
    for doc in docs(path):
        where = f"{path.relative_to(PACK_DIR)}: {doc.get('title')}"
        assert doc.get("author") == "Canh project", where
        assert doc.get("level") in {"informational", "low", "medium", "high", "critical"}, where
        assert doc.get("references"), where
        assert doc.get("falsepositives"), where
        tags = doc.get("tags") or []
        assert any(t.startswith("attack.t") for t in tags), f"{where}: no ATT&CK technique tag"
    coll = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
    issues = []
    for name, cls in core_validators.items():
        if name in SKIPPED_VALIDATORS:
            continue
        try:
            validator = cls()
        except TypeError:
            continue
        for rule in coll:
            assert isinstance(rule, SigmaRule | SigmaCorrelationRule)
            issues.extend(validator.validate(rule))
        issues.extend(validator.finalize())
    assert not issues, f"{path}: " + "; ".join(f"{type(i).__name__} {i.rules[0].title}" for i in issues)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(PACK_DIR)))
def test_every_rule_has_true_positive_and_true_negative_cases(path: Path) -> None:
    cases = cases_of(path)
    assert cases["match"], f"{path}: no match case"
    assert cases["no_match"], f"{path}: no no_match case"


def test_the_whole_pack_loads_compiles_and_its_correlations_resolve() -> None:
    loaded, compiled = pack()
    engine = Engine(compiled, loaded.correlations)
    assert not engine.correlation_problems, engine.correlation_problems
    assert len(loaded.correlations) >= 12
    assert len(compiled) + len(loaded.correlations) >= len(RULE_FILES)


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(PACK_DIR)))
def test_rule_cases_pass_through_canh_rules_test(path: Path) -> None:
    """The cases run exactly as ``canh rules test`` runs them: a case matches when an alert is raised."""
    loaded, compiled = pack()
    result = run_file(path, compiled, loaded.correlations)
    assert result is not None and result.error is None, result
    kinds = {c.expect for c in result.cases}
    assert kinds == {True, False}, "needs at least one match and one no_match case"
    failing = [c for c in result.cases if not c.ok]
    assert not failing, "\n".join(
        f"{'match' if c.expect else 'no_match'} case {c.index}: " + "; ".join(c.explain[:5]) for c in failing
    )


DEMO_DIR = Path(__file__).resolve().parents[2] / "canh" / "data" / "demo"
ATTACKERS = {"185.220.101.47", "45.95.147.236"}
DEMO_ATTACKS = {
    "SSH brute force from one source",
    "SSH login succeeded after a brute force from the same source",
    "SSH password spray or user enumeration from one source",
    "Root shell or script started through sudo",
    "Local user account created",
    "User added to an administrators group (sudo, wheel, admin)",
    "Port scan of one host (many destination ports from one source)",
    "Web vulnerability scanner user agent",
    "SQL injection attempt in a web request",
    "Path traversal or local file inclusion attempt",
    "Cross-site scripting attempt in a web request",
    "Script run from an upload folder (web shell)",
    "Web shell uploaded and used from the same address",
    "Operating system command passed to a web page",
}


@pytest.mark.slow
def test_the_demo_days_attacks_raise_alerts_and_its_normal_traffic_does_not(canh: Any) -> None:
    canh("ingest", *sorted(str(p) for p in DEMO_DIR.glob("*.log")), check=True, timeout=600)
    alerts = canh.json("alerts", "list", "--since", "3650d", "--limit", "10000")
    titles = {a["rule"]["name"] for a in alerts}
    assert titles >= DEMO_ATTACKS, DEMO_ATTACKS - titles
    for a in alerts:
        ip = (a.get("source") or {}).get("ip")
        assert ip is None or ip in ATTACKERS, f"alert on normal traffic: {a['rule']['name']} from {ip}"


def test_threat_intel_events_each_raise_exactly_one_rule_of_the_file() -> None:
    """With a list configured, every match case of the threat-intel file is seen by one of its rules
    (firewall/flow, web, other Suricata records), never by two: one connection, one alert."""
    from canh.rules.ruletests import case_events, case_placeholders, load_cases

    values = case_placeholders(THREAT_INTEL)
    assert values == {"threat_intel_ips": ["45.95.147.236", "185.220.101.0/24", "2001:db8:bad::/48"]}
    compiled, bad = compile_rules(load_paths([THREAT_INTEL]).rules, values)
    assert not bad and len(compiled) == 3
    cases = load_cases(THREAT_INTEL)
    assert cases is not None
    seen: dict[str, set[str]] = {}
    for i, case in enumerate(cases["match"]):
        (event,) = case_events(case, i)
        hits = [m.rule.title for m in Engine(compiled).match(event)]
        assert len(hits) == 1, (event["event"]["dataset"], hits)
        seen.setdefault(hits[0], set()).add(event["event"]["dataset"])
    assert seen == {
        "Connection with an address on the threat-intelligence list (firewall, flows)": {
            "fortinet.firewall", "iptables.log", "network.flow", "zeek.conn", "suricata.eve",
        },
        "Web request from or to an address on the threat-intelligence list": {
            "nginx.access", "apache.access", "network.http",
        },
        "Suricata record with an address on the threat-intelligence list": {"suricata.eve"},
    }, seen  # fmt: skip
    for i, case in enumerate(cases["no_match"]):
        (event,) = case_events(case, i)
        assert not Engine(compiled).match(event), event
