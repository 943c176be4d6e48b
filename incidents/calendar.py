"""Working days for dossier deadlines: weekends and the Vietnamese public holidays shipped as data."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from importlib import resources

import yaml


@cache
def holidays() -> frozenset[date]:
    """Public holidays from canh/data/register/holidays.yml (lunar ones computed ahead, several years)."""
    text = (resources.files("canh.data") / "register" / "holidays.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    return frozenset(date.fromisoformat(str(d)) for d in (data.get("holidays") or {}))


def is_working_day(d: date, extra: frozenset[date] = frozenset()) -> bool:
    return d.weekday() < 5 and d not in holidays() and d not in extra


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start`` (the day itself not counted)."""
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d
