"""Windows events shipped as JSON lines: Winlogbeat documents and NXLog ``im_msvistalog`` records.

Both go through the same mapping as ``.evtx`` files (:mod:`canh.collectors.winlog`), so one record
has the same fields and the same ``event.id`` whichever way it arrived. A Winlogbeat document keeps
everything it carried; the mapping only adds what it lacks and fixes ``event.dataset``/``module``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from canh.collectors.jsonlines import load_object, sample_objects
from canh.collectors.registry import LineContext
from canh.collectors.winlog import dataset_for, nxlog_record, to_ecs, winlogbeat_record
from canh.errors import InputError
from canh.events import Event, expand


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base`` (objects merged key by key, ``over`` wins on leaves)."""
    for key, value in over.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value)
        else:
            base[key] = value
    return base


def is_winlogbeat(doc: dict[str, Any]) -> bool:
    return isinstance(doc.get("winlog"), dict) or any(k.startswith("winlog.") for k in doc)


def is_nxlog(doc: dict[str, Any]) -> bool:
    return (
        "EventID" in doc
        and ("SourceName" in doc or "Channel" in doc)
        and ("Hostname" in doc or "EventTime" in doc)
    )


def _placed(event: Event, ctx: LineContext) -> Event:
    # The file read and the machine reading it, unless the shipper's document says already (ctx.source
    # is a content origin, not a path, so to_ecs cannot tell).
    if ctx.path and not isinstance(event.get("log"), dict):
        event["log"] = {"file": {"path": ctx.path}}
    elif ctx.path and "file" not in event["log"]:
        event["log"]["file"] = {"path": ctx.path}
    if ctx.observer and "observer" not in event:
        event["observer"] = {"hostname": ctx.observer}
    return event


class WinlogJsonParser:
    """Winlogbeat (already ECS) or NXLog (flat) Windows events, one JSON object per line."""

    name = "winlog-json"

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        doc = load_object(line)
        if doc is None:
            return None
        try:
            if is_winlogbeat(doc):
                return self._winlogbeat(expand(doc), line, ctx)
            if is_nxlog(doc):
                rec = nxlog_record(doc, ctx.tz)
                return _placed(to_ecs(rec, source=ctx.source, position=ctx.position, original=line,
                                      host=ctx.host, now=ctx.now), ctx)  # fmt: skip
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise InputError("input.invalid", reason=str(exc)) from exc
        raise InputError("collect.json_missing", field="winlog")

    def _winlogbeat(self, doc: dict[str, Any], line: str, ctx: LineContext) -> Event:
        rec = winlogbeat_record(doc)
        mapped = to_ecs(
            rec, source=ctx.source, position=ctx.position, original=line, host=ctx.host, now=ctx.now
        )
        ours = mapped["event"]
        stamp = mapped["@timestamp"]
        event = _merge(mapped, doc)
        ev = event.setdefault("event", {})
        if not isinstance(ev, dict):
            raise ValueError("event: must be an object")
        dataset, module = dataset_for(rec.channel)
        ev.update(
            id=ours["id"], dataset=dataset, module=module, ingested=ours["ingested"], code=str(rec.event_id)
        )
        ev.setdefault("original", line)
        event["@timestamp"] = stamp
        event["winlog"]["event_id"] = rec.event_id
        return _placed(event, ctx)

    def sniff(self, lines: Sequence[str]) -> float:
        docs = sample_objects(lines)
        if not docs:
            return 0.0
        ok = sum(1 for d in docs if is_winlogbeat(d) or is_nxlog(d))
        return 0.97 * ok / len(docs)
