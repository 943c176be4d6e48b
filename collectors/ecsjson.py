"""JSON lines that are already ECS documents (Canh's own exports, Filebeat/Logstash output)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from canh.collectors.registry import LineContext
from canh.errors import InputError
from canh.events import Event, prepare


class EcsJsonParser:
    """One ECS JSON object per line; dotted keys are nested, ``event.id`` kept or derived."""

    name = "ecs-json"

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        if not line.strip():
            return None
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError("input.bad_json", reason=str(exc).split(":")[0]) from exc
        if not isinstance(doc, dict):
            raise InputError("input.bad_json", reason=type(doc).__name__)
        try:
            return prepare(
                doc, source=ctx.source, position=ctx.position, now=ctx.now, path=ctx.path, host=ctx.host,
                observer=ctx.observer,
            )  # fmt: skip
        except ValueError as exc:
            raise InputError("input.invalid", reason=str(exc)) from exc

    def sniff(self, lines: Sequence[str]) -> float:
        sample = [ln for ln in lines if ln.strip()][:20]
        if not sample:
            return 0.0
        ok = sum(
            1 for ln in sample if ln.lstrip().startswith("{") and ('"@timestamp"' in ln or '"event' in ln)
        )
        return 0.9 * ok / len(sample)
