"""The detection engine: compiled Sigma rules evaluated on each event as it arrives.

``Engine(rules).match(event)`` routes the event to the rules of its log source (one cached lookup),
asks the prefilter which of them can match, evaluates only those, and feeds matches of rules that
correlations reference to the Correlator, returning rule matches and correlation hits alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sigma.conditions import SigmaCondition
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from canh.events import get, parse_ts
from canh.rules import locate
from canh.rules.compile import (
    Compiled,
    Doc,
    MissingPlaceholder,
    Pred,
    Unsupported,
    compile_condition,
    flatten,
)
from canh.rules.logsource import EventSource, event_source, nested_route_key, route_key
from canh.rules.pipelines import canh_pipeline, map_field
from canh.rules.prefilter import Atom, RouteIndex, atoms_of, build_index, eq_diversity

_ATTACK = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


def attack_ids(tags: Iterable[str]) -> list[str]:
    """ATT&CK technique ids (``T1059.001``) out of Sigma tags (``attack.t1059.001``)."""
    out = []
    for tag in tags:
        m = _ATTACK.match(tag)
        if m:
            out.append(m.group(1).upper())
    return out


@dataclass
class EngineRule:
    """A Sigma rule compiled for the engine, with the metadata alerts carry."""

    index: int
    id: str
    title: str
    name: str | None
    level: str
    status: str
    author: str
    description: str
    references: list[str]
    tags: list[str]
    path: str | None
    product: str | None
    category: str | None
    service: str | None
    predicate: Pred
    compiled: list[Compiled]
    sigma: SigmaRule
    atoms: frozenset[Atom] | None = None
    alert: bool = True  # False for base rules that only feed correlations

    @property
    def techniques(self) -> list[str]:
        return attack_ids(self.tags)

    def selections(self) -> dict[str, Compiled]:
        """Each named detection compiled on its own (for explaining why a test case failed)."""
        out: dict[str, Compiled] = {}
        for name in self.sigma.detection.detections:
            try:
                parsed = SigmaCondition(name, self.sigma.detection).parsed
                out[name] = compile_condition(parsed)
            except (SigmaError, Unsupported):
                continue
        return out


def compile_rule(rule: SigmaRule, pipeline: ProcessingPipeline, index: int = 0) -> EngineRule:
    """Apply the pipeline and compile the rule's condition(s); raises :class:`Unsupported` with a reason."""
    try:
        pipeline.apply(rule)
        conds = [compile_condition(c.parsed) for c in rule.detection.parsed_condition]
    except SigmaError as err:
        raise Unsupported(str(err)) from err
    except RecursionError as err:  # pragma: no cover - absurdly deep conditions
        raise Unsupported("condition too deep") from err
    if len(conds) == 1:
        predicate = conds[0].predicate
    else:
        preds = [c.predicate for c in conds]

        def predicate(d: Doc) -> bool:
            return any(p(d) for p in preds)

    ls = rule.logsource
    return EngineRule(
        index=index,
        id=str(rule.id) if rule.id else (rule.name or rule.title),
        title=rule.title,
        name=rule.name,
        level=str(rule.level.name).lower() if rule.level else "medium",
        status=str(rule.status.name).lower() if rule.status else "",
        author=rule.author or "",
        description=rule.description or "",
        references=list(rule.references or []),
        tags=[str(t) for t in rule.tags or []],
        path=str(rule.source.path) if rule.source and rule.source.path else None,
        product=ls.product,
        category=ls.category,
        service=ls.service,
        predicate=predicate,
        compiled=conds,
        sigma=rule,
    )


@dataclass
class UnsupportedRule:
    """A rule that loaded but cannot be compiled, with the reason."""

    id: str
    title: str
    path: str | None
    reason: str
    line: int | None = None
    placeholder: bool = False
    """Only a placeholder without values: the deployment has not configured it (inactive, not an error)."""
    waits_for: str = ""
    """The placeholder whose values it waits for."""

    @property
    def where(self) -> str:
        base = self.path or self.id
        return f"{base}:{self.line}" if self.line else base


def inactive_notes(unsupported: Iterable[UnsupportedRule]) -> list[str]:
    """One line per placeholder that rules wait for (a deployment fills it, e.g. a threat-intel list)."""
    from canh.i18n import t

    waiting: dict[str, list[UnsupportedRule]] = {}
    for u in unsupported:
        if u.placeholder:
            waiting.setdefault(u.waits_for, []).append(u)
    return [
        t(
            "rules.inactive",
            n=len(rules),
            name=name,
            files=", ".join(dict.fromkeys(u.path or u.id for u in rules)),
        )
        for name, rules in waiting.items()
    ]


