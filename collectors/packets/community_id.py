"""Community ID v1 flow hashing (https://github.com/corelight/community-id-spec), so Canh's flows join
with Zeek, Suricata and Elastic records of the same connection."""

from __future__ import annotations

import hashlib
import struct
from binascii import b2a_base64

from canh.collectors.packets.decode import ICMP, ICMP6

# ICMP message types that have a counterpart; a flow of them is two-way (request <-> reply).
_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {
    128: 129,
    129: 128,
    133: 134,
    134: 133,
    135: 136,
    136: 135,
    130: 131,
    131: 130,
    139: 140,
    140: 139,
    144: 145,
    145: 144,
}
_PORTED = frozenset({6, 17, 132, 1, 58})
# The hashed input in one pack per address size: seed, addresses, protocol, a zero pad, ports.
_WITH_PORTS = {4: struct.Struct("!H4s4sBxHH").pack, 16: struct.Struct("!H16s16sBxHH").pack}
_NO_PORTS = {4: struct.Struct("!H4s4sBx").pack, 16: struct.Struct("!H16s16sBx").pack}
try:
    # CPython's own SHA-1: for a 40-byte input, OpenSSL's (hashlib.sha1) costs about twice as much in
    # setting up its context as in hashing (one hash per flow).
    from _sha1 import sha1 as _sha1
except ImportError:  # an interpreter built without its own hashes
    _sha1 = hashlib.sha1


def icmp_ports(proto: int, itype: int, code: int) -> tuple[int, int, bool]:
    """ICMP (type, code) as Community ID's (source port, destination port, one_way)."""
    pairs = _ICMP4_PAIRS if proto == ICMP else _ICMP6_PAIRS
    other = pairs.get(itype)
    if other is None:
        return itype, code, True
    return itype, other, False


def community_id(src: bytes, dst: bytes, proto: int, sport: int = 0, dport: int = 0, seed: int = 0) -> str:
    """The ``1:<base64 sha1>`` id of a flow; addresses packed (4 or 16 bytes), ICMP type/code as ports."""
    one_way = False
    if proto in (ICMP, ICMP6):
        sport, dport, one_way = icmp_ports(proto, sport, dport)
    return hashed(src, dst, proto, sport, dport, one_way, seed)


def is_one_way(proto: int, sport: int) -> bool:
    """For ICMP port equivalents: True when the message type has no counterpart."""
    return proto in (ICMP, ICMP6) and sport not in (_ICMP4_PAIRS if proto == ICMP else _ICMP6_PAIRS)


def hashed_ordered(src: bytes, dst: bytes, proto: int, sport: int, dport: int, seed: int = 0) -> str:
    """Community ID of a TCP/UDP/SCTP 5-tuple already in the specification's order (lower address,
    then lower port, first): a flow key is, so its flow event hashes it in one call."""
    return "1:" + b2a_base64(
        _sha1(_WITH_PORTS[len(src)](seed, src, dst, proto, sport, dport)).digest(), newline=False
    ).decode("ascii")


def hashed(
    src: bytes, dst: bytes, proto: int, sport: int, dport: int, one_way: bool = False, seed: int = 0
) -> str:
    """Community ID from ports already mapped (ICMP port equivalents), in the order the flow was seen."""
    if not one_way and (src > dst or (src == dst and sport > dport)):
        src, dst, sport, dport = dst, src, dport, sport
    if proto in _PORTED:
        return hashed_ordered(src, dst, proto, sport, dport, seed)
    data = _NO_PORTS[len(src)](seed, src, dst, proto)
    return "1:" + b2a_base64(_sha1(data).digest(), newline=False).decode("ascii")
