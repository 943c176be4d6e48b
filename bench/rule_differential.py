#!/usr/bin/env python3
"""The SigmaHQ rules over the corpus events: per rule, the in-process engine's event ids against the
ids its Lucene query (as `canh rules convert` prints it) returns on Elasticsearch, the differences
grouped by cause.

Events: the corpus as bench/detect.py reads it (EVTX + text logs through `canh ingest`'s
collectors), indexed into a fresh Elasticsearch store (prefix canhbench-<hex>, one events index,
dropped afterwards). Rules: rules/, rules-emerging-threats/, rules-threat-hunting/ of the corpus.
A difference's cause is found by testing the missed or extra events, not guessed from the rule:

- ``keyword case``: the query finds the event once its values and the event's strings are compared
  without case (Canh's conversion leaves a |windash variant and a list of over 100 values in
  pySigma's form, which Elasticsearch's keyword fields compare with case; Sigma does not);
- ``value over the keyword copy``: Canh's query matcher finds the event, Elasticsearch does not, and
  the event has a value over 8,191 characters (a text field's patterns run on its ``.keyword`` copy,
  which does not hold such values); ``elasticsearch differs from the matcher`` otherwise;
- ``cidr on a non-ip field``: the rule has a ``|cidr`` on a field that is not an address (``*.ip``);
- ``field-less keyword``: the rule has keywords (no field), which the query searches in ``message``
  and ``event.original``, the engine in every string of the event;
- ``query refused``: the store rejected the query (the reason is printed);
- ``unexplained``: none of these; a bug to look at.

`--write FILE` writes the differences as the committed limitations list
(tests/store/data/sigmahq_query_limitations.txt, whose form and rule names
tests/store/test_sigmahq_limitations.py checks; the run takes minutes, so CI does not repeat it).
Run: .venv/bin/python bench/rule_differential.py [--corpus ../shared/corpus] [--url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from detect import RULE_DIRS, load_events  # noqa: E402

from canh.query import And, Node, Not, Or, Term, matcher, parse  # noqa: E402
from tests.store.rule_differential import RuleResult, compare, rule_names  # noqa: E402

CAUSES = (
    "keyword case",
    "value over the keyword copy",
    "elasticsearch differs from the matcher",
    "cidr on a non-ip field",
    "field-less keyword",
    "query refused",
    "unexplained",
)
KEYWORD_MAX = 8191  # the ignore_above of text fields' .keyword copy (canh.store.es_mappings)


def _lower_node(node: Node) -> Node:
    """The query with every value in lower case (a regular expression made case-insensitive)."""
    if isinstance(node, Term):
        if node.kind == "regex":
            value = node.value if node.value.startswith("(?i)") else "(?i)" + node.value
            return dataclasses.replace(node, value=value)
        return dataclasses.replace(node, value=node.value.lower())
    if isinstance(node, And | Or):
        return type(node)(tuple(_lower_node(i) for i in node.items))
    if isinstance(node, Not):
        return Not(_lower_node(node.item))
    return node


def _lower_event(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return {k: _lower_event(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_event(v) for v in value]
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _detection_items(rule: Any) -> Iterable[Any]:
    stack = list(rule.detection.detections.values())
    while stack:
        item = stack.pop()
        if hasattr(item, "detection_items"):
            stack.extend(item.detection_items)
        else:
            yield item


def rule_traits(rule: Any) -> set[str]:
    """The rule's constructs whose query form means less than the engine (read from its detection,
    whose field names the conversion has mapped)."""
    from sigma.types import SigmaCIDRExpression, SigmaExpansion

    from canh.rules.pipelines import CASELESS_MAX_VALUES

    out: set[str] = set()
    for item in _detection_items(rule):
        if any(isinstance(v, SigmaExpansion) for v in item.value):
            out.add("a |windash or |base64offset variant")
        if len(item.value) > CASELESS_MAX_VALUES:
            out.add(f"a list of over {CASELESS_MAX_VALUES} values")
        if item.field is None:
            out.add("field-less keyword")
        elif any(isinstance(v, SigmaCIDRExpression) for v in item.value) and not (
            item.field == "ip" or item.field.endswith(".ip")
        ):
            out.add("cidr on a non-ip field")
    return out


def cause(res: RuleResult, traits: set[str], events: Mapping[str, Mapping[str, Any]], store: str) -> str:
    """Why the query's events differ from the engine's for one rule."""
    if store in res.errors:
        return "query refused"
    missed = res.engine - res.stores[store]
    extra = res.stores[store] - res.engine
    if missed and not extra:
        plain = [matcher(parse(q)) for q in res.queries]
        if all(any(m(events[i]) for m in plain) for i in missed):  # the query means it; the store differs
            if all(any(len(v) > KEYWORD_MAX for v in _strings(events[i])) for i in missed):
                return "value over the keyword copy"
            return "elasticsearch differs from the matcher"
        lowered = [matcher(_lower_node(parse(q))) for q in res.queries]
        if all(any(m(_lower_event(events[i])) for m in lowered) for i in missed):
            return "keyword case"
    for trait in ("cidr on a non-ip field", "field-less keyword"):
        if trait in traits:
            return trait
    return "unexplained"


def run(
    rules: Sequence[Any], events: Sequence[dict[str, Any]], store: Any, label: str = "elasticsearch"
) -> tuple[
    dict[str, list[tuple[RuleResult, str]]], list[RuleResult], dict[str, str], list[tuple[float, str]]
]:
    """Per cause, the differing rules (result, the store's error); every result; the rules with no
    query; the slowest queries."""
    by_id = {ev["event"]["id"]: ev for ev in events}
    timings: list[tuple[float, str]] = []
    results, skipped = compare(rules, events, {label: store}, timings)
    slow = sorted(timings, reverse=True)[:5]
    names = rule_names(rules)
    traits = {names[id(r)]: rule_traits(r) for r in rules}  # after conversion: field names mapped
    groups: dict[str, list[tuple[RuleResult, str]]] = defaultdict(list)
    for res in results:
        if not res.differs(label):
            continue
        why = cause(res, traits.get(res.name, set()), by_id, label)
        detail = res.errors.get(label, "")
        if why == "keyword case":
            detail = " or ".join(sorted(t for t in traits.get(res.name, set()) if t.startswith("a ")))
        groups[why].append((res, detail))
    return groups, results, skipped, slow


def limitation_lines(groups: Mapping[str, list[tuple[RuleResult, str]]], store: str) -> list[str]:
    """``<rule> <store> <cause>: <detail>`` a line, sorted (the committed list's format)."""
    lines = []
    for why, items in groups.items():
        for res, detail in items:
            detail = " ".join(detail.split())[:160]
            lines.append(f"{res.name} {store} {why}" + (f": {detail}" if detail else ""))
    return sorted(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--url", default="http://127.0.0.1:9200")
    ap.add_argument("--write", type=Path, help="write the differences as a limitations list")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    # killed, the script still drops its indices (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    from elasticsearch import Elasticsearch

    from canh.rules.loader import load_paths
    from canh.store.elasticsearch import ElasticsearchStore

    t0 = time.process_time()
    events, counts = load_events(args.corpus)
    rules = load_paths([args.corpus / "sigma" / d for d in RULE_DIRS]).rules
    print(f"events: {len(events):,} ({'; '.join(counts)}); rules: {len(rules):,}")

    class OneIndexStore(ElasticsearchStore):
        # The corpus spans 20 years: monthly indices would be ~90, and each query would search ~90
        # shards (0.5 s a query on this node, 3,754 queries); one index the events pattern covers.
        def index_for(self, stream: Any, ts_ms: int = 0) -> str:
            return f"{self.prefix}-events-all" if stream == "events" else super().index_for(stream, ts_ms)

    store = OneIndexStore(
        Elasticsearch(args.url, request_timeout=60, max_retries=0), prefix="canhbench-" + uuid.uuid4().hex[:10],
        url=args.url,
    )  # fmt: skip
    try:
        w0 = time.perf_counter()
        assert store.write("events", events).written == len(events)
        store.drain(force=True)
        store.refresh()
        print(f"indexed in {time.perf_counter() - w0:.1f} s wall")
        w0 = time.perf_counter()
        groups, results, skipped, slow = run(rules, events, store)
        print(f"compared {len(results):,} rules ({len(skipped)} with no query) in "
              f"{time.perf_counter() - w0:.1f} s wall, {time.process_time() - t0:.1f} s CPU in all; slowest "
              + ", ".join(f"{name} {secs:.1f} s" for secs, name in slow))  # fmt: skip
    finally:  # also on Ctrl-C
        store.drop()
        store.client.close()
    matched = sum(1 for r in results if r.engine)
    differ = sum(len(v) for v in groups.values())
    print(f"rules matching in the engine: {matched}; rules whose query differs: {differ}")
    for why in CAUSES:
        items = groups.get(why, [])
        print(f"\n{why}: {len(items)} rules")
        for res, err in sorted(items, key=lambda x: x[0].name):
            got = res.stores.get("elasticsearch", set())
            print(f"  {res.name}: engine {len(res.engine)}, query {len(got)} "
                  f"(missed {len(res.engine - got)}, extra {len(got - res.engine)}){' ' + err if err else ''}")  # fmt: skip
    if args.write:
        args.write.write_text("\n".join(limitation_lines(groups, "elasticsearch")) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
