"""EVTX JSON (evtx_dump / pyevtx-rs layout) -> ECS, for the regression data, until collectors/evtx.py lands."""

from __future__ import annotations

from typing import Any

from canh.events import Event, set_many


def _text(value: Any) -> Any:
    if isinstance(value, dict):
        if "#text" in value:
            return value["#text"]
        return None
    return value


def _winlogbeat(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_winlogbeat(v) for v in value]
    return value


def _data_fields(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "#attributes":
            continue
        if key == "Data" and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and "#attributes" in item:
                    out[item["#attributes"].get("Name", f"param{i + 1}")] = _winlogbeat(item.get("#text"))
                else:
                    out[f"param{i + 1}"] = _winlogbeat(_text(item))
            continue
        if isinstance(value, dict) and "#text" not in value:
            out.update(_data_fields(value))
            continue
        out[key] = _winlogbeat(_text(value))
    return out


def to_ecs(doc: dict[str, Any]) -> Event:
    """ECS event (fields as the contract names them) from one evtx JSON record."""
    ev = doc.get("Event", doc)
    system = ev.get("System", {})
    channel = str(system.get("Channel") or "")
    eid = _text(system.get("EventID"))
    provider = (system.get("Provider") or {}).get("#attributes", {}).get("Name")
    ts = (system.get("TimeCreated") or {}).get("#attributes", {}).get("SystemTime")
    sysmon = channel.lower() == "microsoft-windows-sysmon/operational"
    dataset = (
        "windows.sysmon_operational"
        if sysmon
        else "windows." + channel.lower().replace("/", "_").replace(" ", "_").replace("-", "_")
    )
    event: Event = {}
    set_many(
        event,
        {
            "@timestamp": ts,
            "event.dataset": dataset,
            "event.module": "sysmon" if sysmon else "windows",
            "event.kind": "event",
            "event.code": str(eid),
            "event.provider": provider,
            "winlog.channel": channel,
            "winlog.event_id": int(eid) if eid is not None else None,
            "winlog.provider_name": provider,
            "winlog.computer_name": system.get("Computer"),
            "winlog.record_id": system.get("EventRecordID"),
            "host.name": system.get("Computer"),
        },
    )
    data = _data_fields(ev.get("EventData"))
    if data:
        event.setdefault("winlog", {})["event_data"] = data
    user = _data_fields(ev.get("UserData"))
    if user:
        event.setdefault("winlog", {})["user_data"] = user
    return event


def iter_json_docs(text: str) -> list[dict[str, Any]]:
    """Every JSON document in ``text`` (the regression files concatenate several records)."""
    import json

    dec = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        doc, pos = dec.raw_decode(text, pos)
        out.extend(doc if isinstance(doc, list) else [doc])
