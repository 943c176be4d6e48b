"""Syslog lines (RFC 3164 and RFC 5424 headers, and RFC 3339-stamped rsyslog lines) to ECS.

The header gives time, host and program; the program name then picks the body parser: sshd, sudo,
su and the account tools become ``system.auth``, kernel packet lines ``iptables.log``, key=value
firewall bodies ``fortinet.firewall``; anything else stays generic ``syslog`` with ``message``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from canh.collectors.accounts import ACCOUNT_PROGRAMS, enrich_account
from canh.collectors.kvfirewall import enrich_kv_firewall, looks_like_kv_firewall
from canh.collectors.netfilter import enrich_netfilter, is_netfilter
from canh.collectors.pam import enrich_pam
from canh.collectors.registry import LineContext
from canh.collectors.sshd import enrich_sshd
from canh.collectors.sudo import enrich_su, enrich_sudo

from canh.events import Event, format_ts, new_event, parse_ts, set_many

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_RFC3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d)"
    r"(?: (?P<host>[^\s:\[]+))? (?P<prog>[^\s:\[]+)?(?:\[(?P<pid>\d+)\])?:? ?(?P<msg>.*)$",
    re.DOTALL,
)
_RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r'(?P<sd>-|(?:\[(?:[^\]"\\]|"(?:[^"\\]|\\.)*")*\])+) ?(?P<msg>.*)$',
    re.DOTALL,
)


def infer_year(month: int, day: int, now: datetime) -> int:
    """RFC 3164 has no year: take the year that puts the stamp closest before ``now`` (Dec read in Jan)."""
    year = now.year
    if month > now.month + 1 or (month == 12 and now.month == 1):
        year -= 1
    return year


_RFC3339 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?P<host>[^\s:\[]+) (?P<prog>[^\s:\[]+)?(?:\[(?P<pid>\d+)\])?:? ?(?P<msg>.*)$",
    re.DOTALL,
)

Handler = Callable[[Event, str, str, LineContext, dict[str, object]], None]


def _sshd(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    enrich_sshd(ev, msg, out)


def _sudo(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    enrich_sudo(ev, msg, out)


def _su(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    enrich_su(ev, msg, out)


def _account(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    enrich_account(ev, msg, prog, out)


def _kernel(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    if is_netfilter(msg):
        enrich_netfilter(ev, msg, out)


# Program name (as written, lowercased, "(pam_unix)" suffix removed) -> body parser.
PROGRAMS: dict[str, Handler] = {
    "sshd": _sshd,
    "sshd-session": _sshd,
    "sudo": _sudo,
    "su": _su,
    "kernel": _kernel,
    **{name: _account for name in ACCOUNT_PROGRAMS},
}


def _generic(ev: Event, msg: str, prog: str, ctx: LineContext, out: dict[str, object]) -> None:
    """Bodies that tell their kind whatever program wrote them (firewalls often log as any name)."""
    if msg.startswith("pam_unix") or msg.startswith("(pam_unix)"):
        enrich_pam(ev, msg, out)
    elif "=" in msg:
        if looks_like_kv_firewall(msg):
            enrich_kv_firewall(ev, msg, ctx.tz, out)
        elif "SRC=" in msg and is_netfilter(msg):
            enrich_netfilter(ev, msg, out)


def _program(raw: str | None) -> str:
    if not raw:
        return ""
    paren = raw.find("(")
    name = raw[:paren] if paren > 0 else raw
    return name.lower() if not name.islower() else name


class SyslogParser:
    """Syslog header parser dispatching the body on the program name; headerless lines keep ``message``."""

    name = "syslog"

    def __init__(self) -> None:
        # RFC 3164 stamps: the UTC "YYYY-MM-DDTHH:" of each local hour, computed once per hour seen.
        self._hours: dict[tuple[str, int, int, object], str] = {}
        self._now: tuple[datetime | None, str] = (None, "")

    def _ingested(self, ctx: LineContext) -> str:
        # One batch shares its reading time; formatting it per line was a tenth of the parse cost.
        now = ctx.now
        if self._now[0] is not now:
            self._now = (now, format_ts(now))
        return self._now[1]

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        text = line.rstrip("\r\n")
        if not text or text.isspace():
            return None
        first = text[:1]
        if first == "<":
            m5 = _RFC5424.match(text)
            if m5:
                return self._rfc5424(m5, text, ctx)
        m3 = _RFC3164.match(text)
        if m3 and m3.group("mon") in _MONTHS:
            return self._rfc3164(m3, text, ctx)
        if first.isdigit() or first == "<":
            m = _RFC3339.match(text)
            if m:
                return self._rfc3339(m, text, ctx)
        ev = new_event(
            timestamp=ctx.now, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=text, host=ctx.host, ingested=self._ingested(ctx),
        )  # fmt: skip
        return ev

    def _stamp3164(self, m: re.Match[str], text: str, ctx: LineContext) -> str:
        t = m.start("time")
        now = ctx.now
        key = (text[m.start("mon") : t + 2], now.year, now.month, ctx.tz)
        prefix = self._hours.get(key)
        if prefix is None:
            prefix = self._hour_prefix(m, ctx)
            if len(self._hours) > 100_000:
                self._hours.clear()
            self._hours[key] = prefix
        mm, ss = text[t + 3 : t + 5], text[t + 6 : t + 8]
        if prefix and mm < "60" and ss < "60":
            return f"{prefix}{mm}:{ss}.000Z"
        return self._stamp_slow(m, ctx)

    def _hour_prefix(self, m: re.Match[str], ctx: LineContext) -> str:
        """UTC date and hour of a local hour, or "" when minutes would shift too (zones like +05:30)."""
        month, day = _MONTHS[m.group("mon")], int(m.group("day"))
        hh = int(m.group("time")[:2])
        year = infer_year(month, day, ctx.now.astimezone(ctx.tz))
        try:
            utc = datetime(year, month, day, hh, tzinfo=ctx.tz).astimezone(UTC)
        except ValueError:
            return ""
        if utc.minute or utc.second:
            return ""
        return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:"

    def _stamp_slow(self, m: re.Match[str], ctx: LineContext) -> str:
        month, day = _MONTHS[m.group("mon")], int(m.group("day"))
        hh, mm, ss = (int(x) for x in m.group("time").split(":"))
        year = infer_year(month, day, ctx.now.astimezone(ctx.tz))
        try:
            return format_ts(datetime(year, month, day, hh, mm, ss, tzinfo=ctx.tz))
        except ValueError:
            return format_ts(ctx.now)

    def _finish(
        self, ev: Event, prog_raw: str | None, pid: str | None, pri: str | None, msg: str, ctx: LineContext
    ) -> Event:
        prog = _program(prog_raw)
        fields: dict[str, object] = {}
        if prog:
            fields["process.name"] = prog
        if pid:
            fields["process.pid"] = int(pid)
        if pri:
            p = int(pri)
            fields["log.syslog.priority"] = p
            fields["log.syslog.facility.code"] = p >> 3
            fields["log.syslog.severity.code"] = p & 7
        handler = PROGRAMS.get(prog)
        if handler is not None:
            handler(ev, msg, prog, ctx, fields)
        else:
            _generic(ev, msg, prog, ctx, fields)
        set_many(ev, fields)
        return ev

    def _rfc3164(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        msg, prog = m.group("msg"), m.group("prog")
        if prog and "=" in prog:
            # No program name: the body starts right after the host (firewalls: "fw-01 date=... srcip=...").
            msg, prog = text[m.start("prog") :], None
        ev = new_event(
            timestamp=self._stamp3164(m, text, ctx), dataset="syslog", module="system", source=ctx.source,
            position=ctx.position, original=text, message=msg, host=m.group("host") or ctx.host, ingested=self._ingested(ctx),
        )  # fmt: skip
        return self._finish(ev, prog, m.group("pid"), m.group("pri"), msg, ctx)

    def _rfc3339(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        ts = m.group("ts")
        try:
            when = parse_ts(ts)
            if not (ts.endswith("Z") or "+" in ts[19:] or "-" in ts[19:]):
                when = when.replace(tzinfo=ctx.tz)  # no offset written: the source's local time
            stamp = format_ts(when)
        except ValueError:
            stamp = format_ts(ctx.now)
        msg, prog = m.group("msg"), m.group("prog")
        if prog and "=" in prog:
            # No program name: the body starts right after the host (firewalls: "fw-01 date=... srcip=...").
            msg, prog = text[m.start("prog") :], None
        ev = new_event(
            timestamp=stamp, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=msg, host=m.group("host") or ctx.host, ingested=self._ingested(ctx),
        )  # fmt: skip
        return self._finish(ev, prog, m.group("pid"), m.group("pri"), msg, ctx)

    def _rfc5424(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        try:
            stamp = format_ts(parse_ts(m.group("ts")))
        except ValueError:
            stamp = format_ts(ctx.now)
        host, app, pid, msgid = (None if v == "-" else v for v in m.group("host", "app", "pid", "msgid"))
        msg = m.group("msg").lstrip("\ufeff")
        ev = new_event(
            timestamp=stamp, dataset="syslog", module="system", source=ctx.source, position=ctx.position,
            original=text, message=msg, host=host or ctx.host, ingested=self._ingested(ctx),
        )  # fmt: skip
        set_many(ev, {"log.syslog.version": "1", "log.syslog.msgid": msgid})
        sd = m.group("sd")
        if sd and sd != "-":
            set_many(ev, {"log.syslog.structured_data": sd})
        return self._finish(ev, app, pid if pid and pid.isdigit() else None, m.group("pri"), msg, ctx)

    def sniff(self, lines: Sequence[str]) -> float:
        sample = [ln for ln in lines if ln.strip()][:20]
        if not sample:
            return 0.0
        ok = sum(1 for ln in sample if _RFC5424.match(ln) or _RFC3164.match(ln) or _RFC3339.match(ln))
        return 0.5 * ok / len(sample)


__all__ = ["PROGRAMS", "SyslogParser", "infer_year", "timedelta"]
