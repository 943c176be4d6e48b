"""Detection wired into ingestion: alerts in the store, their shape, ids, suppression, correlations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from canh.clock import ManualClock
from canh.config import RulesConfig
from canh.detection import hooks_for_store
from canh.ingest import Ingester
from canh.rules.alerts import AlertMaker, alert_id_for
from canh.rules.engine import Match
from canh.store.base import Store
from canh.store.scheduled import alert_id
from tests.rules.ruleutil import compile_one, sigma

FAILED = "Nov 21 10:00:{s:02d} bastion-01 sshd[1{s:03d}]: Failed password for root from 203.0.113.9 port 4{s:04d} ssh2\n"
ACCEPTED = (
    "Nov 21 10:01:00 bastion-01 sshd[2000]: Accepted password for deploy from 203.0.113.9 port 50000 ssh2\n"
)

RULE = sigma(
    "  sel:\n    event.action: ssh_login\n    event.outcome: failure\n  condition: sel",
    logsource="product: linux\n  service: sshd",
).replace(
    "status: test",
    "status: test\nname: t_ssh_fail\ntags:\n  - attack.credential-access\n  - attack.t1110.001",
)

CORR = (
    "title: Many failures\nid: 5a1d7c2e-1111-4000-8000-0000000000c9\nname: t_many\nstatus: test\n"
    "author: Canh tests\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [t_ssh_fail]\n"
    "  group-by: [source.ip]\n  timespan: 5m\n  condition:\n    gte: 5\n"
)


def _ingest(tmp_path: Path, store: Store, rules: str, lines: str, suppress: str = "10m") -> list[dict]:
    rdir = tmp_path / "rules"
    rdir.mkdir(exist_ok=True)
    (rdir / "r.yml").write_text(rules, encoding="utf-8")
    log = tmp_path / "auth.log"
    log.write_text(lines, encoding="utf-8")
    clock = ManualClock("2026-11-22T01:00:00Z")
    cfg = RulesConfig(paths=[str(rdir)], include_pack=False, suppress=suppress)
    hooks = hooks_for_store(store, clock.now, cfg)
    Ingester(store, hooks=hooks, now=clock.now, dead_letter=tmp_path / "dl.jsonl").run([log])
    store.refresh()
    return sorted(store.search("alerts", "*", limit=100), key=lambda a: a["@timestamp"])


def test_ingest_raises_alerts_with_rule_author_link_and_attack_ids(tmp_path: Path, store: Store) -> None:
    alerts = _ingest(tmp_path, store, RULE, FAILED.format(s=1), suppress="0s")
    assert len(alerts) == 1
    a = alerts[0]
    assert a["rule"]["name"] == "Test rule" and a["rule"]["author"] == "Canh tests"
    assert a["rule"]["reference"].startswith("file://") and a["rule"]["level"] == "medium"
    assert a["threat"]["technique"]["id"] == ["T1110.001"]
    assert a["source"]["ip"] == "203.0.113.9" and a["host"]["name"] == "bastion-01"
    eid = a["canh"]["event_ids"][0]
    # the same id the scheduled (query-time) path gives the same rule on the same event
    assert a["id"] == alert_id(a["rule"]["id"], eid)
    assert a["event"]["start"] == a["event"]["end"] == a["@timestamp"]


def test_reingesting_never_duplicates_alerts(tmp_path: Path, store: Store) -> None:
    lines = "".join(FAILED.format(s=s) for s in range(3))
    first = _ingest(tmp_path, store, RULE, lines, suppress="0s")
    again = _ingest(tmp_path, store, RULE, lines, suppress="0s")
    assert len(first) == 3 and [a["id"] for a in again] == [a["id"] for a in first]


def test_suppression_counts_instead_of_burying_the_queue(tmp_path: Path, store: Store) -> None:
    lines = "".join(FAILED.format(s=s) for s in range(20))
    alerts = _ingest(tmp_path, store, RULE, lines, suppress="10m")
    assert len(alerts) == 1
    assert alerts[0]["canh"]["suppressed"] == 19
    assert alerts[0]["event"]["end"] > alerts[0]["event"]["start"]
    # the suppressed matches' events are named on the alert, each once, none of them the alert's own
    stored = {e["event"]["id"] for e in store.scan("events", "*")}
    ids = alerts[0]["canh"]["suppressed_event_ids"]
    assert len(ids) == len(set(ids)) == alerts[0]["canh"]["suppressed_events"] == 19
    assert set(ids) | set(alerts[0]["canh"]["event_ids"]) == stored


def test_correlation_alert_lists_its_events_and_base_rule_stays_quiet(tmp_path: Path, store: Store) -> None:
    lines = "".join(FAILED.format(s=s) for s in range(6)) + ACCEPTED
    alerts = _ingest(tmp_path, store, RULE + "---\n" + CORR, lines, suppress="0s")
    assert [a["rule"]["name"] for a in alerts] == ["Many failures"]
    a = alerts[0]
    assert a["detection"]["mode"] == "correlation"
    assert a["canh"]["events_count"] == 5 and len(set(a["canh"]["event_ids"])) == 5
    assert a["canh"]["group"] == {"source.ip": "203.0.113.9"}
    assert a["id"] == alert_id_for(a["rule"]["id"], a["canh"]["event_ids"])
    assert a["rule"]["level"] == "high"


def test_dedup_key_is_rule_and_host_for_single_events() -> None:
    rule = compile_one(RULE)
    maker = AlertMaker(timedelta(minutes=5))
    ev1 = {"@timestamp": "2026-11-21T10:00:00Z", "event": {"id": "a"}, "host": {"name": "h1"}}
    ev2 = {"@timestamp": "2026-11-21T10:01:00Z", "event": {"id": "b"}, "host": {"name": "h2"}}
    ev3 = {"@timestamp": "2026-11-21T10:02:00Z", "event": {"id": "c"}, "host": {"name": "h1"}}
    ev4 = {"@timestamp": "2026-11-21T10:09:00Z", "event": {"id": "d"}, "host": {"name": "h1"}}
    from canh.events import parse_ts

    out, updates = maker.alerts(
        [Match(rule, e) for e in (ev1, ev2, ev3, ev4)], parse_ts("2026-11-22T00:00:00Z")
    )
    assert [a["canh"]["event_ids"][0] for a in out] == ["a", "b", "d"]  # d is past the 5 min window
    assert list(updates.values()) == [
        {
            "canh.suppressed": 1,
            "canh.suppressed_events": 1,
            "canh.suppressed_event_ids": ["c"],
            "event.end": "2026-11-21T10:02:00.000Z",
        }
    ]
    assert out[0]["canh"]["dedup_key"].endswith("host=h1")


def test_suppressed_event_ids_are_kept_up_to_a_bound_and_all_counted() -> None:
    from canh.events import parse_ts
    from canh.rules.alerts import SUPPRESSED_IDS

    rule = compile_one(RULE)
    maker = AlertMaker(timedelta(hours=1))
    events = [
        {
            "@timestamp": f"2026-11-21T10:{i // 60:02d}:{i % 60:02d}Z",
            "event": {"id": f"e{i}"},
            "host": {"name": "h1"},
        }
        for i in range(SUPPRESSED_IDS + 51)
    ]
    out, updates = maker.alerts([Match(rule, e) for e in events], parse_ts("2026-11-22T00:00:00Z"))
    assert [a["canh"]["event_ids"] for a in out] == [["e0"]]
    (fields,) = updates.values()
    assert fields["canh.suppressed"] == fields["canh.suppressed_events"] == SUPPRESSED_IDS + 50
    assert fields["canh.suppressed_event_ids"] == [f"e{i}" for i in range(1, SUPPRESSED_IDS + 1)]


LOGIN = sigma(
    "  sel:\n    event.action: ssh_login\n    event.outcome: success\n  condition: sel",
    logsource="product: linux\n  service: sshd",
).replace("status: test", "status: test\nname: t_login")
FEW_LOGINS = (
    "title: Few logins\nid: 5a1d7c2e-1111-4000-8000-0000000000d1\nname: t_few\nstatus: test\n"
    "author: Canh tests\nlevel: low\ncorrelation:\n  type: event_count\n  rules: [t_login]\n"
    "  group-by: [user.name]\n  timespan: 1h\n  condition:\n    lt: 3\n"
)


def test_a_window_closed_correlation_fires_at_the_end_of_canh_ingest(home: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from canh.cli import cli

    rdir = tmp_path / "rules"
    rdir.mkdir()
    (rdir / "few.yml").write_text(LOGIN + "---\n" + FEW_LOGINS, encoding="utf-8")
    (home / "canh.yml").write_text(f"rules:\n  paths: [{rdir}]\n  include_pack: false\n", encoding="utf-8")
    log = tmp_path / "auth.log"
    log.write_text(ACCEPTED, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli, ["--home", str(home), "--lang", "en", "ingest", str(log), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.splitlines()[-1])["alerts"] == 1  # one login, lt 3: fires when input ends
    res = runner.invoke(cli, ["--home", str(home), "alerts", "list", "--since", "3650d", "--json"])
    (alert,) = [json.loads(line) for line in res.output.splitlines()]
    assert alert["rule"]["name"] == "Few logins" and alert["canh"]["group"] == {"user.name": "deploy"}
    assert alert["user"] == {"name": "deploy"} and alert["canh"]["value"] == 1


def test_a_quiet_live_stream_closes_its_windows_on_the_runners_tick(tmp_path: Path, store: Store) -> None:
    from canh.collectors.registry import LineContext
    from canh.collectors.runner import Runner
    from canh.collectors.syslog import SyslogParser

    rdir = tmp_path / "rules"
    rdir.mkdir()
    (rdir / "few.yml").write_text(LOGIN + "---\n" + FEW_LOGINS, encoding="utf-8")
    clock = ManualClock("2026-11-21T03:01:00Z")
    cfg = RulesConfig(paths=[str(rdir)], include_pack=False, allowed_lateness="5m", suppress="0s")
    hooks = hooks_for_store(store, clock.now, cfg)
    runner = Runner(store, [], hooks=hooks)
    event = SyslogParser().parse(ACCEPTED.strip(), LineContext(source="auth.log", position=0))
    assert event is not None
    runner.emit([event], None)
    runner.tick()
    clock.advance("1h")
    runner.tick()  # 1 h idle: the window (1 h) is over but not the allowed lateness (5 min)
    store.refresh()
    assert store.count("alerts") == 0
    clock.advance("6m")
    runner.tick()
    store.refresh()
    (alert,) = store.search("alerts", "*")
    assert alert["rule"]["name"] == "Few logins" and alert["canh"]["events_count"] == 1
    clock.advance("1h")
    runner.tick()  # closed once: nothing more
    store.refresh()
    assert store.count("alerts") == 1
