"""Converted rules carry the log-source condition the engine routes by, in every backend's syntax.

The field mapping and the condition are one query pipeline for any backend (rules.pipelines.
query_pipeline); the Lucene-only steps (whole-value regexes, escaped non-ASCII spaces) run for
Lucene alone, so a SQL or EQL query is never rewritten as Lucene.
"""

from __future__ import annotations

import sqlite3
import uuid
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings

from canh.query import matcher
from canh.rules.convert import convert
from canh.rules.engine import Engine, compile_rules
from canh.rules.loader import load_config_rules
from canh.rules.pipelines import canh_pipeline, logsource_query, query_pipeline
from tests.store.test_rule_queries import _CATEGORIES, _PRODUCTS, _SERVICES, _events, _maybe

PROBE = "canh.probe"  # dotted: no field mapping touches it


def _rule_yaml(product: str | None, category: str | None, service: str | None, detection: str) -> str:
    ls = "".join(f"\n  {k}: {v}" for k, v in (("product", product), ("category", category),
                                                ("service", service)) if v)  # fmt: skip
    return f"title: probe\nlogsource:{ls or ' {}'}\ndetection:\n{detection}\n  condition: sel\n"


@cache
def _probe_queries(product: str | None, category: str | None, service: str | None) -> dict[str, str]:
    """The log-source condition as each backend writes it: a rule of this log source whose own
    detection is one probe field, converted, and the probe's part cut off."""
    from sigma.collection import SigmaCollection

    text = _rule_yaml(product, category, service, f"  sel:\n    {PROBE}: probe_value")
    out = {}
    for target in ("lucene", "eql", "esql"):
        (res,) = convert(SigmaCollection.from_yaml(text).rules, target)
        out[target] = res.queries[0]
    return out


def _condition(query: str, target: str) -> str:
    """What a converted query puts before the rule's own detection."""
    if target == "esql":
        query = query.split("| where ", 1)[1]
    elif target == "eql":
        query = query.removeprefix("any where ")
    return query[: query.index(PROBE)]


@settings(max_examples=300, deadline=None)
@given(ev=_events(), product=_maybe(_PRODUCTS), category=_maybe(_CATEGORIES), service=_maybe(_SERVICES))
def test_the_lucene_backends_condition_selects_what_the_engine_routes(
    ev: dict[str, Any], product: str | None, category: str | None, service: str | None
) -> None:
    # Written by pySigma's Lucene backend from the Sigma detection, not by logsource_query: it must
    # mean the same (the routing test in tests/store/test_rule_queries.py holds logsource_query to it).
    expected = logsource_query(product, category, service)
    if expected is None:  # a rule must name a log source
        assert product is category is service is None
        return
    cond = _condition(_probe_queries(product, category, service)["lucene"], "lucene").removesuffix(" AND ")
    assert matcher(cond)(ev) is matcher(expected)(ev), (cond, expected)


def test_every_pack_rule_converts_with_its_logsource_condition_in_eql_and_esql() -> None:
    rules = load_config_rules([], True).rules
    checked = 0
    for target in ("eql", "esql"):
        for rule, res in zip(rules, convert(rules, target), strict=True):
            ls = rule.logsource
            if not (ls.product or ls.category or ls.service) or not res.queries:
                continue
            cond = _condition(_probe_queries(ls.product, ls.category, ls.service)[target], target)
            assert cond and all(cond in q for q in res.queries), (rule.title, target, res.queries)
            checked += 1
    assert checked >= 2 * 40  # the pack's base rules, in both languages


def test_the_engine_pipeline_has_no_query_steps_and_only_lucene_gets_lucene_steps() -> None:
    assert not canh_pipeline().postprocessing_items
    assert "canh_logsource_condition" not in {i.identifier for i in canh_pipeline().items}
    for target in ("eql", "esql", "sqlite"):
        pipeline = query_pipeline(target)
        assert not pipeline.postprocessing_items, target
        assert pipeline.items[-1].identifier == "canh_logsource_condition"
    assert [p.identifier for p in query_pipeline("lucene").postprocessing_items] == ["canh_lucene_query"]


def _auth(eid: str, dataset: str, program: str, **extra: Any) -> dict[str, Any]:
    return {
        "@timestamp": "2026-11-20T08:00:00.000Z",
        "event": {"id": eid, "dataset": dataset, "module": dataset.split(".")[0], "action": "ssh_login",
                  "outcome": "failure"},
        "process": {"name": program},
        "source": {"ip": "203.0.113.7"},
        **extra,
    }  # fmt: skip


