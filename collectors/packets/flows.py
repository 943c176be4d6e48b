"""The flow table and the packet loop: raw records in, ECS flow and application events out.

Hot path per packet: Ethernet/IPv4 TCP/UDP headers unpacked inline (``decode`` for everything else),
one canonical-key dict lookup, a few counter updates.
Payloads are only sliced for packets an application parser wants (DNS, DHCP, the first payload
packets of a TCP flow, HTTP heads). Expiry uses FIFO queues instead of scanning the table: every
flow shares the same idle timeout, so queue order is expiry order (a flow seen again is re-queued
lazily when its turn comes), and eviction at ``max_flows`` takes the flow idle the longest.
"""

from __future__ import annotations

import socket
import struct
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from canh.collectors.packets import dhcp as dhcp_parser
from canh.collectors.packets import dns as dns_parser
from canh.collectors.packets import http as http_parser
from canh.collectors.packets import tls as tls_parser
from canh.collectors.packets.capfile import MAX_RECORD, PCAP_HEADERS, Block, as_blocks
from canh.collectors.packets.community_id import hashed, hashed_ordered, icmp_ports, is_one_way
from canh.collectors.packets.decode import ARP, ERRORS, ICMP, ICMP6, TCP, UDP, decode
from canh.collectors.packets.ecs import EventFactory
from canh.collectors.packets.neighbours import Neighbours, gateway_like
from canh.collectors.registry import ReadProblem
from canh.events import Event

FIN, SYN, RST, PSH, ACK, URG, ECE, CWR = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FLAG_NAMES = (
    (FIN, "FIN"),
    (SYN, "SYN"),
    (RST, "RST"),
    (PSH, "PSH"),
    (ACK, "ACK"),
    (URG, "URG"),
    (ECE, "ECE"),
    (CWR, "CWR"),
)
PORT_PROTOCOLS = {
    53: "dns",
    80: "http",
    8080: "http",
    443: "tls",
    8443: "tls",
    22: "ssh",
    25: "smtp",
    587: "smtp",
    110: "pop3",
    143: "imap",
    993: "tls",
    995: "tls",
    21: "ftp",
    23: "telnet",
    67: "dhcp",
    68: "dhcp",
    123: "ntp",
    161: "snmp",
    162: "snmp",
    389: "ldap",
    636: "tls",
    445: "smb",
    139: "netbios",
    137: "netbios",
    138: "netbios",
    3389: "rdp",
    5353: "mdns",
    5355: "llmnr",
    1900: "ssdp",
    514: "syslog",
    3306: "mysql",
    5432: "postgresql",
    1433: "mssql",
    6379: "redis",
    546: "dhcpv6",
    547: "dhcpv6",
    88: "kerberos",
    5060: "sip",
    1194: "openvpn",
    500: "ipsec",
    4500: "ipsec",
}
DNS_PORTS = frozenset({53, 5353, 5355})
DHCP6_PORTS = frozenset({546, 547})
_WATCHED_UDP = DNS_PORTS | {67} | DHCP6_PORTS  # UDP flows whose payloads go to an application parser
_NOT_DNS = DHCP6_PORTS | {67}  # the other end's ports that make a port-53 payload DHCP's (_udp_payload)
_HTTP_STARTS = (*http_parser.METHODS, b"HTTP/1.")
# IP and TCP/UDP headers of an Ethernet frame in one unpack (from offset 14): version/IHL, lengths,
# fragment field, protocol, addresses, ports, TCP data offset and flags. The TCP fields are read
# whatever the protocol and only used for TCP; the UDP length is read apart, for UDP only (a field
# fewer costs every TCP packet a conversion, a store and an int).
# The addresses and ports come as one bytes object, the packet's "side": it is the key of the
# by_side table, so a packet of a known flow costs one lookup without building its canonical key.
# Read little-endian (as x86 and most pcap files store their record headers), so that one unpack can
# take a record header and these fields together (_REC_V4): the EtherType is then 0x0008 for IPv4 and
# 0xDD86 for IPv6, the fragment mask 0xFF1F (_fragment_tuple), and the IP total length comes
# byte-swapped (_ip_end_tuple).
_ETH_V4 = struct.Struct("<HBxH2xHxB2x12s8xBB").unpack_from  # from the EtherType; 48 bytes of frame
# A little-endian pcap record header and _ETH_V4's fields of the frame after it: 64 bytes from the record.
_REC_V4 = struct.Struct("<IIII12xHBxH2xHxB2x12s8xBB").unpack_from
_PCAP_LE = PCAP_HEADERS["<"]
_IP_END_TUPLE: tuple[int, ...] = ()
_FRAGMENT_TUPLE: tuple[int, ...] = ()


