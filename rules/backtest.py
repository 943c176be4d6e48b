"""Backtests: rules and correlations run over stored events (oldest first), as the stream would have.

The selection's rules and every rule its correlations reference are compiled into one engine; the
events go through it in time order, and the windows still open are closed at the end (the period
is the whole input), so every correlation condition is judged, upper bounds included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from canh.errors import RuleError
from canh.events import format_ts
from canh.rules.convert import base_rules, correlations_of
from canh.rules.engine import Engine, Match, compile_rules


@dataclass
class Hit:
    """One correlation hit of a backtest."""

    id: str
    title: str
    group: dict[str, Any]
    value: int | None
    events: int
    event_ids: list[str]
    first: datetime
    last: datetime

    def as_json(self) -> dict[str, Any]:
        """The hit as one JSON line of ``canh rules backtest --json``."""
        return {
            "correlation": {"id": self.id, "title": self.title},
            "group": self.group,
            "value": self.value,
            "events_count": self.events,
            "event_ids": self.event_ids,
            "@timestamp": format_ts(self.first),
            "end": format_ts(self.last),
        }


def _key(item: SigmaRule | SigmaCorrelationRule) -> str:
    return str(item.id) if item.id else (item.name or item.title)


@dataclass
class Backtest:
    """The engine for a selection, and what it found: matched events (first ``limit``), hits, counts."""

    engine: Engine
    rule_keys: dict[str, str]
    correlation_keys: dict[str, str]
    limit: int = 100
    scanned: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    correlations: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(
        cls,
        items: Sequence[SigmaRule | SigmaCorrelationRule],
        placeholders: Mapping[str, list[str]] | None = None,
        limit: int = 100,
    ) -> Backtest:
        """A backtest of ``items``; a rule that cannot be compiled is an error."""
        rules = base_rules(items)
        compiled, bad = compile_rules(rules, placeholders)
        if bad:
            raise RuleError("rules.unsupported", where=bad[0].path or bad[0].title, reason=bad[0].reason)
        engine = Engine(compiled, correlations_of(items))
        if engine.correlation_problems:
            p = engine.correlation_problems[0]
            raise RuleError("rules.unsupported", where=p.path or p.title, reason=p.reason)
        mine = [r for r in items if isinstance(r, SigmaRule)]
        corrs = [c for c in items if isinstance(c, SigmaCorrelationRule)]
        out = cls(engine, {_key(r): r.title for r in mine}, {_key(c): c.title for c in corrs}, limit)
        # Counted in the selection's order, zero included, so the summary names every item.
        out.counts.update(dict.fromkeys(out.rule_keys.values(), 0))
        out.correlations.update(dict.fromkeys(out.correlation_keys.values(), 0))
        return out

    def run(self, events: Iterable[dict[str, Any]]) -> None:
        """Feed the events (oldest first), then close the windows still open."""
        for event in events:
            self.scanned += 1
            self._take(self.engine.match(event), event)
        self._take(self.engine.flush(), None)

    def _take(self, matches: list[Match], event: dict[str, Any] | None) -> None:
        listed = False
        for m in matches:
            if m.hit is not None:
                title = self.correlation_keys.get(str(m.hit.spec.id))
                if title is None:
                    continue  # a correlation the selection only references
                self.correlations[title] += 1
                if len(self.hits) >= self.limit:
                    continue
                h = m.hit
                self.hits.append(
                    Hit(
                        str(h.spec.id),
                        title,
                        dict(h.group),
                        h.value,
                        h.events,
                        list(h.event_ids),
                        h.first,
                        h.last,
                    )
                )
                continue
            title = self.rule_keys.get(m.rule.id)
            if title is None:
                continue
            self.counts[title] += 1
            if event is not None and not listed and len(self.events) < self.limit:
                self.events.append(event)
                listed = True
