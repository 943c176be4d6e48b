"""Syslog lines (RFC 3164 and RFC 5424 headers) to ECS; the message body is kept in ``message``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from canh.collectors.registry import LineContext
from canh.events import Event, format_ts, new_event, parse_ts, set_many

_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_RFC3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d)"
    r"(?: (?P<host>[^\s:\[]+))? (?P<prog>[^\s:\[]+)?(?:\[(?P<pid>\d+)\])?:? ?(?P<msg>.*)$",
    re.DOTALL,
)
_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[.*?\])+) ?(?P<msg>.*)$",
    re.DOTALL,
)


def infer_year(month: int, day: int, now: datetime) -> int:
    """RFC 3164 has no year: take the year that puts the stamp closest before ``now`` (Dec read in Jan)."""
    year = now.year
    if month > now.month + 1 or (month == 12 and now.month == 1):
        year -= 1
    return year


class SyslogParser:
    """Syslog header parser; lines that have no header are kept whole in ``message``."""

    name = "syslog"

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        text = line.rstrip("\r\n")
        if not text.strip():
            return None
        m5 = _RFC5424.match(text)
        if m5:
            return self._rfc5424(m5, text, ctx)
        m3 = _RFC3164.match(text)
        if m3 and m3.group("mon") in _MONTHS:
            return self._rfc3164(m3, text, ctx)
        ev = new_event(
            timestamp=ctx.now, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=text, host=ctx.host,
        )  # fmt: skip
        return ev

    def _rfc3164(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        month, day = _MONTHS[m.group("mon")], int(m.group("day"))
        hh, mm, ss = (int(x) for x in m.group("time").split(":"))
        local_now = ctx.now.astimezone(ctx.tz)
        year = infer_year(month, day, local_now)
        try:
            stamp = datetime(year, month, day, hh, mm, ss, tzinfo=ctx.tz)
        except ValueError:
            stamp = ctx.now
        ev = new_event(
            timestamp=stamp, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=m.group("msg"), host=m.group("host") or ctx.host,
        )  # fmt: skip
        pri = m.group("pri")
        set_many(
            ev,
            {
                "process.name": m.group("prog"),
                "process.pid": int(m.group("pid")) if m.group("pid") else None,
                "log.syslog.priority": int(pri) if pri else None,
                "log.syslog.facility.code": int(pri) // 8 if pri else None,
                "log.syslog.severity.code": int(pri) % 8 if pri else None,
            },
        )
        return ev

    def _rfc5424(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        try:
            stamp = format_ts(parse_ts(m.group("ts")))
        except ValueError:
            stamp = format_ts(ctx.now)
        pri = int(m.group("pri"))
        nil = lambda v: None if v == "-" else v  # noqa: E731
        ev = new_event(
            timestamp=stamp, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=m.group("msg").lstrip("\ufeff"), host=nil(m.group("host")) or ctx.host,
        )  # fmt: skip
        pid = nil(m.group("pid"))
        set_many(
            ev,
            {
                "process.name": nil(m.group("app")),
                "process.pid": int(pid) if pid and pid.isdigit() else None,
                "log.syslog.priority": pri,
                "log.syslog.facility.code": pri // 8,
                "log.syslog.severity.code": pri % 8,
                "log.syslog.version": "1",
                "log.syslog.msgid": nil(m.group("msgid")),
            },
        )
        return ev

    def sniff(self, lines: Sequence[str]) -> float:
        sample = [ln for ln in lines if ln.strip()][:20]
        if not sample:
            return 0.0
        ok = sum(1 for ln in sample if _RFC5424.match(ln) or _RFC3164.match(ln))
        return 0.5 * ok / len(sample)


__all__ = ["SyslogParser", "infer_year", "timedelta"]
