"""Rules and correlations as Elasticsearch queries (``canh rules convert``), through Canh's pipeline.

A plain rule converts with pySigma's Lucene, EQL or ES|QL backend as is. A correlation converts
only where pySigma's output means what the rule says; elsewhere the reason is given instead, and the
correlation still runs in Canh's engine:

- Lucene has no aggregation at all.
- ES|QL (``stats ... by`` over ``date_trunc`` buckets) expresses ``event_count``, ``value_count``
  and ``temporal`` over plain rules, without aliases (pySigma 1.x cannot rename fields in ES|QL).
  Its buckets are fixed (tumbling) where Canh's windows slide, so a burst split by a bucket edge
  can count less there.
- EQL (``sequence ... with runs=N``) expresses only an ``event_count`` of one rule with ``gte``:
  pySigma writes any operator as ``runs=N``, several rules as an ordered sequence, a value_count as
  a join on the counted field (the same value N times, not N values), a temporal rule without its
  timespan, and a temporal_ordered one with a dangling ``by``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from canh.i18n import t

TARGETS = ("lucene", "eql", "esql")
EQL_MAX_RUNS = 100  # EQL accepts `with runs=` from 1 to 100


@dataclass
class Converted:
    """The queries of one rule or correlation, or why it has none in that query language."""

    title: str
    kind: str
    queries: list[str] = field(default_factory=list)
    reason: str | None = None


def backend_for(target: str, placeholders: Mapping[str, list[str]] | None = None) -> Any:
    """pySigma's Elasticsearch backend for ``target`` with Canh's query pipeline for it."""
    from sigma.backends.elasticsearch import EqlBackend, ESQLBackend, LuceneBackend

    from canh.rules.pipelines import query_pipeline

    cls = {"lucene": LuceneBackend, "eql": EqlBackend, "esql": ESQLBackend}[target]
    return cls(query_pipeline(target, placeholders))


def referenced(corr: SigmaCorrelationRule) -> list[SigmaRule | SigmaCorrelationRule]:
    """The rules a (resolved) correlation references, correlations among them included."""
    return [ref.rule for ref in corr.rules or [] if getattr(ref, "rule", None) is not None]


def base_rules(items: Iterable[SigmaRule | SigmaCorrelationRule]) -> list[SigmaRule]:
    """The plain rules of ``items`` and every plain rule their correlations reach, once each."""
    out: dict[int, SigmaRule] = {}
    stack = list(items)
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, SigmaCorrelationRule):
            stack.extend(referenced(item))
        else:
            out[id(item)] = item
    return list(out.values())


def correlations_of(items: Iterable[SigmaRule | SigmaCorrelationRule]) -> list[SigmaCorrelationRule]:
    """The correlations of ``items`` and every correlation they reference, innermost first."""
    out: list[SigmaCorrelationRule] = []

    def visit(c: SigmaCorrelationRule) -> None:
        if any(c is o for o in out):
            return
        for r in referenced(c):
            if isinstance(r, SigmaCorrelationRule):
                visit(r)
        out.append(c)

    for item in items:
        if isinstance(item, SigmaCorrelationRule):
            visit(item)
    return out


def no_single_query(corr: SigmaCorrelationRule, target: str) -> str | None:
    """Why pySigma's conversion of ``corr`` to ``target`` would not say what the rule says, or None."""
    kind = corr.type.name.lower()
    refs = referenced(corr)
    if target == "lucene":
        return t("rules.convert_no_lucene")
    if any(isinstance(r, SigmaCorrelationRule) for r in refs):
        return t("rules.convert_chained")
    extra = corr.custom_attributes or {}
    if isinstance(extra, dict) and extra.get("condition_range"):
        return t("rules.convert_range")
    cond = getattr(corr.condition, "op", None)
    if target == "esql":
        if kind not in ("event_count", "value_count", "temporal"):
            return t("rules.convert_esql_type", type=kind)
        if corr.aliases:
            return t("rules.convert_esql_aliases")
        if cond is None and kind != "temporal":
            return t("rules.convert_esql_type", type=kind)
        return None
    # eql
    if kind != "event_count" or len(refs) != 1:
        return t("rules.convert_eql_only")
    count = int(getattr(corr.condition, "count", 0) or 0)
    if cond is None or cond.name.lower() != "gte" or not 1 <= count <= EQL_MAX_RUNS:
        return t("rules.convert_eql_only")
    return None


def _kind(item: SigmaRule | SigmaCorrelationRule) -> str:
    return "correlation:" + item.type.name.lower() if isinstance(item, SigmaCorrelationRule) else "rule"


def convert(
    items: Sequence[SigmaRule | SigmaCorrelationRule],
    target: str,
    placeholders: Mapping[str, list[str]] | None = None,
) -> list[Converted]:
    """Every query of ``items`` (rules and correlations, in order) in ``target``, or the reason none."""
    backend = backend_for(target, placeholders)
    backend.init_processing_pipeline(None)
    out: list[Converted] = []
    done: dict[int, Converted] = {}
    # Plain rules first (the selection's own and those its correlations reference): a correlation
    # query is built from its rules' converted queries.
    for rule in base_rules(items):
        res = Converted(rule.title, "rule")
        # A rule referenced by a correlation without `generate` is marked "no output" by pySigma,
        # which would print nothing for it; asked for by name, its query is what the author wants.
        rule._output = True
        try:
            queries = backend.convert_rule(rule)
            if rule._backreferences and not backend.finalize_correlation_subqueries:
                # kept bare for the correlation query; shown on its own it needs its frame (ES|QL's
                # `from ... | where`, EQL's `any where`)
                states = rule.get_conversion_states()
                fmt = backend.default_format
                queries = [backend.finalize_query(rule, q, i, states[i], fmt) for i, q in enumerate(queries)]
            res.queries = [str(q) for q in queries]
        except SigmaError as err:
            res.reason = str(err)
        except NotImplementedError as err:
            res.reason = str(err) or type(err).__name__
        done[id(rule)] = res
    for item in items:
        if isinstance(item, SigmaRule):
            out.append(done[id(item)])
            continue
        res = Converted(item.title, _kind(item))
        why = no_single_query(item, target)
        if why is not None:
            res.reason = why
        else:
            try:
                res.queries = [str(q) for q in backend.convert_correlation_rule(item)]
            except (SigmaError, NotImplementedError) as err:
                res.reason = str(err) or type(err).__name__
        out.append(res)
    return out
