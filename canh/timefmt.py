"""Times and durations as an analyst reads them: local wall-clock time and short countdowns.

Stores keep UTC; people on shift think in the SOC's own zone (``timezone`` in ``canh.yml``), so the
CLI and the console both format through here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from canh.events import local_zone, parse_ts


def display_zone(name: str | None) -> tzinfo:
    """The zone times are shown in: the configured one, UTC when none is set."""
    return local_zone(name) if name else UTC


def zone_label(zone: tzinfo, when: datetime | None = None) -> str:
    """A short name for column headers: ``+07`` for Asia/Ho_Chi_Minh, ``UTC`` for UTC."""
    offset = (when or datetime.now(UTC)).astimezone(zone).utcoffset() or timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}" + (f":{mins:02d}" if mins else "")


def local_time(stamp: str | datetime | None, zone: tzinfo, *, seconds: bool = True) -> str:
    """A stored time (ISO text or datetime) in ``zone``: ``2026-11-21 17:45:03``; unreadable text as is."""
    if not stamp:
        return ""
    try:
        when = parse_ts(stamp)
    except (ValueError, TypeError):
        return str(stamp)
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def short_delta(d: timedelta) -> str:
    """A countdown read at a glance: ``2d03h``, ``4h05m``, ``12m``; negative (overdue) with a minus."""
    sign = "-" if d < timedelta(0) else ""
    s = abs(int(d.total_seconds()))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    return f"{sign}{minutes}m"


__all__ = ["display_zone", "local_time", "short_delta", "zone_label"]