def _ip_end_tuple() -> tuple[int, ...]:
    """Where an Ethernet IPv4 packet ends in its frame (14 + its total length) by the total length
    field as _ETH_V4 reads it, as a tuple of ints made at the first packet loop (2-6 ms and 2.6 MB,
    so not at import): a tuple item is read in place, where swapping the field and adding 14 made
    a new int for every packet."""
    global _IP_END_TUPLE
    if not _IP_END_TUPLE:
        # Ordered by the field's second byte (the length's low byte), then its first: runs of
        # ranges, made in C (adding 14 to each item with a call cost some 30M instructions more).
        _IP_END_TUPLE = tuple(chain.from_iterable(range(14 + lo, 65550 + lo, 256) for lo in range(256)))
    return _IP_END_TUPLE


def _fragment_tuple() -> tuple[int, ...]:
    """``frag & 0xFF1F`` for every fragment field as _ETH_V4 reads it (little-endian), as a tuple:
    an item read is cheaper than the interpreter's generic ``&``, done for every IPv4 packet.
    Made at the first packet loop, as _ip_end_tuple (0.5 MB)."""
    global _FRAGMENT_TUPLE
    if not _FRAGMENT_TUPLE:
        table = [1] * 65536
        for v in range(0, 256, 0x20):  # fragment offset 0, whatever the three flag bits
            table[v] = 0
        _FRAGMENT_TUPLE = tuple(table)
    return _FRAGMENT_TUPLE


# True for TCP flags without FIN, SYN and RST (UDP packets carry 0): a tuple item read instead of a
# generic ``&`` for every packet of the counters-only path.
_COUNT_ONLY = tuple(not f & 7 for f in range(256))


_ETH_V6 = struct.Struct("!B3xHBx36s8xBB").unpack_from  # needs 68 bytes of frame
_SIDE4 = struct.Struct("!4s4sHH").unpack
_SIDE6 = struct.Struct("!16s16sHH").unpack
# Where a TCP payload starts in an Ethernet IPv4 (no options) or IPv6 frame, by the TCP header's
# data-offset byte; 0 for a data offset under 20 bytes. One tuple read instead of two shifts, an add
# and a compare for every TCP packet.
_TCP_PAYLOAD4 = tuple(34 + ((b >> 4) << 2) if b >> 4 >= 5 else 0 for b in range(256))
_TCP_PAYLOAD6 = tuple(54 + ((b >> 4) << 2) if b >> 4 >= 5 else 0 for b in range(256))
PROBE_PACKETS = 4  # payload packets per TCP flow examined for an application protocol
MAX_HELLO = 16384


@dataclass
class FlowSettings:
    """Flow table limits: timeouts in seconds of capture time, the maximum number of flows held."""

    idle_timeout: float = 60.0
    active_timeout: float = 1800.0
    linger: float = 5.0  # after FIN+FIN or RST, for the last ACKs and retransmissions
    max_flows: int = 1_000_000
    applications: bool = True  # False: flows only (no DNS/HTTP/TLS/ICMP/ARP/DHCP events), for fast links


class Flow:
    """One bidirectional flow; ``rev`` says whether the initiator is the key's second endpoint."""

    __slots__ = (
        "app",
        "buf",
        "bytes_f",
        "bytes_r",
        "cid",
        "closing",
        "dnsq",
        "first",
        "flags_f",
        "flags_r",
        "gone",
        "key",
        "last",
        "macs",
        "origin",
        "pending",
        "pkts_f",
        "pkts_r",
        "probe",
        "proto",
        "queued",
        "rev",
        "side_f",
        "side_r",
        "start",
        "watch",
    )

    def __init__(self, key: tuple, rev: bool, ts: float, first: int) -> None:
        self.key = key
        self.rev = rev
        self.start = ts
        self.last = ts
        self.first = first
        self.pkts_f = self.pkts_r = self.bytes_f = self.bytes_r = 0
        self.flags_f = self.flags_r = 0
        self.closing = 0  # 0 open, 1 one FIN, 2 both FINs, 3 RST
        self.gone = False
        self.queued = ts
        self.app: str | None = None
        self.probe = 0
        self.buf: Any = None
        self.pending: list[Any] | None = None
        self.dnsq: dict[str, tuple[int, float, dict[str, Any], tuple]] | None = (
            None  # DNS queries awaiting answers
        )
        self.macs: tuple[bytes, bytes] | None = None
        self.cid: str | None = None
        self.origin: str | None = None  # the file a flow began in, when a source reads several
        self.proto: int = key[4]
        # Addresses and ports as the frames of each direction carry them (PacketAnalyzer.by_side keys).
        self.side_f: bytes | None = None
        self.side_r: bytes | None = None
        # Which payloads go to a parser: 0 none, 1 every one (a UDP flow on a DNS or DHCP port, a TCP
        # flow still probed or buffering a hello), 2 only HTTP heads (a known HTTP flow's body is not).
        self.watch = 0


