"""Loading rule files: every problem named with file, line and reason; the other files still load."""

from __future__ import annotations

from pathlib import Path

from canh.rules.engine import compile_rules
from canh.rules.loader import PACK_DIR, is_rule_file, load_config_rules, load_paths
from tests.rules.ruleutil import sigma

GOOD = sigma("  sel:\n    user.name: root\n  condition: sel")


def test_bad_files_are_reported_and_good_ones_load(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken_yaml.yml").write_text("title: x\ndetection: [\n  sel: 1\n", encoding="utf-8")
    (tmp_path / "bad_condition.yml").write_text(
        GOOD.replace("condition: sel", "condition: sel and missing_sel"), encoding="utf-8"
    )
    (tmp_path / "bad_modifier.yml").write_text(
        GOOD.replace("user.name: root", "user.name|nosuchmod: root"), encoding="utf-8"
    )
    loaded = load_paths([tmp_path])
    assert loaded.files == 4
    where = {Path(p.path).name: p for p in loaded.problems}
    assert set(where) == {"broken_yaml.yml", "bad_modifier.yml"}
    assert where["broken_yaml.yml"].line == 4  # libyaml's mark: where the flow sequence breaks
    assert "nosuchmod" in where["bad_modifier.yml"].reason
    # the line of the offending key, not of `detection:`
    key_line = GOOD.splitlines().index("    user.name: root") + 1
    assert where["bad_modifier.yml"].where.endswith(f"bad_modifier.yml:{key_line}")
    assert [p.reason for p in loaded.problems].count(where["bad_modifier.yml"].reason) == 1  # once, not twice
    assert str(tmp_path) not in where["bad_modifier.yml"].reason
    # the condition is parsed when the rule is compiled: reported then, at the condition's line
    compiled, bad = compile_rules(loaded.rules)
    assert [Path(r.path or "").name for r in compiled] == ["good.yml"]
    assert len(bad) == 1 and "missing_sel" in bad[0].reason and str(tmp_path) not in bad[0].reason
    condition_line = GOOD.splitlines().index("  condition: sel") + 1
    assert bad[0].where.endswith(f"bad_condition.yml:{condition_line}")


def test_problems_in_a_multi_document_file_point_into_their_own_document(tmp_path: Path) -> None:
    second = GOOD.replace("5a1d7c2e-1111-4000-8000-000000000001", "5a1d7c2e-1111-4000-8000-000000000002")
    bad = second.replace("user.name: root", "user.name|re: '(unclosed'")
    text = "# two rules\n---\n" + GOOD + "---\n" + bad
    (tmp_path / "two.yml").write_text(text, encoding="utf-8")
    loaded = load_paths([tmp_path])
    (problem,) = loaded.problems
    assert problem.line == text.splitlines().index("    user.name|re: '(unclosed'") + 1
    (rule,) = loaded.rules
    assert rule.source is not None and rule.source.line == 3  # its document starts after the `---`


def test_tests_files_are_not_rules(tmp_path: Path) -> None:
    assert is_rule_file(Path("x.yml")) and is_rule_file(Path("x.yaml"))
    assert not is_rule_file(Path("x.tests.yml")) and not is_rule_file(Path("notes.md"))


def test_correlations_are_kept_apart_and_resolved_across_files(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text(GOOD.replace("status: test", "status: test\nname: base_rule"), "utf-8")
    (tmp_path / "corr.yml").write_text(
        "title: Many\nid: 5a1d7c2e-1111-4000-8000-0000000000c1\nstatus: test\nlevel: high\n"
        "correlation:\n  type: event_count\n  rules: [base_rule]\n  group-by: [source.ip]\n"
        "  timespan: 5m\n  condition:\n    gte: 3\n",
        "utf-8",
    )
    (tmp_path / "dangling.yml").write_text(
        "title: Dangling\nid: 5a1d7c2e-1111-4000-8000-0000000000c2\nstatus: test\n"
        "correlation:\n  type: event_count\n  rules: [missing_rule]\n  timespan: 5m\n  condition:\n    gte: 3\n",
        "utf-8",
    )
    loaded = load_paths([tmp_path])
    assert [c.title for c in loaded.correlations] == ["Many"]
    assert len(loaded.rules) == 1
    assert any("missing_rule" in p.reason and p.path.endswith("dangling.yml") for p in loaded.problems)


def test_the_pack_loads_cleanly_by_default() -> None:
    loaded = load_config_rules([], include_pack=True)
    if not PACK_DIR.is_dir():
        assert loaded.rules == []
        return
    assert loaded.problems == []
    assert loaded.rules
    assert load_config_rules([], include_pack=False).rules == []