@dataclass
class Match:
    """One rule matching one event, or one correlation hit (``hit`` set, ``events`` its event ids)."""

    rule: Any  # EngineRule, or a correlation spec wrapper
    event: Mapping[str, Any]
    hit: Any = None

    @property
    def is_correlation(self) -> bool:
        return self.hit is not None


def compile_rules(
    rules: Sequence[SigmaRule], placeholders: Mapping[str, list[str]] | None = None
) -> tuple[list[EngineRule], list[UnsupportedRule]]:
    """Compile every rule with Canh's pipeline; the ones that cannot be are returned with reasons."""
    pipeline = canh_pipeline(placeholders)
    out: list[EngineRule] = []
    bad: list[UnsupportedRule] = []
    for rule in rules:
        try:
            out.append(compile_rule(rule, pipeline, len(out)))
        except Unsupported as err:
            path = str(rule.source.path) if rule.source else None
            reason = _clean_reason(str(err), path)
            line = locate.detail_line(path, rule.source.line if rule.source else None, reason, ("detection",))
            name = err.name if isinstance(err, MissingPlaceholder) else ""
            bad.append(UnsupportedRule(str(rule.id or ""), rule.title, path, reason, line, bool(name), name))
    return out, bad


@dataclass
class EngineStats:
    """Counters: events seen, rules evaluated, matches."""

    events: int = 0
    evaluated: int = 0
    matches: int = 0
    routes: int = 0


class Engine:
    """Evaluates compiled rules (and correlations, through a Correlator) on events."""

    def __init__(
        self,
        rules: Sequence[EngineRule],
        correlations: Sequence[SigmaCorrelationRule] = (),
        *,
        lateness: timedelta = timedelta(seconds=60),
    ) -> None:
        self.rules = list(rules)
        for i, r in enumerate(self.rules):
            r.index = i
        self._routes: dict[tuple[Any, ...], RouteIndex] = {}
        self._by_source: dict[EventSource, RouteIndex] = {}
        diversity = eq_diversity(c.tree for r in self.rules for c in r.compiled)
        for r in self.rules:
            atoms: frozenset[Atom] | None = frozenset()
            for c in r.compiled:
                a = atoms_of(c.tree, diversity)
                atoms = None if a is None or atoms is None else atoms | a
            r.atoms = atoms or None
        self._counts = diversity.grams  # to index each literal under its rarest gram
        self._by_logsource: dict[tuple[str | None, str | None, str | None], list[int]] = {}
        for r in self.rules:
            self._by_logsource.setdefault((r.product, r.category, r.service), []).append(r.index)
        self.stats = EngineStats()
        self.correlator: Any = None
        self.correlation_specs: list[Any] = []
        self._feeds: set[int] = set()
        self.correlation_problems: list[UnsupportedRule] = []
        if correlations:
            self._setup_correlations(correlations, lateness)

    def _setup_correlations(self, correlations: Sequence[SigmaCorrelationRule], lateness: timedelta) -> None:
        from canh.errors import CanhError
        from canh.rules.correlate import CorrelationSpec, Correlator  # owned by the rule pack's author

        by_key: dict[str, EngineRule] = {}
        for r in self.rules:
            by_key[r.id] = r
            if r.name:
                by_key[r.name] = r
        specs = []
        refs: set[str] = set()
        generate: set[str] = set()
        for c in correlations:
            base = [by_key[ref.reference] for ref in c.rules or [] if ref.reference in by_key]
            ls = (base[0].product, base[0].category, base[0].service) if base else (None, None, None)

            def fmap(name: str, ls: tuple[str | None, str | None, str | None] = ls) -> str:
                return map_field(name, *ls)

            try:
                specs.append(CorrelationSpec.from_sigma(c, fmap))
            except CanhError as err:
                self.correlation_problems.append(
                    UnsupportedRule(str(c.id or ""), c.title, _path(c), str(err))
                )
                continue
            for ref in c.rules or []:
                refs.add(ref.reference)
                if c.generate:
                    generate.add(ref.reference)
        self.correlation_specs = specs
        if not specs:
            return
        self.correlator = Correlator(specs, lateness=lateness)
        for r in self.rules:
            keys = {r.id, r.name} - {None}
            if keys & refs:
                self._feeds.add(r.index)
                r.alert = bool(keys & generate)

    def route(self, doc: Doc) -> RouteIndex:
        """The prefilter for the event's log source (built once per distinct log source)."""
        nested = doc.nested
        key = route_key(doc) if nested is None else nested_route_key(nested)
        idx = self._routes.get(key)
        if idx is None:
            src: EventSource = event_source(key)
            idx = self._by_source.get(src)
            if idx is None:
                fit = [i for ls, idxs in self._by_logsource.items() if src.fits(*ls) for i in idxs]
                members = [(i, self.rules[i].atoms) for i in sorted(fit)]
                idx = build_index(members, self._counts)
                self._by_source[src] = idx
                self.stats.routes += 1
            self._routes[key] = idx
        return idx

    def match_rules(self, event: Mapping[str, Any]) -> tuple[Doc, list[EngineRule]]:
        """Rules matching the event (no correlation), with the event's document view."""
        doc = Doc(event)
        self.stats.events += 1
        cands = self.route(doc).candidates(doc)
        self.stats.evaluated += len(cands)
        rules = self.rules
        hits = [rules[i] for i in cands if rules[i].predicate(doc)]
        self.stats.matches += len(hits)
        return doc, hits

    def match(self, event: Mapping[str, Any]) -> list[Match]:
        """Every rule match and correlation hit the event produces."""
        _, hits = self.match_rules(event)
        out = [Match(r, event) for r in hits]
        if self.correlator is not None and hits:
            feed = [r for r in hits if r.index in self._feeds]
            if feed:
                matched: set[str] = set()
                for r in feed:
                    matched.add(r.id)
                    if r.name:
                        matched.add(r.name)
                ts = _event_time(event)
                hits = self.correlator.feed(matched, event, ts)
                if hits:
                    eid = str(get(event, "event.id") or "")
                    out.extend(_hit_match(hit, event if eid in hit.event_ids else None) for hit in hits)
        return out

    def flush(self) -> list[Match]:
        """Correlation hits of every window still open: call it when the input ends (a ``canh ingest``
        run, a backtest, a rule test case), or conditions judged at window close (lt, eq...) never fire."""
        if self.correlator is None:
            return []
        return [_hit_match(hit, None) for hit in self.correlator.flush()]

    def idle(self, seconds: float) -> list[Match]:
        """Correlation hits of the windows that close once a live stream has been quiet for ``seconds``
        (its idle wall-clock time counted as event time after the newest event)."""
        if self.correlator is None:
            return []
        return [_hit_match(hit, None) for hit in self.correlator.advance(seconds)]


