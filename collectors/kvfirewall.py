"""Key=value firewall logs (FortiGate style: ``date=.. time=.. srcip=.. dstip=.. action="deny"``) to ECS.

FortiGate is common in Vietnamese agencies; it sends these bodies over syslog, with or without a
syslog header. Keys the mapping does not name are kept under ``fortinet.firewall.*``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, tzinfo

from canh.collectors.registry import LineContext, LineParser
from canh.events import Event, format_ts, local_zone, new_event, set_many

_KV = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|\S*)')
_PRI = re.compile(r"^<(\d{1,3})>")
_KEY_FIRST = re.compile(r"^[\w-]+=")
_PROTOCOLS = {
    "1": "icmp",
    "6": "tcp",
    "17": "udp",
    "47": "gre",
    "50": "esp",
    "58": "ipv6-icmp",
    "132": "sctp",
}
_ALLOW = frozenset(
    {"accept", "pass", "allow", "close", "permit", "client-rst", "server-rst", "timeout", "start"}
)
_DENY = frozenset({"deny", "drop", "block", "blocked", "reject", "dropped"})
# key -> ECS field; ints are converted where ECS says long
_MAP = {
    "srcip": "source.ip", "src": "source.ip", "src_ip": "source.ip",
    "dstip": "destination.ip", "dst": "destination.ip", "dst_ip": "destination.ip",
    "srcintf": "observer.ingress.interface.name", "dstintf": "observer.egress.interface.name",
    "policyid": "rule.id", "policyname": "rule.name", "devname": "observer.name", "devid": "observer.serial_number",
    "user": "user.name", "srcuser": "user.name", "msg": "message", "level": "log.level",
    "srcmac": "source.mac", "dstmac": "destination.mac", "hostname": "url.domain", "url": "url.original",
    "srcname": "source.domain", "dstname": "destination.domain", "srccountry": "source.geo.country_name",
    "dstcountry": "destination.geo.country_name", "sessionid": "network.session_id",
    "attack": "rule.name", "attackid": "rule.id",
}  # fmt: skip
_INT_MAP = {
    "srcport": "source.port", "src_port": "source.port", "spt": "source.port",
    "dstport": "destination.port", "dst_port": "destination.port", "dpt": "destination.port",
    "sentbyte": "source.bytes", "rcvdbyte": "destination.bytes", "sentpkt": "source.packets", "rcvdpkt": "destination.packets",
    "duration": "fortinet.firewall.duration",
}  # fmt: skip
_SKIP = frozenset({"date", "time", "tz", "eventtime", "proto", "action", "type", "subtype"})


def looks_like_kv_firewall(msg: str) -> bool:
    """Whether a syslog body is a key=value firewall record."""
    return ("srcip=" in msg and "dstip=" in msg) or ("devname=" in msg and "logid=" in msg)


def parse_kv(text: str) -> dict[str, str]:
    """``key=value`` pairs, values optionally double-quoted (quotes removed, ``\\"`` unescaped)."""
    out: dict[str, str] = {}
    for key, value in _KV.findall(text):
        if value[:1] == '"' and value[-1:] == '"' and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"')
        out[key] = value
    return out


def _stamp(kv: dict[str, str], tz: tzinfo) -> datetime | None:
    eventtime = kv.get("eventtime", "")
    if eventtime.isdigit():
        n = int(eventtime)
        # FortiOS 6.2+ writes nanoseconds, older microseconds or seconds since the epoch.
        for scale in (1_000_000_000, 1_000_000, 1_000, 1):
            if n // scale < 10_000_000_000:
                try:
                    return datetime.fromtimestamp(n / scale, tz).astimezone(tz)
                except (OverflowError, OSError, ValueError):
                    return None
    date, time = kv.get("date"), kv.get("time")
    if not date or not time:
        return None
    zone = tz
    if kv.get("tz"):
        try:
            offset = kv["tz"]
            zone = local_zone(
                f"{offset[:3]}:{offset[3:5]}" if ":" not in offset and len(offset) == 5 else offset
            )
        except (ValueError, KeyError, OSError):
            zone = tz
    try:
        return datetime.fromisoformat(f"{date}T{time}").replace(tzinfo=zone)
    except ValueError:
        return None


def kv_firewall_fields(msg: str, tz: tzinfo) -> dict[str, object]:
    """The network fields (dotted paths, dataset fortinet.firewall) of a key=value firewall body."""
    kv = parse_kv(msg)
    action = kv.get("action", "").lower()
    fields: dict[str, object] = {
        "event.dataset": "fortinet.firewall",
        "event.module": "fortinet",
        "event.category": ["network"],
        "event.action": action or kv.get("subtype") or "log",
        "observer.vendor": "Fortinet",
        "observer.product": "FortiGate",
        "observer.type": "firewall",
    }
    if action in _ALLOW:
        fields["event.type"] = ["connection", "allowed"]
        fields["event.outcome"] = "success"
    elif action in _DENY:
        fields["event.type"] = ["connection", "denied"]
        fields["event.outcome"] = "failure"
    else:
        fields["event.type"] = ["connection"]
    proto = kv.get("proto")
    if proto:
        fields["network.transport"] = _PROTOCOLS.get(proto, proto.lower())
        fields["network.iana_number"] = proto if proto.isdigit() else None
    if kv.get("service"):
        fields["network.protocol"] = kv["service"].lower()
    for key, value in kv.items():
        if not value or key in _SKIP:
            continue
        target = _MAP.get(key)
        if target is not None:
            fields.setdefault(target, value)
            continue
        target = _INT_MAP.get(key)
        if target is not None and value.isdigit() and len(value) < 19:
            fields[target] = int(value)
            continue
        fields[f"fortinet.firewall.{key}"] = value
    for key in ("type", "subtype"):
        if kv.get(key):
            fields[f"fortinet.firewall.{key}"] = kv[key]
    if kv.get("devname"):
        # The firewall is the observer: its own name, not the machine that read its log.
        fields["observer.hostname"] = kv["devname"]
    src_role, dst_role = kv.get("srcintfrole"), kv.get("dstintfrole")
    if src_role == "wan" and dst_role != "wan":
        fields["network.direction"] = "inbound"
    elif dst_role == "wan" and src_role != "wan":
        fields["network.direction"] = "outbound"
    elif src_role and dst_role:
        fields["network.direction"] = "internal"
    stamp = _stamp(kv, tz)
    if stamp is not None:
        fields["@timestamp"] = format_ts(stamp)
    return fields


class KvFirewallParser:
    """Key=value firewall lines without a syslog header (``<189>date=.. time=.. devname=..``)."""

    name = "fortinet"

    def __init__(self) -> None:
        # The syslog parser for lines with a header in front, kept: its hour tables, builders and
        # native fast path are made once, not for every such line.
        self._syslog: LineParser | None = None

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        text = line.rstrip("\r\n")
        if not text.strip():
            return None
        body = text
        pri = None
        m = _PRI.match(text)
        if m:
            pri = int(m.group(1))
            body = text[m.end() :]
        ev = new_event(
            timestamp=ctx.now, dataset="fortinet.firewall", module="fortinet", source=ctx.source,
            position=ctx.position, original=text, host=ctx.host, ingested=ctx.now, path=ctx.path,
            observer=ctx.observer,
        )  # fmt: skip
        if pri is not None:
            set_many(ev, {"log.syslog.priority": pri, "log.syslog.facility.code": pri // 8,
                          "log.syslog.severity.code": pri % 8})  # fmt: skip
        if not _KEY_FIRST.match(body):
            # A syslog header in front: the syslog parser reads it and hands the body back here.
            if self._syslog is None:
                from canh.collectors.syslog import SyslogParser

                self._syslog = SyslogParser()
            return self._syslog.parse(text, ctx)
        set_many(ev, kv_firewall_fields(body, ctx.tz))
        return ev

    def sniff(self, lines: Sequence[str]) -> float:
        sample = [ln for ln in lines if ln.strip()][:20]
        if not sample:
            return 0.0
        ok = sum(1 for ln in sample if _KEY_FIRST.match(_PRI.sub("", ln, 1)) and looks_like_kv_firewall(ln))
        return 0.8 * ok / len(sample)


__all__ = ["KvFirewallParser", "kv_firewall_fields", "looks_like_kv_firewall", "parse_kv"]
