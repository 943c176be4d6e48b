"""ECS events for packets (datasets ``network.flow``, ``network.dns``, ``network.http``, ``network.tls``,
``network.icmp``, ``network.arp``, ``network.dhcp``), built with :mod:`canh.events`.

Event ids are deterministic: ``event_id(source, packet_index * 16 + slot)``, where the flow event of a
flow takes slot 0 of its first packet and application events take the following slots of the packet
that carried them, so reading the same capture twice stores nothing twice.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from canh.collectors.packets.decode import ICMP, TCP, mac_text

from canh.events import Event, format_ts, new_event, set_many

if TYPE_CHECKING:
    from canh.collectors.packets.flows import Flow

MODULE = "network"
ICMP4_TYPES = {
    0: "Echo Reply",
    3: "Destination Unreachable",
    4: "Source Quench",
    5: "Redirect",
    8: "Echo Request",
    9: "Router Advertisement",
    10: "Router Solicitation",
    11: "Time Exceeded",
    12: "Parameter Problem",
    13: "Timestamp",
    14: "Timestamp Reply",
}
ICMP6_TYPES = {
    1: "Destination Unreachable",
    2: "Packet Too Big",
    3: "Time Exceeded",
    4: "Parameter Problem",
    128: "Echo Request",
    129: "Echo Reply",
    130: "Multicast Listener Query",
    131: "Multicast Listener Report",
    133: "Router Solicitation",
    134: "Router Advertisement",
    135: "Neighbor Solicitation",
    136: "Neighbor Advertisement",
    137: "Redirect",
    143: "Multicast Listener Report v2",
}
_TRANSPORT = {
    6: "tcp",
    17: "udp",
    1: "icmp",
    58: "ipv6-icmp",
    132: "sctp",
    47: "gre",
    50: "esp",
    51: "ah",
    2: "igmp",
    89: "ospf",
    112: "vrrp",
}
_AF = {4: socket.AF_INET, 16: socket.AF_INET6}


def ip_text(packed: bytes) -> str:
    """Text form of a packed IPv4/IPv6 address."""
    return socket.inet_ntop(_AF[len(packed)], packed)


class EventFactory:
    """Builds the ECS events of one capture source (a file path or ``capture://iface``)."""

    def __init__(
        self, *, source: str, host: str | None = None, ingested: Callable[[], str] | None = None
    ) -> None:
        self.source = source
        self.host = host
        self._ingested = ingested or (lambda: format_ts(datetime.now(UTC)))
        self._sec = -1
        self._prefix = ""
        self._ing_at = 0.0
        self._ing = ""

    def ts(self, epoch: float) -> str:
        """``@timestamp`` text of a capture time (cached per second: many packets share one)."""
        # Half a microsecond up: capture stamps are whole microseconds, floats fall just short of them.
        ms = int(epoch * 1000 + 0.0005)
        sec = ms // 1000
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{ms % 1000:03d}Z"

    def _base(
        self, ts: float, dataset: str, index: int, slot: int, message: str, source: str | None = None
    ) -> Event:
        now = time.monotonic()
        if now - self._ing_at > 0.5:
            self._ing_at = now
            self._ing = self._ingested()
        event = new_event(
            timestamp=self.ts(ts),
            dataset=dataset,
            module=MODULE,
            source=self.source,
            position=index * 16 + slot,
            message=message,
            host=self.host,
            ingested=None,
        )
        event["event"]["ingested"] = self._ing
        return event

    @staticmethod
    def _endpoints(
        src: bytes, sport: int | None, dst: bytes, dport: int | None, proto: int
    ) -> dict[str, Any]:
        return {
            "source.ip": ip_text(src),
            "source.port": sport,
            "destination.ip": ip_text(dst),
            "destination.port": dport,
            "network.transport": _TRANSPORT.get(proto, str(proto)),
            "network.iana_number": str(proto),
            "network.type": "ipv4" if len(src) == 4 else "ipv6",
        }

    def _flow_side(self, flow: Flow) -> tuple[bytes, int, bytes, int, int]:
        src, sport, dst, dport, proto, _ = flow.key
        if flow.rev:
            src, sport, dst, dport = dst, dport, src, sport
        return src, sport, dst, dport, proto

    def _cid(self, flow: Flow) -> str:
        if flow.cid is None:
            from canh.collectors.packets.flows import flow_community_id

            flow.cid = flow_community_id(flow)
        return flow.cid

    def flow(self, flow: Flow, reason: str) -> Event:
        """The ``network.flow`` event of a finished (or timed-out / evicted) flow."""
        from canh.collectors.packets.flows import PORT_PROTOCOLS, flag_names

        src, sport, dst, dport, proto = self._flow_side(flow)
        ported = proto in (6, 17, 132)
        transport = _TRANSPORT.get(proto, str(proto))
        s_txt, d_txt = ip_text(src), ip_text(dst)
        message = (
            f"{transport} {s_txt}:{sport} -> {d_txt}:{dport}" if ported else f"{transport} {s_txt} -> {d_txt}"
        )
        event = self._base(flow.start, "network.flow", flow.first, 0, message, flow.origin)
        fields = self._endpoints(src, sport if ported else None, dst, dport if ported else None, proto)
        protocol = flow.app or PORT_PROTOCOLS.get(dport) or PORT_PROTOCOLS.get(sport) if ported else None
        duration = flow.last - flow.start
        fields.update(
            {
                "event.kind": "event",
                "event.category": ["network"],
                "event.type": ["connection", "end"],
                "event.action": "network_flow",
                "event.start": self.ts(flow.start),
                "event.end": self.ts(flow.last),
                "event.duration": int(duration * 1e9),
                "event.reason": reason,
                "network.protocol": protocol or None,
                "network.community_id": self._cid(flow),
                "network.bytes": flow.bytes_f + flow.bytes_r,
                "network.packets": flow.pkts_f + flow.pkts_r,
                "source.bytes": flow.bytes_f,
                "source.packets": flow.pkts_f,
                "destination.bytes": flow.bytes_r,
                "destination.packets": flow.pkts_r,
                "network.vlan.id": str(flow.key[5]) if flow.key[5] else None,
                "flow.end_reason": reason,
            }
        )
        if proto == TCP:
            fields["flow.tcp_flags"] = flag_names(flow.flags_f | flow.flags_r)
            fields["flow.source_tcp_flags"] = flag_names(flow.flags_f)
            fields["flow.destination_tcp_flags"] = flag_names(flow.flags_r)
            if flow.flags_f & 0x02 and flow.flags_r & 18 != 18:
                fields["event.outcome"] = "failure" if flow.flags_r & 0x04 or not flow.pkts_r else "unknown"
            elif flow.flags_r & 0x12 == 0x12:
                fields["event.outcome"] = "success"
        elif proto in (1, 58):
            fields["icmp.type"] = flow.key[3] if flow.rev else flow.key[1]
        if flow.macs:
            fields["source.mac"] = mac_text(flow.macs[0])
            fields["destination.mac"] = mac_text(flow.macs[1])
        set_many(event, fields)
        return event

    def _app(
        self,
        dataset: str,
        ts: float,
        index: int,
        slot: int,
        message: str,
        r: tuple,
        flow: Flow | None,
        action: str,
        protocol: str,
    ) -> tuple[Event, dict[str, Any]]:
        event = self._base(ts, dataset, index, slot, message)
        fields = self._endpoints(r[1], r[3], r[2], r[4], r[0])
        fields.update(
            {
                "event.kind": "event",
                "event.category": ["network"],
                "event.type": ["protocol"],
                "event.action": action,
                "network.protocol": protocol,
            }
        )
        if flow is not None:
            fields["network.community_id"] = self._cid(flow)
        return event, fields

    def dns(self, r: tuple, ts: float, index: int, dns: dict[str, Any], flow: Flow | None) -> Event:
        """One DNS message (query or answer) seen in a packet."""
        q = dns.get("question", {})
        kind = dns["type"]
        message = f"DNS {kind} {q.get('name', '')} {q.get('type', '')}"
        if kind == "answer":
            message += f" {dns.get('response_code', '')}"
        event, fields = self._app("network.dns", ts, index, 1, message, r, flow, f"dns_{kind}", "dns")
        fields["dns"] = dns
        if kind == "answer":
            fields["event.outcome"] = "success" if dns.get("response_code") == "NOERROR" else "failure"
        if dns.get("resolved_ip"):
            fields["related.ip"] = dns["resolved_ip"]
        set_many(event, fields)
        return event

    def tls(self, flow: Flow, ts: float, index: int, kind: str, tls: dict[str, Any]) -> Event:
        """A TLS ClientHello or ServerHello, on the flow's orientation (source = client)."""
        src, sport, dst, dport, proto = self._flow_side(flow)
        r = (proto, src, dst, sport, dport)
        sni = tls.get("client", {}).get("server_name", "")
        message = f"TLS {kind} {sni}".rstrip()
        event, fields = self._app("network.tls", ts, index, 1, message, r, flow, f"tls_{kind}", "tls")
        fields["tls"] = tls
        if sni:
            fields["destination.domain"] = sni
            fields["server.domain"] = sni
        set_many(event, fields)
        return event

    def http(
        self,
        flow: Flow,
        index: int,
        ts: float,
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
    ) -> Event:
        """An HTTP transaction: request and its response (either may be missing)."""
        src, sport, dst, dport, proto = self._flow_side(flow)
        r = (proto, src, dst, sport, dport)
        req = request or {}
        resp = response or {}
        status = resp.get("http.response.status_code")
        message = f"HTTP {req.get('http.request.method', '-')} {req.get('url.domain', '')}{req.get('url.original', '')}"
        if status is not None:
            message += f" {status}"
        event, fields = self._app("network.http", ts, index, 15, message, r, flow, "http_request", "http")
        fields["event.category"] = ["network", "web"]
        fields["event.type"] = ["protocol", "access"]
        fields.update(req)
        fields.update(resp)
        if status is not None:
            fields["event.outcome"] = "failure" if status >= 400 else "success"
        if "url.domain" in req:
            fields["destination.domain"] = req["url.domain"]
        set_many(event, fields)
        return event

    def dhcp(self, r: tuple, ts: float, index: int, dhcp: dict[str, Any], flow: Flow | None) -> Event:
        """A DHCP message; an ``ack`` is a lease (assigned address, client MAC, host name)."""
        mtype = dhcp.get("message_type", "bootp")
        message = f"DHCP {mtype} {dhcp.get('client_mac', '')} {dhcp.get('assigned_ip', '')} {dhcp.get('hostname', '')}"
        event, fields = self._app(
            "network.dhcp", ts, index, 1, message.strip(), r, flow, f"dhcp_{mtype}", "dhcp"
        )
        fields["dhcp"] = dhcp
        if mtype == "ack" and "assigned_ip" in dhcp:
            fields["event.type"] = ["protocol", "allowed"]
            fields["related.ip"] = [dhcp["assigned_ip"]]
        if dhcp.get("hostname"):
            fields["related.hosts"] = [dhcp["hostname"]]
        set_many(event, fields)
        return event

    def icmp(self, r: tuple, ts: float, index: int, flow: Flow | None) -> Event:
        """One ICMP or ICMPv6 message."""
        proto, itype, code = r[0], r[3], r[4]
        names = ICMP4_TYPES if proto == ICMP else ICMP6_TYPES
        name = names.get(itype, str(itype))
        message = (
            f"{'ICMP' if proto == ICMP else 'ICMPv6'} {name} code {code} {ip_text(r[1])} -> {ip_text(r[2])}"
        )
        event = self._base(ts, "network.icmp", index, 1, message)
        fields = self._endpoints(r[1], None, r[2], None, proto)
        fields.update(
            {
                "event.kind": "event",
                "event.category": ["network"],
                "event.type": ["protocol"],
                "event.action": "icmp",
                "network.protocol": "icmp" if proto == ICMP else "icmpv6",
                "icmp.type": itype,
                "icmp.code": code,
                "icmp.type_name": name,
            }
        )
        if flow is not None:
            fields["network.community_id"] = self._cid(flow)
        set_many(event, fields)
        return event

    def arp(self, r: tuple, ts: float, index: int, previous: bytes | None) -> Event:
        """An ARP request/reply, or (``previous`` given) the detector's finding that an IP changed MAC."""
        _, vlan, op, sha, spa, tha, tpa = r
        sender_ip, target_ip = ip_text(spa), ip_text(tpa)
        op_name = {1: "request", 2: "reply"}.get(op, str(op))
        gratuitous = spa == tpa
        if previous is None:
            message = (
                f"ARP {op_name} {sender_ip} is-at {mac_text(sha)}"
                if op == 2
                else f"ARP {op_name} who-has {target_ip} tell {sender_ip}"
            )
            event = self._base(ts, "network.arp", index, 1, message)
            fields: dict[str, Any] = {
                "event.kind": "event",
                "event.category": ["network"],
                "event.type": ["protocol"],
                "event.action": f"arp_{op_name}",
            }
        else:
            message = f"ARP: {sender_ip} moved from {mac_text(previous)} to {mac_text(sha)}"
            event = self._base(ts, "network.arp", index, 2, message)
            fields = {
                "event.kind": "alert",
                "event.category": ["network"],
                "event.type": ["change", "indicator"],
                "event.action": "arp_mac_change",
                "arp.previous_mac": mac_text(previous),
                "tags": ["arp_mac_change"],
            }
        fields.update(
            {
                "network.protocol": "arp",
                "network.type": "ipv4",
                "source.ip": sender_ip,
                "source.mac": mac_text(sha),
                "destination.ip": target_ip,
                "destination.mac": mac_text(tha),
                "arp.operation": op_name,
                "arp.gratuitous": gratuitous,
                "network.vlan.id": str(vlan) if vlan else None,
            }
        )
        set_many(event, fields)
        return event
