"""Rule test cases for authors: ``x.tests.yml`` next to ``x.yml`` (or a ``tests:`` attribute in the rule).

```yaml
match:      # each case: one ECS event (dotted or nested keys) or a list of events fed in order
  - {"event.dataset": "system.auth", "event.action": "ssh_login", "source.ip": "1.2.3.4"}
no_match:
  - [...]
```

A case matches when the rule (or correlation) of that file raises at least one alert over the case's
events. Events without ``@timestamp`` get one (case start + 1 s per event) and without ``event.id``
get one from the case. A failing case is explained selection by selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from canh.events import expand, format_ts
from canh.rules.compile import Compiled, Doc, Leaf, Node, Not, leaf_pred
from canh.rules.engine import Engine, EngineRule
from canh.rules.loader import _Loader, iter_rule_files

CASE_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class CaseResult:
    """One test case: expected match or not, what happened, and why (per selection)."""

    expect: bool
    got: bool
    index: int
    explain: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.expect == self.got


@dataclass
class FileResult:
    """The cases of one rule file."""

    path: str
    rule_ids: list[str]
    cases: list[CaseResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(c.ok for c in self.cases)


def tests_file(rule_path: Path) -> Path:
    """``x.tests.yml`` for ``x.yml``."""
    return rule_path.with_name(rule_path.stem + ".tests" + rule_path.suffix)


def _tests_data(rule_path: Path, custom: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    sib = tests_file(rule_path)
    data: Any = None
    if sib.is_file():
        data = yaml.load(sib.read_text(encoding="utf-8"), Loader=_Loader)
    elif custom and isinstance(custom.get("tests"), Mapping):
        data = custom["tests"]
    return data if isinstance(data, Mapping) else None


def load_cases(rule_path: Path, custom: Mapping[str, Any] | None = None) -> dict[str, list[Any]] | None:
    """The cases of a rule: its sibling file, else its ``tests:`` attribute; None if it has none."""
    data = _tests_data(rule_path, custom)
    if data is None:
        return None
    return {k: list(data.get(k) or []) for k in ("match", "no_match")}


def case_placeholders(rule_path: Path, custom: Mapping[str, Any] | None = None) -> dict[str, list[str]]:
    """The ``placeholders:`` of a rule's tests: values its cases run with, whatever the configuration
    holds (a threat-intel rule is testable, and its cases mean the same everywhere)."""
    data = _tests_data(rule_path, custom)
    raw = data.get("placeholders") if data is not None else None
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in raw.items()}


def _with_placeholders(
    rule_path: Path, engine_rules: Sequence[EngineRule], values: Mapping[str, list[str]]
) -> list[EngineRule]:
    """``engine_rules`` with this file's rules compiled again with the test's placeholder values."""
    from canh.rules.engine import compile_rules
    from canh.rules.loader import load_paths

    here = str(rule_path)
    fresh, _ = compile_rules(load_paths([rule_path]).rules, values)  # a fresh load: compiling maps in place
    return [*(r for r in engine_rules if r.path != here), *fresh]


def case_events(case: Any, index: int) -> list[dict[str, Any]]:
    """The events of one case, with time and id filled in where the author left them out."""
    raw = case if isinstance(case, list) else [case]
    out = []
    for i, ev in enumerate(raw):
        if not isinstance(ev, Mapping):
            continue
        event = expand(dict(ev))
        event.setdefault("@timestamp", format_ts(CASE_START + timedelta(seconds=i + 1)))
        node = event.setdefault("event", {})
        if isinstance(node, dict):
            node.setdefault("id", f"case{index}-{i}")
        out.append(event)
    return out


MAX_ITEMS = 8  # explained items per selection
MAX_SHOWN = 60  # characters of a value or of a list of values


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _describe(leaf: Leaf) -> str:
    """A test as the author wrote it, roughly: ``field|op: values``."""
    vals = leaf.values
    if leaf.op in ("re", "wild"):
        shown = [v.pattern for v in vals]
    elif leaf.op == "cidr":
        shown = [str(v) for v in vals]
    elif leaf.op == "fieldref":
        shown = [f"field {v}" for v in vals]
    else:
        shown = [str(v) for v in vals]
    op = {"eq": "", "null": "null", "exists": "exists", "cmp": "compare"}.get(leaf.op, leaf.op)
    name = leaf.field if leaf.field is not None else "keywords"
    listed = ", ".join(repr(v) for v in shown[:5]) + (f" (+{len(shown) - 5})" if len(shown) > 5 else "")
    return f"{name}{'|' + op if op else ''}: {_short(listed)}"


def _actual(leaf: Leaf, doc: Doc) -> str:
    if leaf.field is None:
        return "the event's text"
    vals = doc.strs(leaf.field)
    if not vals:
        return "no such field in the event"
    return "the event has " + _short(", ".join(repr(v) for v in vals))


def _leaves(node: Node) -> list[tuple[Leaf, bool]]:
    """The leaves of a tree, each with whether it sits under a NOT (its failing means a match)."""
    out: list[tuple[Leaf, bool]] = []
    stack: list[tuple[Node, bool]] = [(node, False)]
    while stack:
        n, neg = stack.pop()
        if isinstance(n, Leaf):
            out.append((n, neg))
        elif isinstance(n, Not):
            stack.append((n.item, not neg))
        else:
            stack.extend((c, neg) for c in reversed(n.items))
    return out


def explain_selection(compiled: Compiled, doc: Doc, held: bool) -> list[str]:
    """Why a selection did not hold (its items that failed, with the event's value), or, when it
    held, the items that made it hold."""
    lines = []
    for leaf, neg in _leaves(compiled.tree):
        ok = leaf_pred(leaf)(doc) != neg
        if ok is held:
            mark = "matched" if ok else "failed"
            lines.append(f"{'not ' if neg else ''}{_describe(leaf)} {mark}: {_actual(leaf, doc)}")
    if len(lines) > MAX_ITEMS:
        lines = [*lines[:MAX_ITEMS], f"... {len(lines) - MAX_ITEMS} more"]
    return lines


def _explain(rules: Sequence[EngineRule], events: list[dict[str, Any]]) -> list[str]:
    """Per rule and event: each selection's yes/no, then the items behind each answer (the items
    that failed for a selection that did not hold, those that matched for one that did)."""
    lines = []
    for rule in rules:
        sels = rule.selections()
        cond = " | ".join(str(c) for c in rule.sigma.detection.condition)
        for n, ev in enumerate(events):
            doc = Doc(ev)
            held = {name: c.predicate(doc) for name, c in sels.items()}
            parts = [f"{name}={'yes' if ok else 'no'}" for name, ok in held.items()]
            lines.append(f"{rule.title} [{cond}] event {n + 1}: " + ", ".join(parts))
            for name, c in sels.items():
                lines.extend(f"  {name}: {item}" for item in explain_selection(c, doc, held[name]))
    return lines


def _alerts_for(m: Any, targets: set[str]) -> bool:
    """Whether a match raises an alert of one of the file's rules or correlations."""
    if m.hit is not None:
        return str(getattr(m.hit.spec, "id", "")) in targets or getattr(m.hit.spec, "name", None) in targets
    return bool(m.rule.id in targets and m.rule.alert)  # a correlation's base rule raises none


