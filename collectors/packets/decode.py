"""Link, IP and transport headers decoded with ``struct`` straight from the raw frame (the hot loop).

``decode(linktype, frame)`` returns either a tuple describing the packet or a short string naming
why it was skipped (``"truncated"``, ``"bad_ip"``, ``"non_ip"`` ...). It never raises on any input,
so one bad frame cannot stop a sensor. Payloads are given as offsets into the frame: only the few
packets an application parser wants are ever sliced.

IP packet tuple: ``(proto, src, dst, sport, dport, vlan, tcp_flags, payload_start, payload_end)``
with addresses as packed bytes (4 or 16), ICMP type/code in the port slots.
ARP tuple: ``(ARP, vlan, op, sender_mac, sender_ip, target_mac, target_ip)``.
"""

from __future__ import annotations

import struct

ARP = -1

# pcap link-layer types (https://www.tcpdump.org/linktypes.html)
LINK_NULL = 0
LINK_ETHERNET = 1
LINK_RAW = 101
LINK_RAW_OLD = 12
LINK_RAW_OPENBSD = 14
LINK_LOOP = 108
LINK_SLL = 113
LINK_SLL2 = 276
LINK_IPV4 = 228
LINK_IPV6 = 229
KNOWN_LINKTYPES = frozenset(
    {
        LINK_NULL,
        LINK_ETHERNET,
        LINK_RAW,
        LINK_RAW_OLD,
        LINK_RAW_OPENBSD,
        LINK_LOOP,
        LINK_SLL,
        LINK_SLL2,
        LINK_IPV4,
        LINK_IPV6,
    }
)

TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58

# Reasons that are damage (counted as errors) rather than traffic we do not analyse.
ERRORS = frozenset({"truncated", "bad_ip", "bad_tcp", "bad_udp", "bad_arp", "unknown_linktype"})

_u16 = struct.Struct("!H").unpack_from
_u16le = struct.Struct("<H").unpack_from
_u32le = struct.Struct("<I").unpack_from
_u32be = struct.Struct("!I").unpack_from
_ports = struct.Struct("!HH").unpack_from
_v4 = struct.Struct("!BBHHHBBH4s4s").unpack_from
_arp = struct.Struct("!HHBBH6s4s6s4s").unpack_from

# IPv6 extension headers walked to reach the transport header.
_EXT_GENERIC = frozenset({0, 43, 60, 135, 139, 140, 253, 254})
_FRAGMENT6 = 44
_AH = 51
_NO_NEXT = 59