def _hit_match(hit: Any, event: Mapping[str, Any] | None) -> Match:
    """A correlation hit as a match. The event carries the alert's host/source fields, so it is the
    event that completed the hit, or else (a window closed by another group's event, by the sweep or
    at the end of input) one made of the hit's group-by values, never an unrelated event."""
    if event is None:
        from canh.events import expand

        event = expand({k: v for k, v in hit.group.items() if v is not None})
    return Match(hit.spec, event, hit)


def _clean_reason(reason: str, path: str | None) -> str:
    """A compile problem without the location pySigma appends (file:line is printed in front)."""
    if path:
        for where in (str(Path(path).resolve()), path):
            reason = reason.replace(f" in {where}", "")
    return re.sub(r"\s+in rule .*$|\s*\(in .*\)$", "", reason).strip()


def _path(rule: Any) -> str | None:
    return str(rule.source.path) if getattr(rule, "source", None) and rule.source.path else None


def _event_time(event: Mapping[str, Any]) -> datetime:
    value = event.get("@timestamp")
    if value is None:
        value = get(event, "@timestamp")
    return parse_ts(value) if value is not None else datetime.now().astimezone()


def engine_from_loaded(
    rules: Sequence[SigmaRule],
    correlations: Sequence[SigmaCorrelationRule] = (),
    placeholders: Mapping[str, list[str]] | None = None,
    lateness: timedelta = timedelta(seconds=60),
) -> tuple[Engine, list[UnsupportedRule]]:
    """Compile and build an engine in one go."""
    compiled, bad = compile_rules(rules, placeholders)
    return Engine(compiled, correlations, lateness=lateness), bad


def rule_files_of(rules: Iterable[EngineRule]) -> list[Path]:
    """The files the rules came from."""
    return sorted({Path(r.path) for r in rules if r.path})


__all__ = ["Engine", "EngineRule", "Match", "Unsupported", "compile_rules", "engine_from_loaded", "flatten"]
