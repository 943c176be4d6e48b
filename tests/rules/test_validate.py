"""`canh rules check`: pySigma's validators and Canh's, each issue at its file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from canh.cli import cli
from canh.errors import ConfigError
from canh.rules.loader import load_paths
from canh.rules.validate import default_names, validate
from tests.rules.ruleutil import sigma

RULE = sigma(
    "  sel:\n    event.action: ssh_login\n  condition: sel", logsource="product: linux\n  service: sshd"
)
OTHER = RULE.replace("title: Test rule", "title: Other rule")


def check(home: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--home", str(home), "--lang", "en", "rules", "check", *args])
    return res.exit_code, res.output


def test_two_rules_sharing_an_id_are_reported_at_both_id_lines(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(RULE, encoding="utf-8")
    (tmp_path / "b.yml").write_text(OTHER, encoding="utf-8")
    code, out = check(home, str(tmp_path))
    assert code == 1
    id_line = RULE.splitlines().index("id: 5a1d7c2e-1111-4000-8000-000000000001") + 1
    for name in ("a.yml", "b.yml"):
        assert f"{tmp_path / name}:{id_line}: [identifier_uniqueness]" in out


def test_a_rule_without_id_or_level_and_a_bad_technique_tag(home: Path, tmp_path: Path) -> None:
    text = (
        RULE.replace("id: 5a1d7c2e-1111-4000-8000-000000000001\n", "").replace("level: medium\n", "")
        + "tags:\n  - attack.credential-access\n  - attack.t99999\n"
    )
    (tmp_path / "r.yml").write_text(text, encoding="utf-8")
    code, out = check(home, str(tmp_path))
    assert code == 1
    lines = text.splitlines()
    assert "r.yml:1: [identifier_existence]" in out and "r.yml:1: [level_existence]" in out
    tag_line = lines.index("  - attack.t99999") + 1
    assert f"r.yml:{tag_line}: [attack_technique_format]" in out and "attack.t99999" in out
    assert "1 rule(s) ready" in out and "3 problem(s)" in out


def test_low_severity_issues_are_warnings(home: Path, tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        RULE.replace("event.action: ssh_login", "event.action: 'ssh**login'"), "utf-8"
    )
    code, out = check(home, str(tmp_path))
    assert code == 0 and "warning: [double_wildcard]" in out and "0 problem(s), 1 warning(s)" in out


def test_the_validator_set_is_configurable_and_checked(home: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE.replace("level: medium\n", ""), encoding="utf-8")
    assert check(home, str(rules))[0] == 1  # level_existence is in the default set
    (home / "canh.yml").write_text("rules:\n  validators: [identifier_existence]\n", encoding="utf-8")
    code, out = check(home, str(rules))
    assert code == 0 and "level_existence" not in out
    (home / "canh.yml").write_text("rules:\n  validators: [no_such_validator]\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["--home", str(home), "rules", "check", str(rules)])
    assert isinstance(res.exception, ConfigError) and "no_such_validator" in res.exception.render("en")


def test_default_set_leaves_out_network_catalogues_and_sigmahq_file_conventions() -> None:
    names = set(default_names())
    assert {
        "identifier_uniqueness",
        "identifier_existence",
        "level_existence",
        "attack_technique_format",
    } <= names
    assert not names & {
        "attacktag",
        "d3_fendtag",
        "cartag",
        "cvetag",
        "duplicate_filename",
        "filename_length",
    }


@pytest.mark.parametrize(
    "tag", ["attack.t1059", "attack.t1059.001", "attack.execution", "attack.g0016", "attack.s0002"]
)
def test_well_formed_attack_tags_pass(tmp_path: Path, tag: str) -> None:
    (tmp_path / "r.yml").write_text(RULE + f"tags: [{tag}]\n", encoding="utf-8")
    assert [
        i for i in validate(load_paths([tmp_path]).rules) if i.validator == "attack_technique_format"
    ] == []


def test_json_rows_carry_kind_and_severity(home: Path, tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(RULE.replace("level: medium\n", ""), encoding="utf-8")
    code, out = check(home, "--json", str(tmp_path))
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and row["kind"] == "validator" and row["validator"] == "level_existence"
    assert row["severity"] == "medium" and row["error"] is True
