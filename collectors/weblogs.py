"""nginx and Apache access logs (common/combined) and error logs to ECS.

Both servers write the same combined layout, so the file decides the vendor: ``--format nginx`` or
``apache``, or for detected files the path (``apache``/``httpd``/``access_log`` name Apache, the
Red Hat and Debian defaults; anything else is taken as nginx).

The plain common/combined access lines go through a compiled fast path when
``canh.collectors._lines_native`` (native/lines) is built: it gives exactly the event the Python code
below gives, or None for a line it leaves to it. ``CANH_LINES_NATIVE=0`` turns it off.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from canh.collectors.addresses import SEEN_IP, is_ip
from canh.collectors.registry import LineContext
from canh.errors import InputError
from canh.events import (
    ECS_VERSION,
    ID_POSITIONS,
    OPTIONAL,
    Event,
    Shape,
    event_id,
    format_ts,
    head,
    id_prefix,
    new_event,
    set_many,
)

# Quoted fields as "[^"\\]*(?:\\.[^"\\]*)*": the same strings as (?:[^"\\]|\\.)*, six times faster in re.
# No "^": match() anchors at its start anyway, and a "^" would never match at the offset after a vhost.
_ACCESS = re.compile(
    r'(?P<ip>\S+) (?P<ident>\S+) (?P<user>.*?) \[(?P<ts>[^\]]+)\] "(?P<req>[^"\\]*(?:\\.[^"\\]*)*)" '
    r'(?P<status>\d{3}|-) (?P<bytes>\d+|-)(?: "(?P<ref>[^"\\]*(?:\\.[^"\\]*)*)" "(?P<ua>[^"\\]*(?:\\.[^"\\]*)*)")?'
)
# The same for a line without backslashes (most lines): [^"]* is a plain scan in re, twice as fast.
_ACCESS_PLAIN = re.compile(_ACCESS.pattern.replace(r'[^"\\]*(?:\\.[^"\\]*)*', '[^"]*'))
# Quotes inside the request left unescaped (old Apache, some proxies): anchor on the status instead.
_ACCESS_LOOSE = re.compile(
    r'^(?P<ip>\S+) (?P<ident>\S+) (?P<user>.*?) \[(?P<ts>[^\]]+)\] "(?P<req>.*?)" '
    r'(?P<status>\d{3}|-) (?P<bytes>\d+|-)(?: "(?P<ref>.*?)" "(?P<ua>.*)")?\s*$'
)
# vhost in front ("example.gov.vn:443 1.2.3.4 - - [...]"), Apache's vhost_combined
_VHOST = re.compile(r"^(?P<vhost>[\w.-]+(?::\d+)?) (?=[0-9a-fA-F:.]+ \S+ \S+ \[\d)")
_NGINX_ERROR = re.compile(
    r"^(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(?P<level>\w+)\] (?P<pid>\d+)#(?P<tid>\d+): (?P<msg>.*)$"
)
_APACHE_ERROR = re.compile(
    r"^\[(?P<ts>\w{3} \w{3} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)? \d{4})\] \[(?:(?P<module>[\w-]+):)?(?P<level>\w+)\]"
    r"(?: \[pid (?P<pid>\d+)(?::tid \d+)?\])?(?: \[client (?P<client>[^\]]+)\])? ?(?P<msg>.*)$"
)
_NGINX_CLIENT = re.compile(r", client: (?P<ip>[^,\s]+)")
_NGINX_REQUEST = re.compile(r', request: "(?P<req>[^"\\]*(?:\\.[^"\\]*)*)"')
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_LEVELS = {"emerg": "emergency", "crit": "critical", "warn": "warning"}

# Access stamps: the UTC "YYYY-MM-DDTHH:" of each local hour as written ("21/Nov/2026:07" + " +0700").
_TS_HOURS: dict[str, str] = {}
_LAST_HOUR = ("\0", "", "")  # (date and hour as written, offset, prefix) of the last stamp read
_SIXTY = frozenset(f"{n:02d}" for n in range(60))  # ASCII minutes and seconds that need no checking
_MMSS = frozenset(f"{m}:{s}" for m in _SIXTY for s in _SIXTY)
_LOOSE_TS = re.compile(
    r"^(?P<day>\d{1,2})/(?P<mon>[^/\d]{3,6})/(?P<year>\d{4}):(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:[.,]\d+)?"
    r"(?:\s*(?P<zone>\S+))?$"
)
_MONTHS_LOOSE = {m.lower(): i for m, i in _MONTHS.items()} | {
    # French and Vietnamese-locale servers write their own abbreviations
    "janv": 1, "févr": 2, "fév": 2, "avr": 4, "mai": 5, "juin": 6, "juil": 7, "aoû": 8, "août": 8, "déc": 12,
}  # fmt: skip


def _access_ts(text: str, tz: tzinfo) -> str:
    """``21/Nov/2026:00:34:08 +0700`` to ``@timestamp`` (the UTC hour of each local hour is cached)."""
    if len(text) == 26:
        hour, offset, prefix = _LAST_HOUR  # lines come in time order: mostly the hour of the last one
        if not (text.startswith(hour) and text.endswith(offset)):
            hour, offset = text[:14], text[20:]
            prefix = _TS_HOURS.get(hour + offset, "")
            if prefix:
                _set_last_hour(hour, offset, prefix)
        if prefix:
            mmss = text[15:20]
            if mmss in _MMSS:
                return f"{prefix}{mmss}.000Z"
    day, mon, year = text[0:2], text[3:6], text[7:11]
    hh, mm, ss = text[12:14], text[15:17], text[18:20]
    off = text[21:26]
    if (
        len(text) == 26
        and (day + year + hh + mm + ss + off[1:]).isdigit()
        and mon in _MONTHS
        and off[0] in "+-"
    ):
        delta = timedelta(hours=int(off[1:3]), minutes=int(off[3:5]))
        zone: tzinfo = timezone(delta if off[0] == "+" else -delta)
        try:
            out = format_ts(
                datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=zone)
            )
        except ValueError as exc:
            raise InputError("collect.bad_time", value=text) from exc
    else:
        loose = _loose_ts(text, tz)
        if loose is None:
            raise InputError("collect.bad_time", value=text)
        return loose  # not cached: it may depend on the source's zone
    if off[3:5] == "00" and mm in _SIXTY and ss in _SIXTY:
        # A whole-hour offset leaves minutes and seconds as written: the hour's prefix serves them all.
        if len(_TS_HOURS) > 50_000:
            _TS_HOURS.clear()
        _TS_HOURS[text[:14] + text[20:]] = out[:14]
    return out


def _set_last_hour(hour: str, offset: str, prefix: str) -> None:
    global _LAST_HOUR
    _LAST_HOUR = (hour, offset, prefix)


def _loose_ts(text: str, tz: tzinfo) -> str | None:
    """Other spellings seen in the wild: ``GMT`` for the zone, none at all, localised month names."""
    m = _LOOSE_TS.match(text)
    if not m:
        return None
    month = _MONTHS_LOOSE.get(m.group("mon").lower().rstrip(".")[:4]) or _MONTHS_LOOSE.get(
        m.group("mon").lower()[:3]
    )
    if month is None:
        return None
    zone_text = m.group("zone") or ""
    zone: tzinfo = tz
    if zone_text.upper() in ("GMT", "UTC", "Z"):
        zone = UTC
    elif zone_text[:1] in "+-" and zone_text[1:5].isdigit():
        delta = timedelta(hours=int(zone_text[1:3]), minutes=int(zone_text[3:5]))
        zone = timezone(delta if zone_text[0] == "+" else -delta)
    try:
        when = datetime(int(m.group("year")), month, int(m.group("day")), int(m.group("h")), int(m.group("m")),
                        int(m.group("s")), tzinfo=zone)  # fmt: skip
    except ValueError:
        return None
    return format_ts(when)


# What a request line gives: method, url.original, url.path, url.query, http.version, url.extension.
_REQUEST_FIELDS = (
    "http.request.method",
    "url.original",
    "url.path",
    "url.query",
    "http.version",
    "url.extension",
)
_NO_REQUEST: tuple[str | None, ...] = (None,) * 6


_REQUESTS: dict[str, tuple[str | None, ...]] = {}


def _request(req: str) -> tuple[str | None, ...]:
    """The values of _REQUEST_FIELDS for ``GET /a/b.php?x=1 HTTP/1.1`` (None where there is none)."""
    # Remembered: pages and assets are asked for over and over (4 of 5 lines in a real access log).
    known = _REQUESTS.get(req)
    if known is None:
        known = _split_request(req)
        if len(req) <= 1024:
            if len(_REQUESTS) >= 20_000:
                _REQUESTS.clear()
            _REQUESTS[req] = known
    return known


def _split_request(req: str) -> tuple[str | None, ...]:
    parts = req.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/"):
        method, target, version = parts
    elif len(parts) == 2 and parts[0].isupper():
        method, target, version = parts[0], parts[1], None
    else:
        # Junk a scanner sent (TLS bytes to a plain port, "-"): kept whole, not guessed at.
        return (None, req, None, None, None, None) if req and req != "-" else _NO_REQUEST
    path, _, query = target.partition("?")
    slash = path.rfind("/")
    dot = path.rfind(".")
    extension = path[dot + 1 :].lower() if dot > slash + 1 and dot < len(path) - 1 else None
    return method, target, path, query or None, version[5:] if version else None, extension


def split_request(req: str) -> dict[str, object]:
    """``GET /a/b.php?x=1 HTTP/1.1`` into http.request.method, url.*, http.version."""
    values = _request(req)
    if values[0] is None:
        return {} if values[1] is None else {"url.original": values[1]}
    fields: dict[str, object] = dict(zip(_REQUEST_FIELDS[:5], values[:5], strict=True))
    if values[5] is not None:
        fields["url.extension"] = values[5]
    return fields


# Access lines: the fields new_event + set_many wrote, in their order. Values: @timestamp, event.id,
# event.ingested, event.original, [log.file.path], host.name, observer.hostname, event.outcome, source.ip,
# source.domain,
# user.name, status code, body bytes, referrer, user agent; then the _REQUEST_FIELDS apart.
_ACCESS_FIELDS = {
    "event.category": ["web"],
    "event.type": ["access"],
    "event.action": "access",
    "event.outcome": OPTIONAL,
    "source.ip": OPTIONAL,
    "source.domain": OPTIONAL,
    "user.name": OPTIONAL,
    "http.response.status_code": OPTIONAL,
    "http.response.body.bytes": OPTIONAL,
    "http.request.referrer": OPTIONAL,
    "user_agent.original": OPTIONAL,
}
_REQUEST_SHAPE = Shape(dict.fromkeys(_REQUEST_FIELDS, OPTIONAL))


@functools.cache
def _access_build(vendor: str, log_file: bool) -> Callable[[tuple[Any, ...], tuple[Any, ...]], Event]:
    head_shape = Shape(
        head(log_file=log_file, message=False)
        | {"event.dataset": f"{vendor}.access", "event.module": vendor}
        | _ACCESS_FIELDS
    )
    return head_shape.joined(_REQUEST_SHAPE)


def _vendor_for(source: str) -> str:
    low = source.lower()
    if "apache" in low or "httpd" in low or "access_log" in low or "error_log" in low:
        return "apache"
    return "nginx"


def vhost_fields(vhost: str) -> dict[str, object]:
    """``example.gov.vn:443`` in front of an access line: the server asked, as url.* and destination.*."""
    name, _, port_text = vhost.partition(":")
    port = int(port_text) if port_text.isdigit() else None
    return {
        "url.domain": name,
        "url.port": port,
        "destination.ip" if is_ip(name) else "destination.domain": name,
        "destination.port": port,
    }


# Read once, as the parsers are made once per file or source.
_NATIVE_ON = os.environ.get("CANH_LINES_NATIVE") != "0"


def _native_access() -> Any:
    """A new native access line parser, or None: not built (or built without it), or turned off."""
    if not _NATIVE_ON:
        return None
    try:
        from canh.collectors import _lines_native
    except ImportError:
        return None
    maker = getattr(_lines_native, "WebAccess", None)
    return None if maker is None else maker(ECS_VERSION)


def _unescape(text: str) -> str:
    return text.replace('\\"', '"') if "\\" in text else text


class WebLogParser:
    """Access and error lines of nginx/Apache; ``vendor`` None picks it from the file path."""

    def __init__(self, vendor: str | None = None, *, native: bool = True) -> None:
        self.vendor = vendor
        self.name = vendor or "web"
        # What lines of one batch share, worked out once: (now, source, path, ingested, log.file.path,
        # build, event id prefix of the source).
        self._state: tuple[Any, ...] = (None, None, None, "", (), None, "")
        # The compiled access line path (None: Python only) and the context it was given: (now,
        # source, path, host, observer), compared by identity at each line as _state is.
        self._native: Any = _native_access() if native else None
        self._native_for: tuple[Any, ...] = (None,) * 5

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        native = self._native
        if native is not None:
            now, source, path, host, observer = self._native_for
            if (
                ctx.now is now
                and ctx.source is source
                and ctx.path is path
                and ctx.host is host
                and ctx.observer is observer
            ):
                ev: Event | None = native.parse(line, ctx.position)
            else:
                ev = self._native_context(line, ctx)
            if ev is not None:
                return ev
        text = line.rstrip("\r\n")
        if not text or text.isspace():
            return None
        access = _ACCESS if "\\" in text else _ACCESS_PLAIN
        m = access.match(text)
        groups = None if m is None else m.groups()
        vhost = None
        # A vhost in front reads as a client "host:port" with the client address as ident (a real
        # ident is almost always "-", so only then is the vhost form tried).
        if (groups is None and text[:1] != "[") or (groups is not None and groups[1] != "-"):
            vh = _VHOST.match(text)
            if vh:
                mv = access.match(text, vh.end())
                if mv is not None:
                    groups, vhost = mv.groups(), vh.group("vhost")
        if groups is None:
            loose = _ACCESS_LOOSE.match(text) if '] "' in text else None
            if loose is None:
                return self._error_line(text, ctx)
            groups = loose.groups()
        # The access event, inline: a call per line for it, its stamp, address and request was
        # a tenth of the parse.
        ip, _ident, user, ts, req, status_text, size, ref, ua = groups
        state = self._state
        if state[0] is not ctx.now or state[1] is not ctx.source or state[2] is not ctx.path:
            state = self._context(ctx)
        _now, _source, _path, ingested, log_file, build, prefix = state
        position = ctx.position
        if type(position) is int and 0 <= position < ID_POSITIONS:
            eid = prefix + position.to_bytes(8, "big").hex()  # as event_id() makes it, without the call
        else:
            eid = event_id(ctx.source, position)
        status = int(status_text) if status_text != "-" else None
        hour, offset, hour_prefix = _LAST_HOUR  # _access_ts's common case: the last stamp's hour
        if (
            len(ts) == 26
            and hour_prefix
            and ts.startswith(hour)
            and ts.endswith(offset)
            and (mmss := ts[15:20]) in _MMSS
        ):
            stamp = f"{hour_prefix}{mmss}.000Z"
        else:
            stamp = _access_ts(ts, ctx.tz)
        address = SEEN_IP.get(ip)
        if address is None:
            address = is_ip(ip)
        if "\\" in text:  # most lines have nothing to unescape
            req, ref, ua = _unescape(req), ref and _unescape(ref), ua and _unescape(ua)
        head_values = (
            stamp, eid, ingested, text, *log_file, ctx.host or None, ctx.observer,
            None if status is None else ("success" if status < 400 else "failure"),
            ip if address else None, None if address else ip,
            user if user and user != "-" else None, status, int(size) if size != "-" else None,
            ref if ref and ref != "-" else None, ua if ua and ua != "-" else None,
        )  # fmt: skip
        ev = build(head_values, _REQUESTS.get(req) or _request(req))
        if vhost is not None:
            set_many(ev, vhost_fields(vhost))
        return ev

    def _error_line(self, text: str, ctx: LineContext) -> Event:
        """An nginx or Apache error line (anything else is no web log line)."""
        if text[:1] == "[":
            em = _APACHE_ERROR.match(text)
            if em:
                return self._apache_error(em, text, ctx)
        elif text[:1].isdigit():
            em = _NGINX_ERROR.match(text)
            if em:
                return self._nginx_error(em, text, ctx)
        raise InputError("collect.not_web_log")

    def _native_context(self, line: str, ctx: LineContext) -> Event | None:
        """The native path's event for the first line of a new context, given to it first."""
        state = self._context(ctx)
        _now, source, path, ingested, _log_file, _build, prefix = state
        vendor = self.vendor or _vendor_for(path or source)
        native = self._native
        if path == "":
            # log.file.path "" leaves _context's head values one short of its shape: not mirrored.
            native.clear()
        else:
            native.context(prefix, ingested, path, ctx.host or None, ctx.observer, vendor)
        self._native_for = (ctx.now, ctx.source, ctx.path, ctx.host, ctx.observer)
        event: Event | None = native.parse(line, ctx.position)
        return event

    def _context(self, ctx: LineContext) -> tuple[Any, ...]:
        path = ctx.path
        state = self._state
        if state[0] is not ctx.now or state[1] is not ctx.source or state[2] is not path:
            vendor = self.vendor or _vendor_for(path or ctx.source)
            ingested = state[3] if state[0] is ctx.now else format_ts(ctx.now)
            build = _access_build(vendor, path is not None)
            log_file = (path,) if path else ()
            self._state = state = (
                ctx.now,
                ctx.source,
                path,
                ingested,
                log_file,
                build,
                id_prefix(ctx.source),
            )
        return state

    def _nginx_error(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        try:
            stamp: datetime | str = datetime.strptime(m.group("ts"), "%Y/%m/%d %H:%M:%S").replace(
                tzinfo=ctx.tz
            )
        except ValueError:
            stamp = ctx.now
        msg = m.group("msg")
        ev = new_event(
            timestamp=stamp, dataset="nginx.error", module="nginx", source=ctx.source, position=ctx.position,
            original=text, message=msg, host=ctx.host, ingested=ctx.now, path=ctx.path, observer=ctx.observer,
        )  # fmt: skip
        level = m.group("level").lower()
        fields: dict[str, object] = {
            "event.category": ["web"],
            "event.type": ["error"],
            "log.level": _LEVELS.get(level, level),
            "process.pid": int(m.group("pid")),
            "process.thread.id": int(m.group("tid")),
        }
        cm = _NGINX_CLIENT.search(msg)
        if cm:
            fields["source.ip" if is_ip(cm.group("ip")) else "source.domain"] = cm.group("ip")
        rm = _NGINX_REQUEST.search(msg)
        if rm:
            fields.update(split_request(_unescape(rm.group("req"))))
        set_many(ev, fields)
        return ev

    def _apache_error(self, m: re.Match[str], text: str, ctx: LineContext) -> Event:
        stamp: datetime | str = ctx.now
        raw_ts = m.group("ts")
        parts = raw_ts.split()
        try:
            hms = parts[3].split(".")[0]
            stamp = datetime.strptime(f"{parts[2]} {parts[1]} {parts[4]} {hms}", "%d %b %Y %H:%M:%S").replace(
                tzinfo=ctx.tz
            )
        except (ValueError, IndexError):
            stamp = ctx.now
        msg = m.group("msg")
        ev = new_event(
            timestamp=stamp, dataset="apache.error", module="apache", source=ctx.source, position=ctx.position,
            original=text, message=msg, host=ctx.host, ingested=ctx.now, path=ctx.path, observer=ctx.observer,
        )  # fmt: skip
        level = m.group("level").lower()
        client = m.group("client") or ""
        ip, port = client, None
        if client.count(":") == 1:  # "1.2.3.4:5678" (2.4); 2.2 wrote the address alone
            ip, _, port_text = client.rpartition(":")
            port = int(port_text) if port_text.isdigit() else None
        fields: dict[str, object] = {
            "event.category": ["web"],
            "event.type": ["error"],
            "log.level": _LEVELS.get(level, level),
            "process.pid": int(m.group("pid")) if m.group("pid") else None,
            "apache.error.module": m.group("module"),
            "source.ip": ip if ip and is_ip(ip) else None,
            "source.port": port if ip and is_ip(ip) else None,
        }
        set_many(ev, fields)
        return ev

    def sniff(self, lines: Sequence[str]) -> float:
        if self.vendor is not None:
            return 0.0  # explicit choices only; "web" detects both and picks the vendor by path
        sample = [ln for ln in lines if ln.strip()][:20]
        if not sample:
            return 0.0
        ok = sum(1 for ln in sample if _is_web_line(ln))
        return 0.9 * ok / len(sample)


def _is_web_line(line: str) -> bool:
    if _ACCESS.match(line) or _APACHE_ERROR.match(line) or _NGINX_ERROR.match(line):
        return True
    vh = _VHOST.match(line)
    return bool(vh and _ACCESS.match(line, vh.end()))


def nginx() -> WebLogParser:
    """The ``nginx`` format: access lines become ``nginx.access``."""
    return WebLogParser("nginx")


def apache() -> WebLogParser:
    """The ``apache`` format: access lines become ``apache.access``."""
    return WebLogParser("apache")


__all__ = ["WebLogParser", "apache", "nginx", "split_request"]