def decode(linktype: int, frame: bytes) -> tuple | str:
    """The packet's headers as a tuple (see module docstring), or the reason it was skipped."""
    n = len(frame)
    vlan = 0
    if linktype == LINK_ETHERNET:
        if n < 14:
            return "truncated"
        etype = (frame[12] << 8) | frame[13]
        off = 14
        # 802.1Q / 802.1ad / QinQ tags: keep the outer VLAN id, which is how switches see the flow.
        while etype in (0x8100, 0x88A8, 0x9100):
            if n < off + 4:
                return "truncated"
            if not vlan:
                vlan = ((frame[off] << 8) | frame[off + 1]) & 0x0FFF
            etype = (frame[off + 2] << 8) | frame[off + 3]
            off += 4
    elif linktype == LINK_SLL:
        if n < 16:
            return "truncated"
        etype = (frame[14] << 8) | frame[15]
        off = 16
    elif linktype == LINK_SLL2:
        if n < 20:
            return "truncated"
        etype = (frame[0] << 8) | frame[1]
        off = 20
    elif linktype in (LINK_RAW, LINK_RAW_OLD, LINK_RAW_OPENBSD, LINK_IPV4, LINK_IPV6):
        if n < 1:
            return "truncated"
        version = frame[0] >> 4
        etype = 0x0800 if version == 4 else 0x86DD if version == 6 else 0
        off = 0
    elif linktype in (LINK_NULL, LINK_LOOP):
        if n < 4:
            return "truncated"
        family = _u32be(frame, 0)[0] if linktype == LINK_LOOP else _u32le(frame, 0)[0]
        if family > 0xFFFF:  # written in the other byte order by a foreign host
            family = _u32be(frame, 0)[0] if linktype != LINK_LOOP else _u32le(frame, 0)[0]
        etype = 0x0800 if family == 2 else 0x86DD if family in (10, 24, 28, 30) else 0
        off = 4
    else:
        return "unknown_linktype"

    if etype == 0x0800:
        if n < off + 20:
            return "truncated"
        vihl, _tos, total, _ident, frag, _ttl, proto, _csum, src, dst = _v4(frame, off)
        ihl = (vihl & 0x0F) << 2
        if total == 0:
            total = n - off  # TCP segmentation offload: the NIC fills the length in later
        if vihl >> 4 != 4 or ihl < 20 or total < ihl:
            return "bad_ip"
        end = off + total
        if end > n:
            end = n  # snaplen cut: headers may still be there
        l4 = off + ihl
        if l4 > end:
            return "truncated"
        if frag & 0x1FFF:
            return "fragment"
    elif etype == 0x86DD:
        if n < off + 40:
            return "truncated"
        if frame[off] >> 4 != 6:
            return "bad_ip"
        plen = _u16(frame, off + 4)[0]
        proto = frame[off + 6]
        src = frame[off + 8 : off + 24]
        dst = frame[off + 24 : off + 40]
        l4 = off + 40
        end = l4 + plen
        if plen == 0 or end > n:
            end = n  # jumbogram or snaplen cut
        while True:
            if proto in _EXT_GENERIC:
                if l4 + 2 > end:
                    return "truncated"
                proto = frame[l4]
                l4 += (frame[l4 + 1] + 1) << 3
            elif proto == _FRAGMENT6:
                if l4 + 8 > end:
                    return "truncated"
                if _u16(frame, l4 + 2)[0] & 0xFFF8:
                    return "fragment"
                proto = frame[l4]
                l4 += 8
            elif proto == _AH:
                if l4 + 2 > end:
                    return "truncated"
                proto = frame[l4]
                l4 += (frame[l4 + 1] + 2) << 2
            else:
                break
        if l4 > end:
            return "truncated"
    elif etype == 0x0806:
        if n < off + 28:
            return "truncated"
        htype, ptype, hlen, plen4, op, sha, spa, tha, tpa = _arp(frame, off)
        if htype != 1 or ptype != 0x0800 or hlen != 6 or plen4 != 4:
            return "bad_arp"
        return (ARP, vlan, op, sha, spa, tha, tpa)
    else:
        return "non_ip"

    if proto == TCP:
        if l4 + 20 > end:
            return "truncated"
        doff = (frame[l4 + 12] >> 4) << 2
        if doff < 20:
            return "bad_tcp"
        sport, dport = _ports(frame, l4)
        start = l4 + doff
        if start > end:
            start = end
        return (TCP, src, dst, sport, dport, vlan, frame[l4 + 13], start, end)
    if proto == UDP:
        if l4 + 8 > end:
            return "truncated"
        sport, dport = _ports(frame, l4)
        ulen = _u16(frame, l4 + 4)[0]
        if ulen and ulen < 8:
            return "bad_udp"
        uend = l4 + ulen if ulen else end
        return (UDP, src, dst, sport, dport, vlan, 0, l4 + 8, uend if uend < end else end)
    if proto in (ICMP, ICMP6):
        if l4 + 4 > end:
            return "truncated"
        return (proto, src, dst, frame[l4], frame[l4 + 1], vlan, 0, l4 + 4, end)
    if proto == _NO_NEXT:
        return (proto, src, dst, 0, 0, vlan, 0, end, end)
    return (proto, src, dst, 0, 0, vlan, 0, l4 if l4 < end else end, end)


def frame_macs(linktype: int, frame: bytes) -> tuple[bytes, bytes] | None:
    """(source MAC, destination MAC) of an Ethernet frame, else None."""
    if linktype == LINK_ETHERNET and len(frame) >= 14:
        return frame[6:12], frame[0:6]
    return None


_MAC_TEXT: dict[bytes, str] = {}


def mac_text(mac: bytes) -> str:
    """ECS form of a MAC address: upper-case bytes joined by hyphens (cached: a LAN's MACs repeat)."""
    text = _MAC_TEXT.get(mac)
    if text is None:
        text = mac.hex("-").upper()
        if len(_MAC_TEXT) >= 65536:
            _MAC_TEXT.clear()
        _MAC_TEXT[mac] = text
    return text
