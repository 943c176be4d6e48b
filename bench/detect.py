#!/usr/bin/env python3
"""Detection speed: the full SigmaHQ rule set over the corpus events, Canh's engine against the
Zircolite method (rules converted by pysigma-backend-sqlite, SQL run over an in-memory SQLite table).

Events: every EVTX record of ../shared/corpus/evtx plus the text logs of ../shared/corpus/logs,
parsed to ECS by the real collectors (through `canh ingest` into a scratch store, then read back),
so both methods see exactly the same events. Rules: rules/ + rules-emerging-threats +
rules-threat-hunting (windows, linux, web, cloud...), converted for SQLite through Canh's query
pipeline (rules.pipelines.query_pipeline("sqlite")): the field mapping the engine uses and the rule's
log-source condition (the engine's routing, as the Lucene, EQL and ES|QL queries carry it) in each
query's WHERE. The events are split into one table per distinct log source, and a rule's SQL runs
only over the tables its log source fits: the condition makes that split redundant, and it only
spares SQLite scanning events a query cannot match (generous to the method; --sqlite-one-table runs
every query over one table of all events, Zircolite's own layout). Every table has a column for
every field of any event. What differs from the Lucene queries: their Lucene-only steps (a |re
made a whole-value expression, non-ASCII spaces escaped) are not needed, SQL's REGEXP here
searching the value as the engine does; and the tables compare without case (COLLATE NOCASE,
Sigma's meaning), where Elasticsearch's keyword fields compare with case. Counts are printed
both as distinct events and as rule matches (per-rule counts summed, which is what Zircolite calls matched events).

Single process; pin to one core with `taskset -c 0`. Figures depend on machine load.
Run: taskset -c 0 .venv/bin/python bench/detect.py [--corpus ../shared/corpus] [--repeat 3] [--no-sqlite]
     [--sqlite-one-table]
"""

from __future__ import annotations

import argparse
import gc
import re
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from canh.ingest import Ingester
from canh.rules.compile import flatten
from canh.rules.engine import Engine, compile_rules
from canh.rules.loader import load_paths
from canh.rules.logsource import EventSource, event_source, route_key
from canh.rules.pipelines import logsource_parts, query_pipeline
from canh.store.sqlite import SQLiteStore

RULE_DIRS = ("rules", "rules-emerging-threats", "rules-threat-hunting")
LOG_FILES = (
    "logs/loghub/Linux/Linux_2k.log",
    "logs/loghub/OpenSSH/OpenSSH_2k.log",
    "logs/loghub/Apache/Apache_2k.log",
    "logs/elastic-examples/apache_logs",
    "logs/evtx-attack-samples/web_attack_and_isp_webshell_localhost_access_log.txt",
    "logs/fail2ban/logs",
)


def load_events(corpus: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The corpus parsed by the real collectors (EVTX reader, syslog/sshd/web parsers), and what was
    read: records parsed against distinct events stored (byte-identical records share an event.id)."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        for label, paths in (
            ("EVTX", sorted((corpus / "evtx").rglob("*.evtx"))),
            ("log", [corpus / p for p in LOG_FILES]),
        ):
            ingester = Ingester(store, dead_letter=Path(tmp) / f"dead-{label}.jsonl")
            rep = ingester.run([p for p in paths if p.exists()])
            counts.append(f"{label} {rep.events:,} records, {rep.written:,} distinct events")
        events = list(store.scan("events", "*"))
        store.close()
    return events, counts


def bench_engine(
    engine: Engine, events: list[dict[str, Any]], repeat: int
) -> tuple[float, Counter[str], int]:
    best = float("inf")
    per_rule: Counter[str] = Counter()
    matched_events = 0
    for _ in range(repeat):
        per_rule = Counter()
        matched_events = 0
        gc.collect()
        t0 = time.process_time()
        for ev in events:
            _, hits = engine.match_rules(ev)
            if hits:
                matched_events += 1
                for r in hits:
                    per_rule[r.id] += 1
        best = min(best, time.process_time() - t0)
    return best, per_rule, matched_events


def _regexp(pattern: str, value: Any) -> bool:
    if value is None:
        return False
    try:
        return re.search(pattern, str(value)) is not None
    except re.error:
        return False


def _logsource_fields(rules_src: list[Any]) -> set[str]:
    """The fields the rules' log-source conditions name (columns even where no event has them)."""
    out: set[str] = set()
    for rule in rules_src:
        ls = rule.logsource
        for terms in logsource_parts(ls.product, ls.category, ls.service) or []:
            for term in terms:
                out.update(term)
    return out