class PacketAnalyzer:
    """Turns raw capture records into ECS events; keeps flow, ARP and DHCP state across records."""

    def __init__(
        self,
        *,
        source: str,
        host: str | None = None,
        settings: FlowSettings | None = None,
        ingested: Callable[[], datetime] | None = None,
        interface: str | None = None,
    ) -> None:
        self.settings = settings or FlowSettings()
        # host: the capturing machine (host.name, observer.hostname); interface: a live capture's.
        self.ev = EventFactory(source=source, host=host, interface=interface, ingested=ingested)
        self.flows: dict[tuple, Flow] = {}
        # Flows also by the raw address/port bytes of each direction (untagged Ethernet TCP/UDP).
        self.by_side: dict[bytes, Flow] = {}
        self.idle_q: deque[Flow] = deque()
        self.close_q: deque[Flow] = deque()
        self.out: list[Event] = []
        self.arp = Neighbours()  # IPv4 address <-> MAC, from ARP senders
        self.nd = Neighbours()  # IPv6 address <-> MAC, from Neighbour Advertisements
        self.routers: set[bytes] = set()  # gateways DHCP servers announced (option 3)
        self.dhcp_names: dict[str, str] = {}  # client MAC (v4) or DUID (v6) -> the host name it gave
        self.stats: dict[str, int] = {
            "packets": 0,
            "bytes": 0,
            "flows": 0,
            "events": 0,
            "evicted": 0,
            "errors": 0,
            "skipped": 0,
        }
        self.now = 0.0
        self._next_sweep = 0.0
        self._linktypes_reported: set[int] = set()

    # -- the loop --------------------------------------------------------------------------------

    def run(
        self, records: Iterable[tuple] | Any, index: int = 0, where: str = ""
    ) -> Iterator[list[Event] | ReadProblem]:
        """Feed records; yields batches of events (as flows end and app messages are seen) and problems.

        ``records`` is an iterable of record tuples, or a reader with ``blocks()`` (capfile.Block).
        ``index`` is the number of records before these (packet positions continue from it).
        """
        by_side = self.by_side
        flows = self.flows
        close_q = self.close_q
        stats = self.stats
        settings = self.settings
        active_timeout = settings.active_timeout
        next_sweep = self._next_sweep
        apps = settings.applications
        eth_v4 = _ETH_V4
        rec_v4 = _REC_V4
        ip_end = _ip_end_tuple()
        fragment = _fragment_tuple()
        count_only = _COUNT_ONLY
        eth_v6 = _ETH_V6
        max_record = MAX_RECORD
        probe_packets = PROBE_PACKETS
        npk = nby = 0
        blocks = getattr(records, "blocks", None)
        for block in blocks() if blocks is not None else as_blocks(records):
            if block.__class__ is not Block:
                # (None, reason, raw, offset): damage reported by the file reader
                index += 1
                reason = block[1]
                stats["errors"] += 1
                stats[reason] = stats.get(reason, 0) + 1
                yield ReadProblem(f"{where}#{index}", reason_text(reason), block[2])
                continue
            # Records are walked in the reader's own buffer: ``b`` is where a frame starts in it
            # and ``n`` its captured length, so a packet costs no tuple and no copy of its frame.
            # Offsets past ``b`` are kept relative to it: on a megabyte buffer every absolute
            # offset is a new int object.
            buf = block.buf
            lt = block.linktype
            hdr = block.header
            scale = block.scale
            pos = block.start
            limit = len(buf)
            last = limit - 16  # the last place a record header fits
            # Where a record header and _ETH_V4's fields still fit: one unpack for both (a call and
            # a tuple fewer per packet) on little-endian pcap files, wherever an Ethernet frame can be.
            last_v4 = limit - 64 if hdr == _PCAP_LE and lt == 1 else -1
            # The least captured length the Ethernet fast path reads: ``lt == 1 and n >= 48`` in one
            # compare for every packet (n is at most max_record there).
            min_eth = 48 if lt == 1 else max_record + 1
            first = index
            last_sec = -1  # the last record's seconds and them as a float (see below)
            sec_f = 0.0
            # One test for most records (last_v4 < last): the loop's own test would be a second.
            while True:
                if pos <= last_v4:
                    sec, frac, n, wirelen, etype, vihl, total, frag, proto, side, doff, flags = rec_v4(
                        buf, pos
                    )
                    # float operand first: the int's multiply is tried before the float's when the
                    # int is on the left (same value: IEEE product commutes). The seconds, a two-digit
                    # int, are made a float once per second of capture: adding the int converted it
                    # the slow way for every packet (the same double: it is exact below 2**53).
                    if sec != last_sec:
                        last_sec = sec
                        sec_f = float(sec)
                    ts = scale * frac + sec_f
                    # (_ETH_V4's fields are meaningful only when n >= 48, tested below)
                elif pos <= last:
                    if scale:
                        sec, frac, n, wirelen = hdr(buf, pos)
                        ts = scale * frac + sec
                    else:
                        ts, n, wirelen = hdr(buf, pos)
                    if lt == 1 and n >= 48 and pos + 64 <= limit:
                        # The frame's fields apart: the last records of a buffer, other layouts. (A
                        # shorter buffer holds no whole frame of 48 bytes: the record is cut.)
                        etype, vihl, total, frag, proto, side, doff, flags = eth_v4(buf, pos + 28)
                else:
                    break
                b = pos + 16
                pos = b + n  # one add for the test and the next record (an int made per packet)
                if pos > limit or n > max_record:
                    pos = b - 16
                    break  # the reader deals with an incomplete or bogus record
                index += 1
                nby += wirelen
                # Fast path, inline: Ethernet, IPv4 without options (first fragment) or IPv6 without
                # extension headers, TCP or UDP. Anything else (and anything odd about these) goes
                # through decode(), which handles every case the same way. ``side`` is the packet's
                # addresses and ports as they sit in the frame: the by_side key of its flow.
                # ``pstart``/``end`` (the payload) are offsets into the frame, which starts at
                # ``data[base]``: the block's buffer here, the frame alone after decode().
                if n >= min_eth:
                    if etype == 0x0008:  # IPv4 (read little-endian, see _ETH_V4)
                        end = ip_end[total]
                        if vihl != 0x45 or fragment[frag] or end < 42:  # a total length under 28
                            proto = 0
                        else:
                            if end > n:
                                end = n
                            if proto == 6:
                                pstart = _TCP_PAYLOAD4[doff]
                                if end >= 54 and pstart:
                                    if pstart > end:
                                        pstart = end
                                else:
                                    proto = 0
                            elif proto == 17:
                                flags = 0
                                pstart = 42
                                ulen = buf[b + 38] << 8 | buf[b + 39]
                                if ulen >= 8:
                                    if 34 + ulen < end:
                                        end = 34 + ulen
                                elif ulen:
                                    proto = 0
                            else:
                                proto = 0
                    elif etype == 0xDD86 and n >= 68:  # IPv6 (0x86DD read little-endian)
                        vihl, total, proto, side, doff, flags = eth_v6(buf, b + 14)
                        if vihl >> 4 != 6:
                            proto = 0
                        else:
                            end = 54 + total
                            if total == 0 or end > n:
                                end = n
                            if proto == 6:
                                pstart = _TCP_PAYLOAD6[doff]
                                if end >= 74 and pstart:
                                    if pstart > end:
                                        pstart = end
                                else:
                                    proto = 0
                            elif proto == 17 and end >= 62:
                                flags = 0
                                pstart = 62
                                ulen = buf[b + 58] << 8 | buf[b + 59]
                                if ulen >= 8:
                                    if 54 + ulen < end:
                                        end = 54 + ulen
                                elif ulen:
                                    proto = 0
                            else:
                                proto = 0
                    else:
                        proto = 0
                else:
                    proto = 0
                if proto:
                    flow = by_side.get(side)
                    if (
                        flow is not None
                        and ts <= next_sweep
                        and flow.proto == proto
                        and count_only[flags]
                        and (
                            not flow.watch
                            or end <= pstart
                            or (flow.watch == 2 and not buf.startswith(_HTTP_STARTS, b + pstart))
                        )
                        and ts - flow.start <= active_timeout
                    ):
                        # Most packets of a busy link only add to their flow's counters (no sweep due,
                        # no FIN/RST, no payload any parser wants): counted here, with none of the
                        # general path's checks below, which would come to the same. A closing flow's
                        # packets come here too (its last ACKs): without a SYN they only count.
                        flow.last = ts
                        if side == flow.side_f:
                            flow.pkts_f += 1
                            flow.bytes_f += wirelen
                            flow.flags_f |= flags
                        else:
                            flow.pkts_r += 1
                            flow.bytes_r += wirelen
                            flow.flags_r |= flags
                        continue
                    data = buf
                    base = b
                    vlan = 0
                    raw = True  # side still holds addresses and ports to unpack
                else:
                    data = buf[b : b + n]
                    base = 0
                    r = decode(lt, data)
                    if r.__class__ is str:
                        stats[r] = stats.get(r, 0) + 1
                        if r in ERRORS:
                            stats["errors"] += 1
                            if r == "unknown_linktype":
                                if lt not in self._linktypes_reported:
                                    self._linktypes_reported.add(lt)
                                    yield ReadProblem(f"{where}#{index}", reason_text(r, linktype=lt), b"")
                            else:
                                yield ReadProblem(f"{where}#{index}", reason_text(r), data[:256])
                        else:
                            stats["skipped"] += 1
                        continue
                    proto = r[0]
                    if proto == ARP:
                        if apps:
                            self._arp(r, ts, index, data)
                            if len(self.out) >= 512:
                                yield self._drain()
                        continue
                    proto, src, dst, sport, dport, vlan, flags, pstart, end = r
                    raw = False
                    if proto in (ICMP6, ICMP) and not vlan:
                        # ICMP floods come this way (IPv6 extension headers): by_side by addresses,
                        # type and code (10 or 34 bytes, never the length of a TCP/UDP side).
                        side = src + dst + bytes((sport, dport))
                        flow = by_side.get(side)
                    else:
                        side = flow = None
                if ts > next_sweep:
                    self._sweep(ts)
                    next_sweep = self._next_sweep
                    if self.out:
                        yield self._drain()
                    if flow is not None and flow.gone:
                        flow = None
                if (
                    flow is not None
                    and flow.proto == proto
                    and (not flow.closing or flags & 0x12 != SYN)
                    and ts - flow.start <= active_timeout
                ):
                    # Seen before from this side: one dict lookup on the frame's own bytes.
                    fwd = side == flow.side_f
                else:
                    if raw:
                        src, dst, sport, dport = (_SIDE4 if len(side) == 12 else _SIDE6)(side)
                        raw = False  # unpacked: a payload below needs no second unpack
                    flow = None
                    if proto in (TCP, UDP):
                        # The flow's other side, known by its canonical key: _lookup's answer without
                        # the call. A new flow, a port reuse or an active timeout go through _lookup.
                        if src < dst or (src == dst and sport <= dport):
                            flow = flows.get((src, sport, dst, dport, proto, vlan))
                            fwd = flow is not None and not flow.rev
                        else:
                            flow = flows.get((dst, dport, src, sport, proto, vlan))
                            fwd = flow is not None and flow.rev
                        if flow is not None and (
                            (flow.closing and proto == TCP and flags & 0x12 == SYN)
                            or ts - flow.start > active_timeout
                        ):
                            flow = None
                    if flow is None:
                        flow, fwd = self._lookup(
                            proto, src, dst, sport, dport, vlan, flags, ts, index, lt, data, base, n
                        )
                    if side is not None:
                        # Remember the flow under this side's bytes (the other side gets its own entry).
                        if fwd:
                            flow.side_f = side
                        else:
                            flow.side_r = side
                        by_side[side] = flow
                    if len(self.out) >= 512:
                        yield self._drain()
                flow.last = ts
                if fwd:
                    flow.pkts_f += 1
                    flow.bytes_f += wirelen
                    flow.flags_f |= flags
                else:
                    flow.pkts_r += 1
                    flow.bytes_r += wirelen
                    flow.flags_r |= flags
                if proto == TCP:
                    if flags & 5:
                        # FIN or RST (was _closing(), inline: two packets of every TCP flow)
                        if flags & RST:
                            state = 3
                        elif flow.flags_f & FIN and flow.flags_r & FIN:
                            state = 2
                        else:
                            state = 1
                        if state >= 2 and flow.closing < 2:
                            flow.closing = state
                            flow.queued = flow.last
                            close_q.append(flow)
                        elif state > flow.closing:
                            flow.closing = state
                    # watch 2: in a known HTTP flow only a new request/response head matters, not body segments
                    watch = flow.watch
                    wanted = (
                        watch
                        and end > pstart
                        and (watch == 1 or data.startswith(_HTTP_STARTS, base + pstart))
                    )
                elif proto == UDP:
                    wanted = flow.watch and end > pstart
                else:
                    wanted = False
                    if apps and proto in (ICMP, ICMP6):
                        # ICMP only comes through decode(): ``r`` is still its tuple. A message type is
                        # known by its sender, type and code; ``side`` holds them (its hash is cached
                        # from the by_side lookup) except on VLANs.
                        kind = side if side is not None else (src, sport, dport)
                        if proto == ICMP6 and sport == 136:  # every advertisement, not only a flow's first
                            self._nd(r, data, ts, index)
                        if flow.buf is not None and kind in flow.buf:
                            stats["icmp_repeats"] = stats.get("icmp_repeats", 0) + 1  # see _icmp
                        else:
                            self._icmp(r, ts, index, flow, kind)
                        if len(self.out) >= 512:
                            yield self._drain()
                if wanted:
                    if raw:
                        src, dst, sport, dport = (_SIDE4 if len(side) == 12 else _SIDE6)(side)
                    r = (proto, src, dst, sport, dport, vlan, flags, base + pstart, base + end)
                    if proto == TCP:
                        self._tcp_payload(flow, fwd, r, data, ts, index)
                        # A known HTTP flow wants only its heads from now on (a body segment would
                        # pass through _tcp_payload for nothing until the probe count ran out), and
                        # an SSH one nothing; unless on port 53, where a payload may still be DNS.
                        app = flow.app
                        flow.watch = (
                            (2 if app == "http" else 0)
                            if (app == "http" or app == "ssh")
                            and flow.buf is None
                            and sport != 53
                            and dport != 53
                            else 1
                            if flow.probe < probe_packets or flow.buf is not None
                            else 2
                            if app == "http"
                            else 0
                        )
                    elif (sport == 53 and dport not in _NOT_DNS) or (dport == 53 and sport not in _NOT_DNS):
                        # DNS, most of the UDP payloads parsed: _udp_payload's choice made here, a call fewer
                        self._dns(data[base + pstart : base + end], r, ts, index, flow)
                    else:
                        self._udp_payload(flow, r, data, ts, index)
                    if len(self.out) >= 512:
                        yield self._drain()
            block.used = pos
            block.count = index - first
            npk += index - first
        stats["packets"] += npk
        stats["bytes"] += nby
        if self.out:
            yield self._drain()

    def _lookup(
        self,
        proto: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        vlan: int,
        flags: int,
        ts: float,
        index: int,
        lt: int,
        data: bytes,
        base: int,
        n: int,
    ) -> tuple[Flow, bool]:
        """The flow of a packet by its canonical key (made when new), and whether the packet is forward.

        The frame is ``data[base : base + n]`` (for the MAC addresses of a new flow).
        """
        if proto in (ICMP, ICMP6):
            fsport, fdport, _ = icmp_ports(proto, sport, dport)
        else:
            fsport = sport
            fdport = dport
        if src < dst or (src == dst and fsport <= fdport):
            key = (src, fsport, dst, fdport, proto, vlan)
            rev = False
        else:
            key = (dst, fdport, src, fsport, proto, vlan)
            rev = True
        flows = self.flows
        flow = flows.get(key)
        if flow is not None and flow.closing and proto == TCP and flags & 0x12 == SYN:
            # A new connection reusing the ports: finish the old one now (tshark splits here too).
            self._end(flow, "reuse")
            flow = None
        macs = None
        if flow is None:
            if len(flows) >= self.settings.max_flows:
                self._evict()
            # The initiator is the packet's sender, unless we first see the SYN-ACK.
            synack = flags & 0x12 == 0x12
            if synack:
                rev = not rev
            if lt == 1 and n >= 14:
                dst_mac, src_mac = data[base : base + 6], data[base + 6 : base + 12]
                macs = (dst_mac, src_mac) if synack else (src_mac, dst_mac)
            fwd = not synack
        elif ts - flow.start > self.settings.active_timeout:
            self._end(flow, "active_timeout")
            fwd = True
        else:
            return flow, rev == flow.rev
        # A new flow, made here rather than in a method of its own: a call fewer for every flow.
        flow = Flow(key, rev, ts, index)
        flow.origin = self.ev.source
        flow.macs = macs
        if not self.settings.applications:
            pass
        elif proto == TCP or (proto == UDP and (key[1] in _WATCHED_UDP or key[3] in _WATCHED_UDP)):
            flow.watch = 1
        flows[key] = flow
        self.idle_q.append(flow)
        self.stats["flows"] += 1
        return flow, fwd

    def finish(self) -> list[Event]:
        """End every flow still open (end of the capture or shutdown) and return what is left."""
        for flow in list(self.flows.values()):
            self._end(flow, "rst" if flow.closing == 3 else "fin" if flow.closing == 2 else "end_of_capture")
        return self._drain()

    def expire(self, now: float) -> list[Event]:
        """Run timeouts at capture time ``now`` (a live source calls this when traffic is quiet)."""
        self._sweep(now)
        return self._drain()

    def _drain(self) -> list[Event]:
        batch = self.out
        self.out = []
        self.stats["events"] += len(batch)
        return batch

    # -- flow lifecycle --------------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        self.now = now
        self._next_sweep = now + 1.0
        s = self.settings
        close_q = self.close_q
        while close_q and close_q[0].queued + s.linger <= now:
            flow = close_q.popleft()
            if not flow.gone:
                if flow.last + s.linger <= now:
                    self._end(flow, "rst" if flow.closing == 3 else "fin")
                else:
                    flow.queued = flow.last
                    close_q.append(flow)
        idle_q = self.idle_q
        if len(idle_q) > 2 * len(self.flows) + 4096:
            # Flows ended by FIN/RST wait in the queue until their idle turn; drop them now so a
            # busy link does not keep a minute of finished flows in memory.
            live = [f for f in idle_q if not f.gone]
            idle_q.clear()  # in place: the packet loop holds this deque
            idle_q.extend(live)
        idle = s.idle_timeout
        while idle_q and idle_q[0].queued + idle <= now:
            flow = idle_q.popleft()
            if flow.gone:
                continue
            if flow.last + idle <= now:
                self._end(flow, "idle_timeout")
            else:
                flow.queued = flow.last
                idle_q.append(flow)

    def _evict(self) -> None:
        idle_q = self.idle_q
        while idle_q:
            flow = idle_q.popleft()
            if flow.gone:
                continue
            if flow.queued < flow.last:  # touched since queued: re-queue behind the idle ones
                flow.queued = flow.last
                idle_q.append(flow)
                continue
            self.stats["evicted"] += 1
            self._end(flow, "evicted")
            return

    def _end(self, flow: Flow, reason: str) -> None:
        flow.gone = True
        if self.flows.get(flow.key) is flow:
            del self.flows[flow.key]
        by_side = self.by_side
        side = flow.side_f  # both sides written out: a loop over a tuple of them cost more (every flow)
        if side is not None and by_side.get(side) is flow:
            del by_side[side]
        side = flow.side_r
        if side is not None and by_side.get(side) is flow:
            del by_side[side]
        if flow.dnsq:
            for q_index, q_ts, q_fields, q_r in flow.dnsq.values():
                self.out.append(self.ev.dns(q_r, q_ts, q_index, q_fields, flow))
            flow.dnsq = None
        if flow.pending:
            for req_index, req_ts, fields in flow.pending:
                self.out.append(self.ev.http(flow, req_index, req_ts, fields, None))
            flow.pending = None
        self.out.append(self.ev.flow(flow, reason))

    # -- application layer -----------------------------------------------------------------------

    def _tcp_payload(self, flow: Flow, fwd: bool, r: tuple, frame: bytes, ts: float, index: int) -> None:
        # A body segment of a known HTTP flow: only a new request/response head matters.
        # (http.looks_like and tls.hello_length are inline here: this runs for the first payloads
        # of every TCP flow, and a call costs more than their tests.)
        if (
            flow.app == "http"
            and flow.buf is None
            and flow.probe >= PROBE_PACKETS
            and not frame.startswith(_HTTP_STARTS, r[7])
        ):
            return
        payload = frame[r[7] : r[8]]
        if flow.buf is not None:
            bfwd, data, need = flow.buf
            if bfwd == fwd:
                data += payload
                if len(data) >= need or len(data) > MAX_HELLO:
                    flow.buf = None
                    self._tls(flow, data, ts, index)
                else:
                    flow.buf = (bfwd, data, need)
                return
        flow.probe += 1
        app = flow.app
        key = flow.key
        if app is None or app == "tls":
            need = (
                5 + ((payload[3] << 8) | payload[4])
                if len(payload) >= 5 and payload[0] == 0x16 and payload[1] == 0x03
                else 0
            )
            if need:
                flow.app = "tls"
                if len(payload) >= 9:
                    need = 9 + int.from_bytes(payload[6:9], "big")
                if len(payload) < need and need <= MAX_HELLO:
                    flow.buf = (fwd, payload, need)
                else:
                    self._tls(flow, payload, ts, index)
                return
        if (app is None or app == "http") and payload.startswith(_HTTP_STARTS):
            flow.app = "http"
            self._http(flow, payload, ts, index)
            return
        if key[1] == 53 or key[3] == 53:
            flow.app = "dns"
            pos = 0
            n = 0
            while pos + 2 < len(payload) and n < 8:
                mlen = int.from_bytes(payload[pos : pos + 2], "big")
                msg = payload[pos + 2 : pos + 2 + mlen]
                if len(msg) < mlen:
                    break
                self._dns(msg, r, ts, index, flow)
                pos += 2 + mlen
                n += 1
            return
        if app is None:
            if payload.startswith(b"SSH-"):
                flow.app = "ssh"
            elif flow.probe >= PROBE_PACKETS:
                flow.app = ""

    def _udp_payload(self, flow: Flow, r: tuple, frame: bytes, ts: float, index: int) -> None:
        payload = frame[r[7] : r[8]]
        if r[3] == 67 or r[4] == 67:
            fields = dhcp_parser.parse(payload)
            if fields is not None:
                flow.app = "dhcp"
                self._dhcp(fields, r, ts, index, flow, "client_mac")
            return
        if r[3] in DHCP6_PORTS or r[4] in DHCP6_PORTS:
            fields = dhcp_parser.parse6(payload)
            if fields is not None:
                flow.app = "dhcpv6"
                self._dhcp(fields, r, ts, index, flow, "client_duid")
            return
        self._dns(payload, r, ts, index, flow)

    def _dns(self, msg: bytes, r: tuple, ts: float, index: int, flow: Flow) -> None:
        """A DNS message: a query waits in its flow for the answer, and the pair becomes one event."""
        fields = dns_parser.parse(msg)
        if fields is None:
            self.stats["dns_unparsed"] = self.stats.get("dns_unparsed", 0) + 1
            return
        flow.app = "dns"
        qid = fields["id"]
        if fields["type"] == "query":
            if flow.dnsq is None:
                flow.dnsq = {}
            elif qid in flow.dnsq or len(flow.dnsq) >= 64:  # never answered: report it alone
                old = flow.dnsq.pop(qid) if qid in flow.dnsq else flow.dnsq.pop(next(iter(flow.dnsq)))
                self.out.append(self.ev.dns(old[3], old[1], old[0], old[2], flow))
            flow.dnsq[qid] = (index, ts, fields, r)
            return
        query = flow.dnsq.pop(qid, None) if flow.dnsq else None
        if query is None:
            self.out.append(self.ev.dns(r, ts, index, fields, flow))
        else:
            self.out.append(self.ev.dns(query[3], query[1], query[0], fields, flow, rtt=ts - query[1]))

    def _tls(self, flow: Flow, record: bytes, ts: float, index: int) -> None:
        if len(record) > 5 and record[5] == 1:
            fields = tls_parser.client_hello(record)
            kind = "client_hello"
        else:
            fields = tls_parser.server_hello(record)
            kind = "server_hello"
            flow.probe = PROBE_PACKETS  # both hellos seen: the rest is encrypted
        if fields is not None:
            self.out.append(self.ev.tls(flow, ts, index, kind, fields))

    def _http(self, flow: Flow, payload: bytes, ts: float, index: int) -> None:
        parsed = http_parser.parse(payload)
        if parsed is None:
            return
        kind, fields = parsed
        if kind == "request":
            if flow.pending is None:
                flow.pending = []
            flow.pending.append((index, ts, fields))
            if len(flow.pending) > 32:  # a response never came: report the oldest alone
                req_index, req_ts, req = flow.pending.pop(0)
                self.out.append(self.ev.http(flow, req_index, req_ts, req, None))
        elif flow.pending:
            req_index, req_ts, req = flow.pending.pop(0)
            self.out.append(self.ev.http(flow, req_index, req_ts, req, fields))
        else:
            self.out.append(self.ev.http(flow, index, ts, None, fields))

    def _dhcp(self, fields: dict[str, Any], r: tuple, ts: float, index: int, flow: Flow, client: str) -> None:
        """A DHCP message; ``client`` names the field that identifies the client (MAC or DUID)."""
        who = fields.get(client)
        if who is None:
            pass
        elif "hostname" in fields:
            if len(self.dhcp_names) > 65536:
                self.dhcp_names.clear()
            self.dhcp_names[who] = fields["hostname"]
        elif who in self.dhcp_names:
            fields["hostname"] = self.dhcp_names[who]
        if (
            "routers" in fields
            and fields.get("message_type") in ("offer", "ack")
            and len(self.routers) < 4096
        ):
            self.routers.update(socket.inet_aton(ip) for ip in fields["routers"])
        self.out.append(self.ev.dhcp(r, ts, index, fields, flow))

    def _icmp(self, r: tuple, ts: float, index: int, flow: Flow, kind: Any) -> None:
        # One event per message type and code in a flow, and for each new direction: an echo flood is
        # one flow event with its counts, not a million ICMP events (the flow keeps every packet's count).
        # ``kind`` stands for (sender, type, code): within one flow the sender fixes the receiver.
        seen = flow.buf  # ICMP flows never buffer a TLS hello; the slot holds the types already reported
        if seen is None:
            flow.buf = seen = set()
        elif kind in seen:
            self.stats["icmp_repeats"] = self.stats.get("icmp_repeats", 0) + 1
            return
        if len(seen) < 64:
            seen.add(kind)
        self.out.append(self.ev.icmp(r, ts, index, flow))

    def _arp(self, r: tuple, ts: float, index: int, frame: bytes) -> None:
        """An ARP packet's event, with what its sender's claim says (docs/packets.md, ARP indicators)."""
        _, _vlan, _op, sha, spa, _tha, _tpa = r
        previous = None
        indicators: list[str] = []
        claimed: list[bytes] | None = None
        gateway = None
        if spa != b"\0\0\0\0":  # an ARP probe claims nothing
            previous, claimed = self.arp.claim(spa, sha)
            if previous is not None:
                indicators.append("mac_change")
            if len(claimed) > 1:
                indicators.append("multiple_ips")
                routers = self.routers
                gateway = next((ip for ip in claimed if gateway_like(ip, routers)), None)
                if gateway is not None:
                    indicators.append("gateway_claim")
        self.out.append(
            self.ev.arp(
                r,
                ts,
                index,
                None,
                indicators=tuple(indicators),
                moved_from=previous,
                claimed=claimed,
                gateway=gateway,
            )
        )
        if previous is not None:
            self.stats["arp_mac_changes"] = self.stats.get("arp_mac_changes", 0) + 1
            self.out.append(self.ev.arp(r, ts, index, previous))

    def _nd(self, r: tuple, data: bytes, ts: float, index: int) -> None:
        """A Neighbour Advertisement: its target bound to the MAC in its target link-layer option."""
        start, end = r[7], r[8]  # the message after type, code and checksum: flags, target, options
        if end - start < 20:
            return
        target = data[start + 4 : start + 20]
        override = bool(data[start] & 0x20)
        pos = start + 20
        mac = None
        while pos + 8 <= end:
            kind, units = data[pos], data[pos + 1]
            if not units:
                return  # a zero length is invalid (RFC 4861): the rest cannot be read
            if kind == 2 and units == 1:
                mac = data[pos + 2 : pos + 8]
                break
            pos += units * 8
        if mac is None or target[0] == 0xFF:  # no link-layer address, or a multicast target
            return
        previous, _ = self.nd.claim(target, mac)
        if previous is not None:
            self.stats["nd_mac_changes"] = self.stats.get("nd_mac_changes", 0) + 1
            self.out.append(self.ev.nd_change(r, ts, index, target, mac, previous, override))


def reason_text(reason: str, **params: Any) -> str:
    """A skip/damage reason code as a sentence in the user's language."""
    from canh.i18n import t

    return t(f"pcap.{reason}", **params)


_FLAG_LISTS = [[name for bit, name in FLAG_NAMES if i & bit] for i in range(256)]


def flag_names(flags: int) -> list[str]:
    """TCP flag bits as names, in header order."""
    return _FLAG_LISTS[flags & 0xFF].copy()


def flow_community_id(flow: Flow) -> str:
    """Community ID of a flow, from its initiator's side (ICMP one-way messages hash in that order)."""
    src, sport, dst, dport, proto, _ = flow.key
    if proto in (TCP, UDP):
        return hashed_ordered(src, dst, proto, sport, dport)  # the key is in the specification's order
    if flow.rev:
        src, sport, dst, dport = dst, dport, src, sport
    return hashed(src, dst, proto, sport, dport, is_one_way(proto, sport))
