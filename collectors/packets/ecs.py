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

from canh.collectors.packets.decode import _MAC_TEXT, ICMP, TCP, mac_text
from canh.events import (
    ECS_VERSION,
    ID_POSITIONS,
    Event,
    event_id,
    expand,
    format_ts,
    id_prefix,
    is_file_source,
    set_field,
)

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
# network.transport and network.iana_number by the IP protocol byte: a tuple item read instead of a
# dict.get call and an ``or`` (two per flow and application event).
_TRANSPORT_TEXT = tuple(_TRANSPORT.get(proto) or str(proto) for proto in range(256))
_IANA_TEXT = tuple(str(proto) for proto in range(256))
_AF = {4: socket.AF_INET, 16: socket.AF_INET6}
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))  # the end of a timestamp, by milliseconds
_monotonic = time.monotonic
_NONE: dict[str, Any] = {}


def put(event: Event, fields: dict[str, Any]) -> None:
    """Set dotted ``fields`` (``None`` skipped) one top-level object at a time.

    Same result as :func:`canh.events.set_many`, about four times faster for the twenty-odd fields of a
    flow: grouping by the first name element makes one nested object per group instead of walking
    the path of every field (events are built per flow on the sensor's hot path).
    """
    groups: dict[str, Any] = {}
    for path, value in fields.items():
        if value is None:
            continue
        head, _, rest = path.partition(".")
        if rest:
            sub = groups.get(head)
            if sub is None:
                groups[head] = sub = {}
            sub[rest] = value
        else:
            groups[head] = value
    for head, sub in groups.items():
        if sub.__class__ is dict:
            for key in sub:
                if "." in key:
                    sub = expand(sub)
                    break
            existing = event.get(head)
            if existing.__class__ is dict:
                existing.update(sub)
                continue
        set_field(event, head, sub)


_IP_TEXT: dict[bytes, str] = {}
_inet_ntop = socket.inet_ntop


def ip_text(packed: bytes) -> str:
    """Text form of a packed IPv4/IPv6 address (cached: a link's addresses repeat in flow after flow)."""
    text = _IP_TEXT.get(packed)
    if text is None:
        text = _inet_ntop(_AF[len(packed)], packed)
        if len(_IP_TEXT) >= 65536:
            _IP_TEXT.clear()
        _IP_TEXT[packed] = text
    return text