# An sshd failure of auth.log (the rule's log source), and the same fields on events of other
# sources the rule must not see: a sudo line of auth.log, a web access line, a Windows record.
EVENTS = [
    _auth("ev-sshd", "system.auth", "sshd"),
    _auth("ev-sshd-session", "system.auth", "sshd-session"),
    _auth("ev-sudo", "system.auth", "sudo"),
    _auth("ev-web", "apache.access", "sshd"),
    _auth("ev-win", "windows.security", "sshd", winlog={"channel": "Security", "event_id": 4625}),
]
RULE = "SSH failed password"


def _engine_ids() -> set[str]:
    rules = [r for r in load_config_rules([], True).rules if r.title == RULE]
    compiled, bad = compile_rules(rules)
    assert not bad
    engine = Engine(compiled)
    return {ev["event"]["id"] for ev in EVENTS if engine.match_rules(ev)[1]}


def _converted(target: str) -> str:
    rules = [r for r in load_config_rules([], True).rules if r.title == RULE]
    (res,) = convert(rules, target)
    (query,) = res.queries
    return query


def test_the_sqlite_conversion_carries_the_condition_and_selects_the_engines_events() -> None:
    # A non-Lucene backend through the same pipeline: valid SQL (no Lucene in it), the condition in
    # its WHERE, and over a table of every event it finds what the engine routes and matches.
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    from canh.rules.compile import flatten

    rules = [r for r in load_config_rules([], True).rules if r.title == RULE]
    rules[0]._output = True  # it feeds a correlation: pySigma would write nothing for it
    (sql,) = sqliteBackend(query_pipeline("sqlite")).convert(SigmaCollection(rules))
    assert "`event.dataset`='system.auth'" in sql and "`process.name`" in sql
    rows = [flatten(ev) for ev in EVENTS]
    cols = sorted({k for r in rows for k in r} | {"suricata.eve.event_type", "winlog.channel",
                                                  "winlog.event_id"})  # fmt: skip
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE logs (" + ", ".join(f'"{c}" TEXT' for c in cols) + ")")
    db.executemany(f"INSERT INTO logs VALUES ({','.join('?' * len(cols))})",
                   [[None if r.get(c) is None else str(r[c]) for c in cols] for r in rows])  # fmt: skip
    found = {rows[rowid - 1]["event.id"] for (rowid,) in db.execute(sql.replace("SELECT *", "SELECT rowid"))}
    assert found == _engine_ids() == {"ev-sshd", "ev-sshd-session"}


# -- on the Elasticsearch node --------------------------------------------------------------------


def _unsupported(client: Any, index: str, path: str, body: dict[str, Any]) -> str | None:
    """Why the node cannot run this API (None when it answers the probe)."""
    from elasticsearch import ApiError, TransportError

    try:
        client.perform_request("POST", path, headers={"content-type": "application/json",
                                                      "accept": "application/json"}, body=body)  # fmt: skip
    except ApiError as exc:
        text = str(exc.body)[:160]
        if exc.meta.status in (400, 404, 405) and ("no handler" in text or "Incorrect HTTP method" in text):
            return f"POST {path} answers HTTP {exc.meta.status}: {text}"
        raise
    except TransportError as exc:  # pragma: no cover - the node went away
        return str(exc)[:160]
    return None


@pytest.fixture(scope="module")
def es_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.store.es_node import es_store_for_test

    store = es_store_for_test(tmp_path_factory.mktemp("eql"), prefix="canhtest-" + uuid.uuid4().hex[:12])
    try:
        assert store.write("events", EVENTS).written == len(EVENTS)
        store.refresh()
        yield store
    finally:
        store.close()


_WHY_NOT = (
    "the local node cannot run {lang} ({why}); the integ-test distribution scripts/elasticsearch.sh "
    "starts is the core server only, and {lang} is an x-pack plugin: point CANH_ES_URL at a default "
    "distribution to run this"
)


def test_the_eql_query_finds_exactly_the_rules_log_source_on_the_node(es_index: Any) -> None:
    index = f"{es_index.prefix}-events"
    path = f"/{index}/_eql/search"
    why = _unsupported(es_index.client, index, path, {"query": "any where true", "size": 1})
    if why:
        pytest.skip(_WHY_NOT.format(lang="EQL search", why=why))
    resp = es_index.client.perform_request(
        "POST", path, headers={"content-type": "application/json", "accept": "application/json"},
        body={"query": _converted("eql"), "size": 100},
    )  # fmt: skip
    got = {hit["_source"]["event"]["id"] for hit in resp["hits"]["events"]}
    assert got == _engine_ids() == {"ev-sshd", "ev-sshd-session"}


