"""Per rule: the event ids the in-process engine matches and the ids its Lucene query returns on a store.

Used by test_rule_differential.py; every difference is a bug or a limitation listed with its reason
in tests/store/data/rule_query_limitations.txt (``<rule file name> <store> <reason>`` a line).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canh.errors import QueryError, StoreError
from canh.store.base import Store

LIMITATIONS = Path(__file__).parent / "data" / "rule_query_limitations.txt"
STORES = ("sqlite", "elasticsearch")


@dataclass
class RuleResult:
    """One rule: where it comes from, its queries, the engine's ids and each store's."""

    name: str
    queries: list[str]
    engine: set[str]
    stores: dict[str, set[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def differs(self, store: str) -> bool:
        return store in self.errors or self.stores.get(store) != self.engine


def _base_name(rule: Any) -> str:
    if rule.source and rule.source.path:
        path = Path(str(rule.source.path))
        return f"{path.parent.name}/{path.name}"
    return str(rule.title).replace(" ", "_")


def rule_names(rules: Sequence[Any]) -> dict[int, str]:
    """A stable name per rule: ``folder/file.yml``, with ``#<id prefix>`` when a file holds several."""
    counts = Counter(_base_name(r) for r in rules)
    out = {}
    for r in rules:
        base = _base_name(r)
        out[id(r)] = base if counts[base] == 1 else f"{base}#{str(r.id or r.title)[:8]}"
    return out


def engine_ids(
    rules: Sequence[Any], events: Iterable[Mapping[str, Any]]
) -> tuple[dict[str, set[str]], list[Any]]:
    """Per rule name, the event ids the engine matches (base rules only, no correlation)."""
    from canh.rules.engine import Engine, compile_rules

    compiled, bad = compile_rules(list(rules))
    engine = Engine(compiled)
    by_rule = rule_names(rules)
    names = [by_rule[id(c.sigma)] for c in engine.rules]
    out: dict[str, set[str]] = {n: set() for n in names}
    for ev in events:
        _, hits = engine.match_rules(ev)
        for r in hits:
            out[names[r.index]].add(ev["event"]["id"])
    return out, bad


def lucene_queries(rules: Sequence[Any]) -> dict[str, list[str] | str]:
    """Per rule name, its Lucene queries as `canh rules convert` prints them, or why there are none."""
    from canh.rules.convert import convert

    warnings.filterwarnings("ignore")
    names = rule_names(rules)
    out: dict[str, list[str] | str] = {}
    for rule, res in zip(rules, convert(list(rules), "lucene"), strict=True):
        out[names[id(rule)]] = res.queries if res.queries else (res.reason or "no query")
    return out


def store_ids(store: Store, queries: Sequence[str]) -> set[str]:
    """The ids any of the rule's queries returns on the store (all time)."""
    ids: set[str] = set()
    for q in queries:
        ids.update(r["event"]["id"] for r in store.scan("events", q, batch=2000))
    return ids


def compare(
    rules: Sequence[Any],
    events: Sequence[Mapping[str, Any]],
    stores: Mapping[str, Store],
    timings: list[tuple[float, str]] | None = None,
) -> tuple[list[RuleResult], dict[str, str]]:
    """Every rule's results, and the rules that have no query (name -> reason); ``timings`` gets
    (wall seconds, rule) per rule's queries on the stores."""
    engine, bad = engine_ids(rules, events)
    queries = lucene_queries(rules)
    results: list[RuleResult] = []
    skipped: dict[str, str] = {f"{b.path or b.title}": f"engine: {b.reason}" for b in bad}
    for name, got in queries.items():
        if isinstance(got, str):
            skipped[name] = got
            continue
        if name not in engine:
            continue
        res = RuleResult(name, got, engine[name])
        w0 = time.perf_counter()
        for label, store in stores.items():
            try:
                res.stores[label] = store_ids(store, got)
            except (QueryError, StoreError) as exc:  # refused, or timed out
                res.errors[label] = exc.render("en")[:200]
        if timings is not None:
            timings.append((time.perf_counter() - w0, name))
        results.append(res)
    return results, skipped


DATASETS = ("demo", "corpus")


def read_limitations(path: Path = LIMITATIONS, dataset: str | None = None) -> dict[tuple[str, str], str]:
    """``(rule name, store)`` -> reason, from the committed list; with ``dataset``, only the lines
    that apply to it (a line may name ``demo`` or ``corpus`` after the store, else it applies to both)."""
    out: dict[tuple[str, str], str] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, store, reason = line.split(None, 2)
        scope, _, rest = reason.partition(" ")
        if scope in DATASETS:
            if dataset is not None and scope != dataset:
                continue
            reason = rest
        for s in STORES if store == "both" else (store,):
            out[(name, s)] = reason
    return out


def table(results: Sequence[RuleResult]) -> str:
    """Per rule: engine count, each store's count (or error), for the report."""
    lines = [f"{'rule':52} {'engine':>7} " + " ".join(f"{s:>13}" for s in STORES)]
    for r in sorted(results, key=lambda r: r.name):
        cells = []
        for s in STORES:
            cells.append(f"{'error':>13}" if s in r.errors else f"{len(r.stores.get(s, ())):>13}")
        lines.append(f"{r.name[:52]:52} {len(r.engine):>7} " + " ".join(cells))
    return "\n".join(lines)