class EventFactory:
    """Builds the ECS events of one capture source (a file path or ``capture://iface``).

    The envelope every event carries (the fields :func:`canh.events.new_event` sets) is laid out here
    from cached parts: the event id's source hash and the ``event.ingested`` text are computed once,
    not per event (a flow event costs a few microseconds instead of thirty). ``test_events`` checks
    that it stays identical to ``new_event``'s.
    """

    def __init__(
        self,
        *,
        source: str,
        host: str | None = None,
        interface: str | None = None,
        ingested: Callable[[], datetime] | None = None,
    ) -> None:
        self.source = source
        self.host = host
        self.interface = interface
        self._ingested = ingested or (lambda: datetime.now(UTC))
        self._seconds: dict[int, str] = {}
        self._ing_at = 0.0
        self._ing = datetime.now(UTC)
        self._ing_text = format_ts(self._ing)
        self._sources: dict[str, tuple[str, bool]] = {}
        # The source of the last event and its _source(): events come in runs of one source.
        self._own: tuple[str, str, bool] = (source, *self._source(source))
        from canh.collectors.packets import flows  # flows imports this module; it is loaded by now

        self._ports = flows.PORT_PROTOCOLS
        self._flag_names = flows.flag_names
        self._flag_lists = flows._FLAG_LISTS
        self._community_id = flows.flow_community_id

    def ts(self, epoch: float) -> str:
        """``@timestamp`` text of a capture time (second prefixes cached: flows start and end in a few)."""
        # Half a microsecond up: capture stamps are whole microseconds, floats fall just short of them.
        ms = int(epoch * 1000 + 0.0005)
        # seconds and milliseconds in one call (here and inline below): a floor division, a product
        # and a difference of these two-digit ints cost more
        sec, ms = divmod(ms, 1000)
        prefix = self._seconds.get(sec)
        if prefix is None:
            if len(self._seconds) >= 4096:
                self._seconds.clear()
            prefix = self._seconds[sec] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return prefix + _MILLIS[ms]

    def _source(self, source: str) -> tuple[str, bool]:
        """(event id prefix, as :func:`canh.events.id_prefix`; whether it is a file path)."""
        known = self._sources.get(source)
        if known is None:
            if len(self._sources) > 4096:
                self._sources.clear()
            known = self._sources[source] = (id_prefix(source), is_file_source(source))
        return known

    def _head(
        self,
        ts_text: str,
        dataset: str,
        position: int,
        message: str,
        source: str | None,
        category: list[str] | None = None,
        types: list[str] | None = None,
        action: str = "",
    ) -> Event:
        """An event with the envelope of ``new_event`` and ``observer``; with a ``category``, its
        ``event`` object has ``category``, ``type`` and ``action`` after the envelope's fields."""
        if source is None:
            source = self.source
        # The event id and ingest stamp, inline here and in flow() (a method call for them cost more
        # than their lines on these paths, every event); one clock reading per half second.
        now = _monotonic()
        if now - self._ing_at > 0.5:
            self._ing_at = now
            self._ing = self._ingested()
            self._ing_text = format_ts(self._ing)
        own = self._own
        if own[0] is source:
            prefix, is_file = own[1], own[2]
        else:
            prefix, is_file = self._source(source)
            self._own = (source, prefix, is_file)
        eid = (
            prefix + position.to_bytes(8, "big").hex()
            if 0 <= position < ID_POSITIONS
            else event_id(source, position)
        )
        # One display with the application fields (merging a dict of them made that dict and grew
        # this one past its first size on every application event)
        event_part: dict[str, Any] = (
            {
                "id": eid,
                "kind": "event",
                "dataset": dataset,
                "module": MODULE,
                "ingested": self._ing_text,
            }
            if category is None
            else {
                "id": eid,
                "kind": "event",
                "dataset": dataset,
                "module": MODULE,
                "ingested": self._ing_text,
                "category": category,
                "type": types,
                "action": action,
            }
        )
        # One dict display per shape (the host and interface are fixed per factory): building the
        # envelope key by key cost a dict resize and a store per field on every event.
        host = self.host
        if host:
            observer: dict[str, Any] = {"hostname": host, "type": "sensor"}
            if self.interface:
                observer["ingress"] = {"interface": {"name": self.interface}}
            if is_file:
                return {
                    "@timestamp": ts_text,
                    "ecs": {"version": ECS_VERSION},
                    "event": event_part,
                    "log": {"file": {"path": source}},
                    "message": message,
                    "host": {"name": host},
                    "observer": observer,
                }
            return {
                "@timestamp": ts_text,
                "ecs": {"version": ECS_VERSION},
                "event": event_part,
                "message": message,
                "host": {"name": host},
                "observer": observer,
            }
        observer = {"type": "sensor"}
        if self.interface:
            observer["ingress"] = {"interface": {"name": self.interface}}
        if is_file:
            return {
                "@timestamp": ts_text,
                "ecs": {"version": ECS_VERSION},
                "event": event_part,
                "log": {"file": {"path": source}},
                "message": message,
                "observer": observer,
            }
        return {
            "@timestamp": ts_text,
            "ecs": {"version": ECS_VERSION},
            "event": event_part,
            "message": message,
            "observer": observer,
        }

    def _base(
        self, ts: float, dataset: str, index: int, slot: int, message: str, source: str | None = None
    ) -> Event:
        return self._head(self.ts(ts), dataset, index * 16 + slot, message, source)

    def _flow_side(self, flow: Flow) -> tuple[bytes, int, bytes, int, int]:
        src, sport, dst, dport, proto, _ = flow.key
        if flow.rev:
            src, sport, dst, dport = dst, dport, src, sport
        return src, sport, dst, dport, proto

    def _cid(self, flow: Flow) -> str:
        if flow.cid is None:
            flow.cid = self._community_id(flow)
        return flow.cid

    def flow(self, flow: Flow, reason: str) -> Event:
        """The ``network.flow`` event of a finished (or timed-out / evicted) flow."""
        # Built in final form, one dict display per object, with the timestamp and address-text
        # caches read inline: a flow event per connection is the collector's most frequent event.
        key = flow.key
        src, sport, dst, dport, proto, vlan = key
        if flow.rev:
            src, sport, dst, dport = dst, dport, src, sport
        s_txt = _IP_TEXT.get(src) or ip_text(src)
        d_txt = _IP_TEXT.get(dst) or ip_text(dst)
        seconds = self._seconds
        t0, t1 = flow.start, flow.last
        ms = int(t0 * 1000 + 0.0005)  # as ts(): half a microsecond up
        sec, ms = divmod(ms, 1000)
        prefix = seconds.get(sec)
        start = (prefix or self.ts(t0)[:-5]) + _MILLIS[ms]
        ms = int(t1 * 1000 + 0.0005)
        sec, ms = divmod(ms, 1000)
        prefix = seconds.get(sec)
        end = (prefix or self.ts(t1)[:-5]) + _MILLIS[ms]
        pkts_f, pkts_r, bytes_f, bytes_r = flow.pkts_f, flow.pkts_r, flow.bytes_f, flow.bytes_r
        cid = flow.cid
        if cid is None:
            cid = flow.cid = self._community_id(flow)
        transport = _TRANSPORT_TEXT[proto]
        network: dict[str, Any] = {
            "transport": transport,
            "iana_number": _IANA_TEXT[proto],
            "type": "ipv4" if len(src) == 4 else "ipv6",
            "community_id": cid,
            "bytes": bytes_f + bytes_r,
            "packets": pkts_f + pkts_r,
        }
        if proto == 6 or proto == 17 or proto == 132:
            message = f"{transport} {s_txt}:{sport} -> {d_txt}:{dport}"
            source: dict[str, Any] = {"ip": s_txt, "bytes": bytes_f, "packets": pkts_f, "port": sport}
            destination: dict[str, Any] = {"ip": d_txt, "bytes": bytes_r, "packets": pkts_r, "port": dport}
            ports = self._ports
            protocol = flow.app or ports.get(dport) or ports.get(sport)
            if protocol:
                network["protocol"] = protocol
        else:
            message = f"{transport} {s_txt} -> {d_txt}"
            source = {"ip": s_txt, "bytes": bytes_f, "packets": pkts_f}
            destination = {"ip": d_txt, "bytes": bytes_r, "packets": pkts_r}
        if vlan:
            network["vlan"] = {"id": str(vlan)}
        if proto == TCP:
            ff, fr = flow.flags_f, flow.flags_r
            names = self._flag_lists
            flow_info: dict[str, Any] = {
                "end_reason": reason,
                "tcp_flags": names[(ff | fr) & 0xFF].copy(),
                "source_tcp_flags": names[ff & 0xFF].copy(),
                "destination_tcp_flags": names[fr & 0xFF].copy(),
            }
            if fr & 0x12 == 0x12:
                outcome: str | None = "success"
            elif ff & 0x02:
                outcome = "failure" if fr & 0x04 or not pkts_r else "unknown"
            else:
                outcome = None
        else:
            flow_info = {"end_reason": reason}
            outcome = None
        macs = flow.macs
        if macs:
            source["mac"] = _MAC_TEXT.get(macs[0]) or mac_text(macs[0])
            destination["mac"] = _MAC_TEXT.get(macs[1]) or mac_text(macs[1])
        origin = flow.origin if flow.origin is not None else self.source
        # The event id and ingest stamp, inline as in _head (a call costs about as much as its lines)
        now = _monotonic()
        if now - self._ing_at > 0.5:
            self._ing_at = now
            self._ing = self._ingested()
            self._ing_text = format_ts(self._ing)
        own = self._own
        if own[0] is origin:
            prefix, is_file = own[1], own[2]
        else:
            prefix, is_file = self._source(origin)
            self._own = (origin, prefix, is_file)
        position = flow.first * 16
        eid = (
            prefix + position.to_bytes(8, "big").hex()
            if 0 <= position < ID_POSITIONS
            else event_id(origin, position)
        )
        ev: dict[str, Any] = {
            "id": eid,
            "kind": "event",
            "dataset": "network.flow",
            "module": MODULE,
            "ingested": self._ing_text,
            "category": ["network"],
            "type": ["connection", "end"],
            "action": "network_flow",
            "start": start,
            "end": end,
            "duration": int((t1 - t0) * 1e9),
            "reason": reason,
        }
        if outcome:
            ev["outcome"] = outcome
        host = self.host
        if host:
            observer: dict[str, Any] = {"hostname": host, "type": "sensor"}
        else:
            observer = {"type": "sensor"}
        if self.interface:
            observer["ingress"] = {"interface": {"name": self.interface}}
        if proto == 1 or proto == 58:
            # ICMP flows are few: the general layout, with icmp before source
            event = self._head(start, "network.flow", flow.first * 16, message, origin)
            event["event"] = ev
            event["observer"] = observer
            event["icmp"] = {"type": key[3] if flow.rev else key[1]}
            event["source"] = source
            event["destination"] = destination
            event["network"] = network
            event["flow"] = flow_info
            return event
        # The whole event in one display (the four envelope shapes _head makes, as its key order).
        if host:
            if is_file:
                return {
                    "@timestamp": start,
                    "ecs": {"version": ECS_VERSION},
                    "event": ev,
                    "log": {"file": {"path": origin}},
                    "message": message,
                    "host": {"name": host},
                    "observer": observer,
                    "source": source,
                    "destination": destination,
                    "network": network,
                    "flow": flow_info,
                }
            return {
                "@timestamp": start,
                "ecs": {"version": ECS_VERSION},
                "event": ev,
                "message": message,
                "host": {"name": host},
                "observer": observer,
                "source": source,
                "destination": destination,
                "network": network,
                "flow": flow_info,
            }
        if is_file:
            return {
                "@timestamp": start,
                "ecs": {"version": ECS_VERSION},
                "event": ev,
                "log": {"file": {"path": origin}},
                "message": message,
                "observer": observer,
                "source": source,
                "destination": destination,
                "network": network,
                "flow": flow_info,
            }
        return {
            "@timestamp": start,
            "ecs": {"version": ECS_VERSION},
            "event": ev,
            "message": message,
            "observer": observer,
            "source": source,
            "destination": destination,
            "network": network,
            "flow": flow_info,
        }

    def dns(
        self,
        r: tuple,
        ts: float,
        index: int,
        dns: dict[str, Any],
        flow: Flow | None,
        rtt: float | None = None,
    ) -> Event:
        """A DNS transaction (query and answer, ``r``/``ts`` of the query), or a lone query or answer."""
        q = dns.get("question", _NONE)
        kind = dns["type"]
        message = f"DNS {kind} {q.get('name', '')} {q.get('type', '')}"
        outcome = None
        if kind == "answer":
            rcode = dns.get("response_code")
            message += f" {rcode if rcode is not None else ''}"
            outcome = "success" if rcode == "NOERROR" else "failure"
        ms = int(ts * 1000 + 0.0005)  # self.ts(ts) with its cache read inline
        sec, ms = divmod(ms, 1000)
        prefix = self._seconds.get(sec)
        ts_text = (prefix or self.ts(ts)[:-5]) + _MILLIS[ms]
        event = self._head(
            ts_text, "network.dns", index * 16 + 1, message, None, ["network"], ["protocol"], f"dns_{kind}"
        )
        if outcome is not None:
            event["event"]["outcome"] = outcome
        if rtt is not None:
            event["event"]["duration"] = int(rtt * 1e9)
        proto = r[0]
        network: dict[str, Any] = {
            "transport": _TRANSPORT_TEXT[proto],
            "iana_number": _IANA_TEXT[proto],
            "type": "ipv4" if len(r[1]) == 4 else "ipv6",
            "protocol": "dns",
        }
        if flow is not None:
            network["community_id"] = self._cid(flow)
        src, dst = r[1], r[2]
        event["source"] = {"ip": _IP_TEXT.get(src) or ip_text(src), "port": r[3]}
        event["destination"] = {"ip": _IP_TEXT.get(dst) or ip_text(dst), "port": r[4]}
        event["network"] = network
        event["dns"] = dns
        if dns.get("resolved_ip"):
            event["related"] = {"ip": dns["resolved_ip"]}
        return event

    def _envelope(
        self, event: Event, r: tuple, flow: Flow | None, action: str, protocol: str, **extra: Any
    ) -> dict[str, Any]:
        """Common fields of an application event; returns the ``event`` object for more fields."""
        proto = r[0]
        ev = event["event"]
        ev["kind"] = "event"
        ev["category"] = ["network"]
        ev["type"] = ["protocol"]
        ev["action"] = action
        if extra:
            ev.update(extra)
        network: dict[str, Any] = {
            "transport": _TRANSPORT_TEXT[proto],
            "iana_number": str(proto),
            "type": "ipv4" if len(r[1]) == 4 else "ipv6",
            "protocol": protocol,
        }
        if flow is not None:
            network["community_id"] = self._cid(flow)
        event["source"] = {"ip": ip_text(r[1]), "port": r[3]}
        event["destination"] = {"ip": ip_text(r[2]), "port": r[4]}
        event["network"] = network
        return ev

    def _app_event(
        self,
        flow: Flow,
        ts: float,
        index: int,
        slot: int,
        dataset: str,
        message: str,
        category: list[str],
        types: list[str],
        action: str,
        protocol: str,
    ) -> Event:
        """An application event on the flow's orientation (source = initiator), with its network fields."""
        src, sport, dst, dport, proto, _ = flow.key
        if flow.rev:
            src, sport, dst, dport = dst, dport, src, sport
        ms = int(ts * 1000 + 0.0005)  # self.ts(ts) with its cache read inline
        sec, ms = divmod(ms, 1000)
        prefix = self._seconds.get(sec)
        ts_text = (prefix or self.ts(ts)[:-5]) + _MILLIS[ms]
        event = self._head(ts_text, dataset, index * 16 + slot, message, None, category, types, action)
        cid = flow.cid
        if cid is None:
            cid = flow.cid = self._community_id(flow)
        event["source"] = {"ip": _IP_TEXT.get(src) or ip_text(src), "port": sport}
        event["destination"] = {"ip": _IP_TEXT.get(dst) or ip_text(dst), "port": dport}
        event["network"] = {
            "transport": _TRANSPORT_TEXT[proto],
            "iana_number": _IANA_TEXT[proto],
            "type": "ipv4" if len(src) == 4 else "ipv6",
            "protocol": protocol,
            "community_id": cid,
        }
        return event

    def tls(self, flow: Flow, ts: float, index: int, kind: str, tls: dict[str, Any]) -> Event:
        """A TLS ClientHello or ServerHello, on the flow's orientation (source = client)."""
        sni = tls.get("client", _NONE).get("server_name", "")
        event = self._app_event(
            flow,
            ts,
            index,
            1,
            "network.tls",
            f"TLS {kind} {sni}".rstrip(),
            ["network"],
            ["protocol"],
            f"tls_{kind}",
            "tls",
        )
        event["tls"] = tls
        if sni:
            event["destination"]["domain"] = sni
            event["server"] = {"domain": sni}
        return event

    def http(
        self,
        flow: Flow,
        index: int,
        ts: float,
        request: dict[str, Any] | None,
        response: dict[str, Any] | None,
    ) -> Event:
        """An HTTP transaction: request and its response (either may be missing).

        ``request`` and ``response`` are http.parse's objects; they become this event's own.
        """
        if request is not None:
            url = request["url"]
            message = f"HTTP {request['http']['request']['method']} {url.get('domain', '')}{url['original']}"
        else:
            url = None
            message = "HTTP - "
        status = response["http"]["response"]["status_code"] if response is not None else None
        if status is not None:
            message += f" {status}"
        event = self._app_event(
            flow,
            ts,
            index,
            15,
            "network.http",
            message,
            ["network", "web"],
            ["protocol", "access"],
            "http_request",
            "http",
        )
        if status is not None:
            event["event"]["outcome"] = "failure" if status >= 400 else "success"
        # The objects in the order the request's then the response's fields were always set in: a
        # response's http.version replaces the request's in place, its http.response comes after.
        if request is not None:
            http = event["http"] = request["http"]
            event["url"] = url
            if "user_agent" in request:
                event["user_agent"] = request["user_agent"]
            if response is not None:
                answer = response["http"]
                http["version"] = answer["version"]
                http["response"] = answer["response"]
        elif response is not None:
            event["http"] = response["http"]
        if url is not None and "domain" in url:
            event["destination"]["domain"] = url["domain"]
        return event

    def dhcp(self, r: tuple, ts: float, index: int, dhcp: dict[str, Any], flow: Flow | None) -> Event:
        """A DHCPv4 or DHCPv6 message; an ``ack`` (v4) or a ``reply`` with an address (v6) is a lease."""
        mtype = dhcp.get("message_type", "bootp")
        v6 = len(r[1]) == 16
        name = "DHCPv6" if v6 else "DHCP"
        client = dhcp.get("client_mac") or dhcp.get("client_duid", "")
        message = f"{name} {mtype} {client} {dhcp.get('assigned_ip', '')} {dhcp.get('hostname', '')}"
        event = self._base(ts, "network.dhcp", index, 1, message.strip())
        ev = self._envelope(event, r, flow, f"{name.lower()}_{mtype}", name.lower())
        event["dhcp"] = dhcp
        related: dict[str, Any] = {}
        if mtype == ("reply" if v6 else "ack") and "assigned_ip" in dhcp:
            ev["type"] = ["protocol", "allowed"]
            related["ip"] = [dhcp["assigned_ip"]]
        if dhcp.get("hostname"):
            related["hosts"] = [dhcp["hostname"]]
        if related:
            event["related"] = related
        return event

    def icmp(self, r: tuple, ts: float, index: int, flow: Flow | None) -> Event:
        """One ICMP or ICMPv6 message."""
        proto, itype, code = r[0], r[3], r[4]
        names = ICMP4_TYPES if proto == ICMP else ICMP6_TYPES
        name = names.get(itype) or str(itype)
        src, dst = ip_text(r[1]), ip_text(r[2])
        message = f"{'ICMP' if proto == ICMP else 'ICMPv6'} {name} code {code} {src} -> {dst}"
        event = self._base(ts, "network.icmp", index, 1, message)
        self._envelope(
            event, (proto, r[1], r[2], None, None), flow, "icmp", "icmp" if proto == ICMP else "icmpv6"
        )
        del event["source"]["port"], event["destination"]["port"]
        event["icmp"] = {"type": itype, "code": code, "type_name": name}
        return event

    def arp(
        self,
        r: tuple,
        ts: float,
        index: int,
        previous: bytes | None,
        *,
        indicators: tuple[str, ...] = (),
        moved_from: bytes | None = None,
        claimed: list[bytes] | None = None,
        gateway: bytes | None = None,
    ) -> Event:
        """An ARP request/reply (with the detector's ``indicators`` about its sender, see
        docs/packets.md), or (``previous`` given) the separate finding that an IP changed MAC."""
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
            if indicators:
                message += f" [{', '.join(indicators)}]"
            event = self._base(ts, "network.arp", index, 1, message)
            fields: dict[str, Any] = {
                "event.kind": "event",
                "event.category": ["network"],
                "event.type": ["protocol", "indicator"] if indicators else ["protocol"],
                "event.action": f"arp_{op_name}",
            }
            if indicators:
                fields["arp.indicators"] = list(indicators)
                if moved_from is not None:
                    fields["arp.previous_mac"] = mac_text(moved_from)
                if claimed and len(claimed) > 1:
                    fields["arp.sender_ips"] = [ip_text(ip) for ip in claimed]
                if gateway is not None:
                    fields["arp.gateway_ip"] = ip_text(gateway)
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
        put(event, fields)
        return event

    def nd_change(
        self, r: tuple, ts: float, index: int, target: bytes, mac: bytes, previous: bytes, override: bool
    ) -> Event:
        """The Neighbour Discovery detector's finding: an IPv6 address advertised at a new MAC."""
        target_ip = ip_text(target)
        message = f"NDP: {target_ip} moved from {mac_text(previous)} to {mac_text(mac)}"
        event = self._base(ts, "network.icmp", index, 2, message)
        vlan = r[5]
        put(
            event,
            {
                "event.kind": "alert",
                "event.category": ["network"],
                "event.type": ["change", "indicator"],
                "event.action": "nd_mac_change",
                "tags": ["nd_mac_change"],
                "network.transport": "ipv6-icmp",
                "network.iana_number": "58",
                "network.type": "ipv6",
                "network.protocol": "icmpv6",
                "network.vlan.id": str(vlan) if vlan else None,
                "source.ip": ip_text(r[1]),
                "destination.ip": ip_text(r[2]),
                "icmp.type": r[3],
                "icmp.code": r[4],
                "icmp.type_name": ICMP6_TYPES[136],
                "nd.target_ip": target_ip,
                "nd.target_mac": mac_text(mac),
                "nd.previous_mac": mac_text(previous),
                "nd.override": override,
                "nd.indicators": ["mac_change"],
            },
        )
        return event