def test_the_esql_query_finds_exactly_the_rules_log_source_on_the_node(es_index: Any) -> None:
    index = f"{es_index.prefix}-events"
    why = _unsupported(es_index.client, index, "/_query", {"query": f"from {index} | limit 1"})
    if why:
        pytest.skip(_WHY_NOT.format(lang="ES|QL", why=why))
    query = _converted("esql")
    assert query.startswith("from * ")
    resp = es_index.client.perform_request(
        "POST", "/_query", headers={"content-type": "application/json", "accept": "application/json"},
        body={"query": f"from {index} " + query.removeprefix("from * ") + " | keep event.id"},
    )  # fmt: skip
    got = {row[0] for row in resp["values"]}
    assert got == _engine_ids() == {"ev-sshd", "ev-sshd-session"}


def test_every_windows_channel_rule_finds_its_channels_events_by_lucene_query() -> None:
    # pySigma escapes - and / inside a quoted value, which a Lucene reader takes as the characters
    # but Canh's query parser took as backslashes ("Microsoft-Windows-Windows Defender/Operational").
    from sigma.collection import SigmaCollection

    from canh.rules.logsource import WINDOWS_CHANNELS
    from canh.rules.pipelines import _channel

    assert any(" " in _channel(ch) and "-" in _channel(ch) for ch in WINDOWS_CHANNELS)
    for channel, service in WINDOWS_CHANNELS.items():
        text = _rule_yaml("windows", None, service, "  sel:\n    EventID: 7")
        (res,) = convert(SigmaCollection.from_yaml(text).rules, "lucene")
        ev = {"event": {"dataset": "windows.x", "module": "windows", "code": "7"},
              "winlog": {"channel": _channel(channel), "event_id": 7}}  # fmt: skip
        assert matcher(res.queries[0])(ev), (channel, res.queries[0])
        ev["event"]["code"] = "8"
        assert not matcher(res.queries[0])(ev)


def test_null_is_a_missing_or_empty_field_in_every_query_as_in_the_engine() -> None:
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    text = _rule_yaml("windows", "create_remote_thread", None, "  sel:\n    StartModule: null")
    base = {"event": {"dataset": "windows.sysmon_operational"},
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 8}}  # fmt: skip
    events = {
        "missing": {**base, "winlog": {**base["winlog"], "event_data": {}}},
        "empty": {**base, "winlog": {**base["winlog"], "event_data": {"StartModule": ""}}},
        "set": {**base, "winlog": {**base["winlog"], "event_data": {"StartModule": "C:\\x.dll"}}},
    }
    compiled, bad = compile_rules(SigmaCollection.from_yaml(text).rules)
    assert not bad
    engine = Engine(compiled)
    want = {k for k, ev in events.items() if engine.match_rules(ev)[1]}
    assert want == {"missing", "empty"}
    (res,) = convert(SigmaCollection.from_yaml(text).rules, "lucene")
    assert {k for k, ev in events.items() if matcher(res.queries[0])(ev)} == want
    (sql,) = sqliteBackend(query_pipeline("sqlite")).convert(SigmaCollection.from_yaml(text))
    assert "`winlog.event_data.StartModule` IS NULL OR `winlog.event_data.StartModule`=''" in sql


def test_cidr_on_a_field_that_is_not_an_address_tests_membership_as_the_engine() -> None:
    from sigma.collection import SigmaCollection

    text = _rule_yaml("windows", None, "security",
                      "  sel:\n    IpAddress|cidr: ['10.0.0.0/8', 'fe80::/10', '::1/128']")  # fmt: skip
    compiled, bad = compile_rules(SigmaCollection.from_yaml(text).rules)
    assert not bad
    engine = Engine(compiled)
    (res,) = convert(SigmaCollection.from_yaml(text).rules, "lucene")
    for ip in ("10.1.2.3", "FE80::1", "fe80::abcd", "::1", "8.8.8.8", "110.1.2.3", "-", "fec0::1"):
        ev = {"event": {"dataset": "windows.security", "module": "windows", "code": "4624"},
              "winlog": {"channel": "Security", "event_id": 4624, "event_data": {"IpAddress": ip}}}  # fmt: skip
        assert matcher(res.queries[0])(ev) is bool(engine.match_rules(ev)[1]), (ip, res.queries[0])