def bench_sqlite(
    rules_src: list[Any], events: list[dict[str, Any]], one_table: bool = False
) -> dict[str, Any]:
    """Zircolite's method: convert with pysigma-backend-sqlite, run each query over SQLite tables
    (one per log source, or, ``one_table``, a single table of every event as Zircolite has)."""
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection

    t0 = time.perf_counter()
    backend = sqliteBackend(query_pipeline("sqlite"))
    queries: list[tuple[Any, str]] = []
    failed = 0
    for rule in rules_src:
        try:
            sql = backend.convert(SigmaCollection([rule]))
        except Exception:
            failed += 1
            continue
        if sql:
            queries.append((rule, sql[0]))
    convert_s = time.perf_counter() - t0

    groups: dict[EventSource | None, list[dict[str, Any]]] = defaultdict(list)
    for ev in events:
        flat = flatten(ev)
        groups[None if one_table else event_source(route_key(flat))].append(flat)
    db = sqlite3.connect(":memory:")
    db.create_function("REGEXP", 2, _regexp, deterministic=True)
    tables: list[tuple[EventSource | None, str]] = []
    t0 = time.perf_counter()
    # Every table has a column for every field of any event, as Zircolite's one table does, and
    # for every field a log-source condition names: a field missing from an event is NULL, and a
    # rule naming a field no event has fails (Zircolite logs the SQL error at debug level and
    # reports no match for that rule).
    # SQLite column names are case-insensitive (ProcessId / ProcessID): one column per name.
    canon: dict[str, str] = {}
    for rows in groups.values():
        for r in rows:
            for k in r:
                canon.setdefault(k.lower(), k)
    for k in sorted(_logsource_fields(rules_src)):
        canon.setdefault(k.lower(), k)
    cols = sorted(canon.values())
    for n, (src, rows) in enumerate(groups.items()):
        rows = [{canon[k.lower()]: v for k, v in r.items()} for r in rows]
        name = f"logs{n}"
        db.execute(f"CREATE TABLE {name} (" + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in cols) + ")")
        db.executemany(
            f"INSERT INTO {name} VALUES (" + ",".join("?" * len(cols)) + ")",
            [
                [
                    None if r.get(c) is None else ",".join(map(str, r[c])) if isinstance(r.get(c), list) else
                    str(r[c]).lower() if isinstance(r[c], bool) else str(r[c])
                    for c in cols
                ]
                for r in rows
            ],
        )  # fmt: skip
        tables.append((src, name))
    load_s = time.perf_counter() - t0

    matched: set[tuple[str, int]] = set()
    per_rule: Counter[str] = Counter()
    errors: dict[str, str] = {}
    skipped = 0
    t0 = time.process_time()
    for rule, sql in queries:
        ls = rule.logsource
        for src, name in tables:
            # the query carries its log-source condition; the split only spares scanning tables
            # of events it cannot match
            if src is not None and not src.fits(ls.product, ls.category, ls.service):
                continue
            q = sql.replace("FROM logs", f"FROM {name}", 1).replace("SELECT *", "SELECT rowid", 1)
            try:
                rows = db.execute(q).fetchall()
            except sqlite3.Error as err:
                skipped += 1  # a field no event has (the rule fails as in Zircolite)
                errors[str(rule.id)] = str(err)
                continue
            for (rowid,) in rows:
                matched.add((name, rowid))
            if rows:
                per_rule[str(rule.id)] += len(rows)
    run_s = time.process_time() - t0
    return {
        "convert_s": convert_s,
        "load_s": load_s,
        "run_s": run_s,
        "queries": len(queries),
        "failed": failed,
        "skipped": skipped,
        "matched_events": len(matched),
        "per_rule": per_rule,
        "errors": errors,
        "converted": {str(rule.id) for rule, _ in queries},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--sqlite-one-table", action="store_true",
                    help="SQLite method over one table of every event (Zircolite's layout), not one per log source")  # fmt: skip
    ap.add_argument("--profile", action="store_true", help="print where the engine's time goes")
    args = ap.parse_args()
    sigma = args.corpus / "sigma"

    t0 = time.perf_counter()
    loaded = load_paths([sigma / d for d in RULE_DIRS])
    t_load = time.perf_counter() - t0
    rules, bad = compile_rules(loaded.rules)
    engine = Engine(rules)
    t_cold = time.perf_counter() - t0
    print(f"rules: {len(loaded.rules):,} parsed in {t_load:.2f} s; {len(rules):,} compiled, "
          f"{len(bad)} unsupported; cold start (parse + pipeline + compile) {t_cold:.2f} s")  # fmt: skip

    t0 = time.perf_counter()
    events, counts = load_events(args.corpus)
    by_ds = Counter(str((e.get("event") or {}).get("dataset")) for e in events)
    print(f"events: {len(events):,} parsed by the collectors in {time.perf_counter() - t0:.1f} s "
          f"({'; '.join(counts)}: copies of a record are one event; "
          f"{', '.join(f'{k} {v:,}' for k, v in by_ds.most_common(6))}, ...)")  # fmt: skip
    evtx = [e for e in events if str((e.get("event") or {}).get("dataset", "")).startswith("windows.")]

    # First pass of a fresh engine: log-source routes built, gates learned, memos filled.
    fresh = Engine(rules)
    secs, per_rule, n = bench_engine(fresh, events, 1)
    print(f"canh engine, all events, first pass of a fresh engine: {secs:.3f} s CPU = "
          f"{len(events) / secs:,.0f} events/s")  # fmt: skip
    for label, subset in (("EVTX only", evtx), ("all events", events)):
        engine.stats.events = engine.stats.evaluated = 0
        secs, per_rule, n = bench_engine(engine, subset, args.repeat)
        ev_per_rule = engine.stats.evaluated / max(engine.stats.events, 1)
        print(f"canh engine, {label}: {len(subset):,} events x {len(rules):,} rules in {secs:.3f} s CPU = "
              f"{len(subset) / secs:,.0f} events/s (CPU); {n:,} events matched across {len(per_rule)} rules "
              f"({sum(per_rule.values()):,} rule matches); "
              f"{ev_per_rule:.2f} rules evaluated per event after the prefilter")  # fmt: skip

    # Zircolite's run B: rules/windows only over the EVTX records
    t0 = time.perf_counter()
    win_loaded = load_paths([sigma / "rules" / "windows"])
    win_rules, _ = compile_rules(win_loaded.rules)
    win_engine = Engine(win_rules)
    t_win = time.perf_counter() - t0
    secs, per_rule, n = bench_engine(win_engine, evtx, args.repeat)
    print(f"canh engine, rules/windows only (as Zircolite run B): cold start {t_win:.2f} s; {len(evtx):,} events "
          f"x {len(win_rules):,} rules in {secs:.3f} s CPU = {len(evtx) / secs:,.0f} events/s; "
          f"{n:,} events matched across {len(per_rule)} rules; {sum(per_rule.values()):,} rule matches "
          f"(per-rule counts summed: Zircolite's 'matched events', 1,186 across 330 rules)")  # fmt: skip

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for ev in events:
            engine.match_rules(ev)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)

    if not args.no_sqlite:
        sq = bench_sqlite(
            list(load_paths([sigma / d for d in RULE_DIRS]).rules), events, args.sqlite_one_table
        )
        print(f"sqlite (Zircolite method): {sq['queries']:,} queries ({sq['failed']} rules not convertible), "
              f"convert {sq['convert_s']:.1f} s, table load {sq['load_s']:.2f} s, "
              f"run {sq['run_s']:.3f} s CPU = {len(events) / sq['run_s']:,.0f} events/s; "
              f"{sq['matched_events']:,} events matched across {len(sq['per_rule'])} rules "
              f"({sq['skipped']} query/table pairs failed: a field no event has)")  # fmt: skip
        secs, per_rule, n = bench_engine(engine, events, args.repeat)
        print(f"speed-up over the SQLite method (detection only): {sq['run_s'] / secs:.1f}x")
        # The same rules on both sides: the ones the SQLite backend converts (it has no keywords)
        same = [r for r in rules if r.id in sq["converted"]]
        secs_same, _, _ = bench_engine(Engine(same), events, args.repeat)
        print(f"canh engine, only the {len(same):,} rules the SQLite backend converts: {secs_same:.3f} s CPU = "
              f"{len(events) / secs_same:,.0f} events/s; speed-up {sq['run_s'] / secs_same:.1f}x")  # fmt: skip
        diff = sorted(r for r in set(per_rule) | set(sq["per_rule"]) if per_rule[r] != sq["per_rule"][r])
        print(f"rules whose match counts differ: {len(diff)}")
        for rid in diff:
            why = sq["errors"].get(rid) or ("" if rid in sq["converted"] else "not convertible to SQL")
            print(f"  {rid}: canh {per_rule[rid]}, sqlite {sq['per_rule'][rid]} {why}")


if __name__ == "__main__":
    main()
