"""`canh rules` through click's runner on a temporary home."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from canh.cli import cli
from tests.rules.ruleutil import sigma

RULE = sigma(
    "  sel:\n    event.action: ssh_login\n    event.outcome: failure\n  filter:\n    source.ip|cidr: 10.0.0.0/8\n"
    "  condition: sel and not filter",
    logsource="product: linux\n  service: sshd",
)
EVENT = {"event.dataset": "system.auth", "process.name": "sshd", "event.action": "ssh_login"}


def run(home: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--home", str(home), "--lang", "en", *args])
    return res.exit_code, res.output


def test_check_ok_and_errors(home: Path, tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "r.yml").write_text(RULE, encoding="utf-8")
    code, out = run(home, "rules", "check", str(good))
    assert code == 0 and "1 rule(s) ready" in out and "0 problem(s)" in out
    (good / "bad.yml").write_text(RULE.replace("source.ip|cidr", "source.ip|bogus"), encoding="utf-8")
    code, out = run(home, "rules", "check", str(good))
    assert code == 1
    assert f"{good / 'bad.yml'}:" in out and "bogus" in out and "1 rule(s) ready" in out


def test_test_command_passes_and_explains_a_failing_case(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "r.yml").write_text(RULE, encoding="utf-8")
    cases = {
        "match": [{**EVENT, "event.outcome": "failure", "source.ip": "203.0.113.5"}],
        "no_match": [{**EVENT, "event.outcome": "failure", "source.ip": "10.1.2.3"}],
    }
    (d / "r.tests.yml").write_text(json.dumps(cases), encoding="utf-8")
    code, out = run(home, "rules", "test", str(d))
    assert code == 0 and "PASS" in out and "2 case(s)" in out
    cases["no_match"].append({**EVENT, "event.outcome": "failure", "source.ip": "198.51.100.7"})
    (d / "r.tests.yml").write_text(json.dumps(cases), encoding="utf-8")
    code, out = run(home, "rules", "test", str(d))
    assert code == 1
    assert "no_match case 2 raised an alert" in out
    assert "sel=yes" in out and "filter=no" in out  # which selection matched and which did not


def test_tests_attribute_in_the_rule(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    attr = "tests:\n  match:\n    - {event.dataset: system.auth, process.name: sshd, event.action: ssh_login, event.outcome: failure}\n  no_match:\n    - {event.dataset: system.auth, process.name: sshd, event.action: ssh_login, event.outcome: success}\n"
    (d / "r.yml").write_text(RULE + attr, encoding="utf-8")
    code, out = run(home, "rules", "test", str(d))
    assert code == 0 and "PASS" in out


def test_list_json(home: Path, tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(
        RULE.replace("status: test", "status: test\ntags: [attack.t1110]"), "utf-8"
    )
    code, out = run(home, "rules", "list", "--json", str(tmp_path))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["title"] == "Test rule" and rows[0]["techniques"] == ["T1110"]
    assert rows[0]["logsource"] == {"product": "linux", "service": "sshd"}


def test_convert_uses_the_same_field_mapping(home: Path, tmp_path: Path) -> None:
    web = sigma(
        "  sel:\n    cs-user-agent|contains: sqlmap\n  condition: sel", logsource="category: webserver"
    )
    (tmp_path / "w.yml").write_text(web, encoding="utf-8")
    code, out = run(home, "rules", "convert", str(tmp_path / "w.yml"), "--to", "lucene")
    # Sigma compares without case: the value is a case-insensitive whole-value expression
    assert code == 0 and "user_agent.original:/(?i).*sqlmap.*/" in out
    code, out = run(home, "rules", "convert", str(tmp_path / "w.yml"), "--to", "esql")
    assert code == 0 and "user_agent.original" in out and "from " in out.lower()
    code, out = run(home, "rules", "convert", str(tmp_path / "w.yml"), "--to", "eql")
    assert code == 0 and "user_agent.original" in out


def test_backtest_over_stored_events(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "Nov 21 10:00:01 bastion-01 sshd[11]: Failed password for root from 203.0.113.9 port 40001 ssh2\n"
        "Nov 21 10:00:02 bastion-01 sshd[12]: Failed password for root from 10.0.0.9 port 40002 ssh2\n"
        "Nov 21 10:00:03 bastion-01 sshd[13]: Accepted password for deploy from 203.0.113.9 port 40003 ssh2\n",
        encoding="utf-8",
    )
    code, _ = run(home, "ingest", str(log))
    assert code == 0
    (tmp_path / "r.yml").write_text(RULE, encoding="utf-8")
    code, out = run(home, "rules", "backtest", str(tmp_path / "r.yml"), "--since", "3650d", "--json")
    assert code == 0
    hits = [json.loads(line) for line in out.splitlines()]
    assert [h["source"]["ip"] for h in hits] == ["203.0.113.9"]
    code, out = run(home, "rules", "backtest", str(tmp_path / "r.yml"), "--since", "3650d")
    assert code == 0 and "3 stored event(s) scanned, 1 matched" in out


def test_unknown_rule_is_a_clear_error(home: Path) -> None:
    from canh.errors import RuleError

    res = CliRunner().invoke(cli, ["--home", str(home), "rules", "convert", "no-such-rule"])
    assert isinstance(res.exception, RuleError)
    assert "no-such-rule" in res.exception.render("en")


def test_convert_a_correlations_base_rule_by_title_in_every_language(home: Path) -> None:
    # A base rule that only feeds correlations is marked "no output" by pySigma: asked for, it converts.
    # Every language carries the log-source condition the engine's routing applies (sshd lines of
    # auth.log), in its own syntax, before the rule's own condition.
    expected = {
        "lucene": (
            "(event.module:linux OR ",
            "(event.dataset:system.auth AND (process.name:(sshd OR sshd\\-session)))",
            " AND (event.action:/(?i)ssh_login/ AND event.outcome:/(?i)failure/)",
        ),
        "eql": (
            'any where (event.module:"linux" or ',
            '(event.dataset:"system.auth" and (process.name like~ ("sshd", "sshd-session")))',
            ' and (event.action:"ssh_login" and event.outcome:"failure")',
        ),
        "esql": (
            'from * metadata _id, _index, _version | where (event.module=="linux" or ',
            'event.dataset=="system.auth" and (process.name in ("sshd", "sshd-session"))',
            ' and event.action=="ssh_login" and event.outcome=="failure"',
        ),
    }
    for target, (start, source, end) in expected.items():
        code, out = run(home, "rules", "convert", "SSH failed password", "--to", target)
        assert code == 0, out
        query = out.strip()
        assert query.startswith(start) and source in query and query.endswith(end), (target, query)


def test_convert_a_file_gives_every_query_and_one_line_per_correlation_without_one(home: Path) -> None:
    from canh.rules.loader import PACK_DIR

    path = str(PACK_DIR / "linux" / "ssh_brute_force.yml")
    code, out = run(home, "rules", "convert", path, "--to", "esql")
    assert code == 0
    assert out.count("from * metadata") == 3  # two base rules and the event_count correlation
    assert "stats event_count=count() by timebucket, source.ip\n| where event_count >= 10" in out
    (why,) = [line for line in out.splitlines() if "no esql query" in line]
    assert (
        why.startswith("# SSH login succeeded after a brute force")
        and "correlates another correlation" in why
    )
    code, out = run(home, "rules", "convert", path, "--to", "lucene")
    assert code == 0 and "event.action:/(?i)ssh_login/ AND event.outcome:/(?i)success/" in out
    assert sum("no lucene query" in line for line in out.splitlines()) == 2
    code, out = run(home, "rules", "convert", path, "--to", "eql")
    assert "sequence by source.ip with maxspan=5m" in out and "with runs=10" in out


def test_convert_addresses_a_correlation_by_id_and_says_why_when_it_cannot(home: Path) -> None:
    from canh.errors import RuleError

    code, out = run(home, "rules", "convert", "bd32a218-0561-5b1c-8e69-94b0296f8f74", "--to", "esql")
    assert code == 0 and "where event_count >= 10" in out
    # value_count: pySigma's EQL would join on the counted field (N equal values, not N distinct)
    res = CliRunner().invoke(
        cli, ["--home", str(home), "rules", "convert", "SSH password spray or user enumeration from one source",
              "--to", "eql"],
    )  # fmt: skip
    assert isinstance(res.exception, RuleError) and "event_count of one rule" in res.exception.render("en")


SSH_FAIL = "Nov 21 10:00:{s:02d} bastion-01 sshd[1{s:03d}]: Failed password for root from 203.0.113.9 port 4{s:04d} ssh2\n"


def test_backtest_a_file_runs_its_correlations_in_time_order(home: Path, tmp_path: Path) -> None:
    from canh.rules.loader import PACK_DIR

    log = tmp_path / "auth.log"
    log.write_text("".join(SSH_FAIL.format(s=s) for s in range(12)), encoding="utf-8")
    assert run(home, "ingest", str(log))[0] == 0
    path = str(PACK_DIR / "linux" / "ssh_brute_force.yml")
    code, out = run(home, "rules", "backtest", path, "--since", "3650d")
    assert code == 0
    assert "'SSH failed password': 12 event(s) matched" in out
    assert "'SSH brute force from one source': 1 correlation hit(s)" in out
    assert "'SSH login succeeded after a brute force from the same source': 0 correlation hit(s)" in out
    code, out = run(
        home, "rules", "backtest", "SSH brute force from one source", "--since", "3650d", "--json"
    )
    (hit,) = [json.loads(line) for line in out.splitlines()]
    assert hit["group"] == {"source.ip": "203.0.113.9"} and hit["events_count"] == 10


def test_backtest_closes_windows_at_the_end_of_the_period(home: Path, tmp_path: Path) -> None:
    rule = (
        RULE.replace("status: test", "status: test\nname: t_fail")
        .replace("  filter:\n    source.ip|cidr: 10.0.0.0/8\n", "")
        .replace("sel and not filter", "sel")
    )
    corr = (
        "title: Few failures\nid: 5a1d7c2e-1111-4000-8000-0000000000e1\nstatus: test\nlevel: low\n"
        "correlation:\n  type: event_count\n  rules: [t_fail]\n  group-by: [source.ip]\n  timespan: 1h\n"
        "  condition:\n    lt: 3\n"
    )
    (tmp_path / "few.yml").write_text(rule + "---\n" + corr, encoding="utf-8")
    log = tmp_path / "auth.log"
    log.write_text(SSH_FAIL.format(s=1), encoding="utf-8")
    assert run(home, "ingest", str(log))[0] == 0
    code, out = run(home, "rules", "backtest", "--since", "3650d", str(tmp_path / "few.yml"), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["value"] for r in rows if "correlation" in r] == [1]


def test_rule_test_cases_close_their_windows_at_the_end_of_the_case(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    rule = RULE.replace("status: test", "status: test\nname: t_fail").replace("sel and not filter", "sel")
    corr = (
        "title: Few failures\nid: 5a1d7c2e-1111-4000-8000-0000000000e2\nstatus: test\nlevel: low\n"
        "correlation:\n  type: event_count\n  rules: [t_fail]\n  group-by: [source.ip]\n  timespan: 1h\n"
        "  condition:\n    lt: 3\n"
    )
    (d / "few.yml").write_text(rule + "---\n" + corr, encoding="utf-8")
    one = {**EVENT, "event.outcome": "failure", "source.ip": "203.0.113.5"}
    cases = {"match": [[one]], "no_match": [[one, one, one]]}
    (d / "few.tests.yml").write_text(json.dumps(cases), encoding="utf-8")
    code, out = run(home, "rules", "test", str(d))
    assert code == 0 and "PASS" in out, out


def test_a_failing_case_shows_each_failed_item_with_the_events_value(home: Path, tmp_path: Path) -> None:
    d = tmp_path / "rules"
    d.mkdir()
    (d / "r.yml").write_text(RULE, encoding="utf-8")
    miss = {k: v for k, v in EVENT.items() if k != "event.action"}
    cases = {
        "match": [{**miss, "event.outcome": "success", "source.ip": "203.0.113.5"}],
        "no_match": [{**EVENT, "event.outcome": "failure", "source.ip": "198.51.100.7"}],
    }
    (d / "r.tests.yml").write_text(json.dumps(cases), encoding="utf-8")
    code, out = run(home, "rules", "test", str(d))
    assert code == 1
    lines = [line.strip() for line in out.splitlines()]
    assert "sel: event.action: 'ssh_login' failed: no such field in the event" in lines
    assert "sel: event.outcome: 'failure' failed: the event has 'success'" in lines
    assert "filter: source.ip|cidr: '10.0.0.0/8' failed: the event has '203.0.113.5'" in lines
    # the false alarm: what matched, and that the filter did not hold for this address
    assert "sel: event.outcome: 'failure' matched: the event has 'failure'" in lines
    assert "filter: source.ip|cidr: '10.0.0.0/8' failed: the event has '198.51.100.7'" in lines


THREAT_INTEL = "threat_intel_address.yml"


def test_the_pack_loads_quietly_with_its_threat_intel_rules_waiting_for_a_list(home: Path) -> None:
    for lang, word in (("en", "inactive: 3 rule(s) wait for values of %threat_intel_ips%"),
                       ("vi", "chưa hoạt động: 3 luật chờ giá trị của %threat_intel_ips%")):  # fmt: skip
        for command in ("check", "list"):
            res = CliRunner().invoke(cli, ["--home", str(home), "--lang", lang, "rules", command])
            assert res.exit_code == 0, res.output
            lines = [line for line in res.output.splitlines() if THREAT_INTEL in line]
            assert len(lines) == 1 and lines[0].startswith(word), res.output
            assert "rules.placeholders" in lines[0] and "rules.placeholder_files" in lines[0]
    _, out = run(home, "rules", "check")
    assert "0 problem(s), 0 warning(s)" in out
    _, out = run(home, "rules", "list", "--json")
    waiting = [r for r in map(json.loads, out.splitlines()) if r.get("waits_for")]
    assert len(waiting) == 3 and {r["waits_for"] for r in waiting} == {"threat_intel_ips"}


def test_threat_intel_rules_run_once_the_list_has_values(home: Path, tmp_path: Path) -> None:
    feed = tmp_path / "bad_ips.txt"
    feed.write_text("# national CERT warning\n45.95.147.236\n185.220.101.0/24\n", encoding="utf-8")
    (home / "canh.yml").write_text(
        f"rules:\n  placeholder_files:\n    threat_intel_ips: {feed}\n", encoding="utf-8"
    )
    code, out = run(home, "rules", "check")
    assert code == 0 and "inactive" not in out and THREAT_INTEL not in out, out
    _, listed = run(home, "rules", "list", "--json")
    assert not [r for r in map(json.loads, listed.splitlines()) if r.get("waits_for")]
    (home / "canh.yml").unlink()
    _, quiet = run(home, "rules", "check")
    ready = [int(re.search(r"(\d+) rule\(s\) ready", text).group(1)) for text in (out, quiet)]  # type: ignore[union-attr]
    assert ready[0] == ready[1] + 3
