"""iptables / nftables kernel log lines (``IN=eth0 OUT= SRC=.. DST=.. PROTO=TCP SPT=.. DPT=..``) to ECS."""

from __future__ import annotations

import re

_FIELD = re.compile(r"([A-Z]+)=(\S*)")
_UPTIME = re.compile(r"^\[\s*\d+\.\d+\]\s*")
_TRANSPORTS = {
    "TCP": "tcp",
    "UDP": "udp",
    "ICMP": "icmp",
    "ICMPV6": "ipv6-icmp",
    "SCTP": "sctp",
    "GRE": "gre",
}
_VERBS = (("ACCEPT", "accept"), ("ALLOW", "accept"), ("REJECT", "reject"), ("DROP", "drop"), ("BLOCK", "drop"),
          ("DENY", "drop"))  # fmt: skip


def is_netfilter(msg: str) -> bool:
    """Whether a kernel message body is a packet log line."""
    return "SRC=" in msg and "DST=" in msg and ("IN=" in msg or "PROTO=" in msg)


def _action(prefix: str) -> str:
    upper = prefix.upper()
    for word, action in _VERBS:
        if word in upper:
            return action
    cleaned = prefix.strip(" []:-").lower()
    return cleaned or "log"


def netfilter_fields(msg: str) -> dict[str, object]:
    """The network fields (dotted paths, dataset iptables.log) of a packet log line."""
    body = _UPTIME.sub("", msg) if msg.startswith("[") and msg[1:2] in " 0123456789" else msg
    start = body.find("IN=")
    if start < 0:
        start = body.find("SRC=")
    prefix = body[:start].strip()
    kv = dict(_FIELD.findall(body[start:]))
    proto = kv.get("PROTO", "")
    transport = _TRANSPORTS.get(proto.upper(), proto.lower() or None)
    inside, outside = kv.get("IN", ""), kv.get("OUT", "")
    if inside and not outside:
        direction = "inbound"
    elif outside and not inside:
        direction = "outbound"
    else:
        direction = "unknown"
    mac = kv.get("MAC", "")
    fields: dict[str, object] = {
        "event.dataset": "iptables.log",
        "event.module": "iptables",
        "event.category": ["network"],
        "event.type": ["connection", "denied" if _action(prefix) in ("drop", "reject") else "allowed"],
        "event.action": _action(prefix),
        "rule.name": prefix.strip(" :") or None,
        "source.ip": kv.get("SRC") or None,
        "destination.ip": kv.get("DST") or None,
        "source.port": int(kv["SPT"]) if kv.get("SPT", "").isdigit() else None,
        "destination.port": int(kv["DPT"]) if kv.get("DPT", "").isdigit() else None,
        "network.transport": transport,
        "network.direction": direction,
        "observer.ingress.interface.name": inside or None,
        "observer.egress.interface.name": outside or None,
        "source.bytes": int(kv["LEN"]) if kv.get("LEN", "").isdigit() else None,
        "iptables.ttl": int(kv["TTL"]) if kv.get("TTL", "").isdigit() else None,
        "iptables.id": kv.get("ID"),
        "iptables.icmp.type": int(kv["TYPE"])
        if transport == "icmp" and kv.get("TYPE", "").isdigit()
        else None,
        "iptables.icmp.code": int(kv["CODE"])
        if transport == "icmp" and kv.get("CODE", "").isdigit()
        else None,
    }
    if len(mac) == 41:  # dst(6):src(6):ethertype(2), colon separated
        fields["destination.mac"] = mac[:17].upper().replace(":", "-")
        fields["source.mac"] = mac[18:35].upper().replace(":", "-")
    return fields


__all__ = ["is_netfilter", "netfilter_fields"]