def run_file(
    rule_path: Path,
    engine_rules: Sequence[EngineRule],
    correlations: Sequence[Any],
    lateness: timedelta = timedelta(seconds=60),
) -> FileResult | None:
    """Run the cases of one rule file against the rules loaded with it; None when it has no cases."""
    here = str(rule_path)
    mine = [r for r in engine_rules if r.path == here]
    corrs = [c for c in correlations if c.source and str(c.source.path) == here]
    custom = mine[0].sigma.custom_attributes if mine else (corrs[0].custom_attributes if corrs else None)
    try:
        cases = load_cases(rule_path, custom)
        values = case_placeholders(rule_path, custom)
    except yaml.YAMLError as err:
        return FileResult(here, [], error=str(err))
    if cases is None:
        return None
    if values:
        engine_rules = _with_placeholders(rule_path, engine_rules, values)
        mine = [r for r in engine_rules if r.path == here]
    targets: set[str] = set()
    for r in mine:
        targets.add(r.id)
    for c in corrs:
        targets.update({str(c.id), c.name or ""} - {""})
    result = FileResult(here, sorted(targets))
    for expect, key in ((True, "match"), (False, "no_match")):
        for i, case in enumerate(cases[key]):
            events = case_events(case, i)
            engine = Engine(engine_rules, correlations, lateness=lateness)
            matches = [m for ev in events for m in engine.match(ev)]
            matches += engine.flush()  # the case is the whole input: windows still open close now
            got = any(_alerts_for(m, targets) for m in matches)
            res = CaseResult(expect, got, i + 1)
            if not res.ok:
                base = list(mine)
                if corrs:
                    refs = {ref.reference for c in corrs for ref in c.rules or []}
                    base += [r for r in engine_rules if r.id in refs or (r.name and r.name in refs)]
                res.explain = _explain(base, events)
            result.cases.append(res)
    return result


def run_paths(
    paths: Sequence[Path], engine_rules: Sequence[EngineRule], correlations: Sequence[Any]
) -> list[FileResult]:
    """Run the cases of every rule file under ``paths``."""
    out = []
    for f in iter_rule_files(paths):
        res = run_file(f, engine_rules, correlations)
        if res is not None:
            out.append(res)
    return out
