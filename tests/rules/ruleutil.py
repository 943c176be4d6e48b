"""Helpers for the engine tests: a rule from YAML text, compiled with Canh's pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from canh.rules.engine import Engine, EngineRule, compile_rules
from canh.rules.loader import LoadedRules, parse_text


def sigma(detection: str, logsource: str = "product: linux\n  service: auth", **extra: str) -> str:
    """A minimal rule around a ``detection:`` body (indented by two spaces)."""
    more = "".join(f"{k}: {v}\n" for k, v in extra.items())
    return (
        "title: Test rule\nid: 5a1d7c2e-1111-4000-8000-000000000001\nstatus: test\nauthor: Canh tests\n"
        f"level: medium\nlogsource:\n  {logsource}\ndetection:\n{detection}\n{more}"
    )


def compile_one(text: str, placeholders: dict[str, list[str]] | None = None) -> EngineRule:
    out = LoadedRules()
    rules = parse_text(text, Path("test.yml"), out)
    assert not out.problems, out.problems
    compiled, bad = compile_rules([r for r in rules], placeholders)  # type: ignore[misc]
    assert not bad, bad
    return compiled[0]


def matches(text: str, event: dict[str, Any], placeholders: dict[str, list[str]] | None = None) -> bool:
    """Whether the rule in ``text`` matches ``event`` through the full engine (routing + prefilter)."""
    rule = compile_one(text, placeholders)
    engine = Engine([rule])
    return rule in engine.match_rules(event)[1]


def auth(**fields: Any) -> dict[str, Any]:
    """An auth.log event with dotted extra fields."""
    ev: dict[str, Any] = {"event.dataset": "system.auth", "event.module": "system", "process.name": "sshd"}
    ev.update({k.replace("__", "."): v for k, v in fields.items()})
    return ev
