"""Timeline entries in words: action names and details through the message catalogue, for the CLI,
the console and the reports (the stored entries keep codes and raw values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canh.i18n import catalog, t
from canh.incidents.model import Entry

# Detail keys whose values are themselves codes with a catalogue name.
_CODED = {"target": "sla"}


def action_name(action: str, lang: str | None = None) -> str:
    """``status`` → "status changed" / "đổi trạng thái"; an action the catalogue lacks as it is."""
    key = f"timeline.action.{action}"
    return t(key, lang=lang) if key in catalog() else action


def detail_text(entry: Entry, when: Callable[[Any], str] = str, lang: str | None = None) -> str:
    """The entry's details readably: ``P3 → P1 (auto)``, ``reason: ...``; times through ``when``."""
    d = dict(entry.detail)
    parts: list[str] = []
    if "from" in d or "to" in d:
        parts.append(f"{_value(d.pop('from', ''), when, lang)} → {_value(d.pop('to', ''), when, lang)}")
    flags = [t(f"timeline.flag.{k}", lang=lang) for k in ("auto", "manual", "by_analyst") if d.pop(k, False)]
    shown = {k: v for k, v in d.items() if v not in ("", None, [], {})}
    if len(shown) == 1 and not parts:  # one value says it all (a technique id, a system code)
        ((key, value),) = shown.items()
        text = _value(_coded(_CODED[key], str(value), lang) if key in _CODED else value, when, lang)
        return f"{text} ({', '.join(flags)})" if flags else text
    for key, value in shown.items():
        label_key = f"timeline.detail.{key}"
        label = t(label_key, lang=lang) if label_key in catalog() else key
        if key in _CODED:
            value = _coded(_CODED[key], str(value), lang)
        parts.append(f"{label}: {_value(value, when, lang)}")
    text = ", ".join(parts)
    return f"{text} ({', '.join(flags)})" if flags else text


def _coded(group: str, code: str, lang: str | None) -> str:
    key = f"{group}.{code}"
    return t(key, lang=lang) if key in catalog() else code


def _value(v: Any, when: Callable[[Any], str], lang: str | None) -> str:
    if isinstance(v, bool):
        return t("timeline.yes" if v else "timeline.no", lang=lang)
    if isinstance(v, str) and len(v) >= 20 and v[4:5] == "-" and v[10:11] == "T":
        return when(v)  # an ISO time (a due time): in the reader's zone
    return str(v)
