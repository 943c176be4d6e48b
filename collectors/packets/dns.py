"""DNS messages (RFC 1035) decoded into the ECS ``dns.*`` fields: a small pure parser, bounded and
loop-safe on compression pointers, returning None for anything that is not a sane DNS message."""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

TYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    13: "HINFO",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    41: "OPT",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    64: "SVCB",
    65: "HTTPS",
    99: "SPF",
    252: "AXFR",
    251: "IXFR",
    255: "ANY",
    257: "CAA",
    10: "NULL",
}
CLASSES = {1: "IN", 3: "CH", 4: "HS", 255: "ANY"}
RCODES = {
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
}
OPCODES = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
_HDR = struct.Struct("!HHHHHH").unpack_from
_QUESTION = struct.Struct("!HH").unpack_from
_inet_ntop = socket.inet_ntop
_AF_INET = socket.AF_INET
_HEADER_FLAGS = (
    (0x0400, "AA"),
    (0x0200, "TC"),
    (0x0100, "RD"),
    (0x0080, "RA"),
    (0x0020, "AD"),
    (0x0010, "CD"),
)
# Header flag names by flag bits, filled as combinations are met (there are 64 at most).
_FLAG_NAMES: dict[int, tuple[str, ...]] = {}
_RR = struct.Struct("!HHIH").unpack_from
MAX_RECORDS = 64


# Text of names without compression pointers by their wire form: a link asks for the same names
# over and over, and the wire form is found by walking the label lengths alone.
_PLAIN: dict[bytes, str] = {}


def _name(msg: bytes, pos: int) -> tuple[str, int]:
    """(dotted name, position after it); raises ValueError (or IndexError) on a bad or looping name."""
    start = pos
    length = msg[pos]
    while 0 < length < 0x40:
        pos += 1 + length
        length = msg[pos]  # IndexError past the end, as _walk's: a label past the end is a bad name
    if length:
        return _walk(msg, start)  # a pointer (or a bad label)
    wire = msg[start : pos + 1]
    text = _PLAIN.get(wire)
    if text is None:
        text = _walk(msg, start)[0]
        if len(_PLAIN) >= 4096:
            _PLAIN.clear()
        _PLAIN[wire] = text
    return text, pos + 1


def _walk(msg: bytes, pos: int) -> tuple[str, int]:
    """_name's answer by following every label and pointer."""
    labels: list[bytes] = []
    end = -1
    jumps = 0
    n = len(msg)
    while True:
        length = msg[pos]  # IndexError past the end: parse() treats it as a bad name
        if length < 0x40:
            if not length:
                pos += 1
                break
            nxt = pos + 1 + length
            if nxt > n:
                raise ValueError("label past end")
            labels.append(msg[pos + 1 : nxt])
            pos = nxt
        elif length >= 0xC0:
            if pos + 1 >= n:
                raise ValueError("pointer past end")
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            if jumps > 32 or len(labels) > 128:
                raise ValueError("pointer loop")
        else:
            raise ValueError("bad label")
    # A name has at most 127 labels. Counted at each pointer and at the end only: between pointers
    # the walk cannot pass the message's end.
    if len(labels) > 128:
        raise ValueError("too many labels")
    # One decode for the whole name: backslashreplace works byte by byte, so this equals decoding
    # each label and joining them with dots.
    return b".".join(labels).decode("ascii", "backslashreplace"), (end if end >= 0 else pos)


def _rdata(msg: bytes, rtype: int, start: int, length: int) -> str:
    data = msg[start : start + length]
    if rtype == 1 and length == 4:
        return _inet_ntop(_AF_INET, data)
    if rtype == 28 and length == 16:
        return str(ipaddress.IPv6Address(data))
    if rtype in (2, 5, 12):
        return _name(msg, start)[0]
    if rtype == 15 and length > 2:
        return f"{struct.unpack_from('!H', data)[0]} {_name(msg, start + 2)[0]}"
    if rtype == 16:
        parts, pos = [], 0
        while pos < len(data):
            ln = data[pos]
            parts.append(data[pos + 1 : pos + 1 + ln].decode("utf-8", "backslashreplace"))
            pos += 1 + ln
        return "".join(parts)
    if rtype == 33 and length > 6:
        prio, weight, port = struct.unpack_from("!HHH", data)
        return f"{prio} {weight} {port} {_name(msg, start + 6)[0]}"
    if rtype == 6:
        mname, pos = _name(msg, start)
        rname, _ = _name(msg, pos)
        return f"{mname} {rname}"
    return data.hex()


def parse(msg: bytes) -> dict[str, Any] | None:
    """ECS ``dns`` fields of one DNS message (without the TCP length prefix), or None if it is not one."""
    if len(msg) < 12:
        return None
    ident, flags, qd, an, _ns, _ar = _HDR(msg, 0)
    if qd > MAX_RECORDS or an > 256 or (qd == 0 and an == 0):
        return None
    response = bool(flags & 0x8000)
    bits = flags & 0x07B0
    names = _FLAG_NAMES.get(bits)
    if names is None:
        names = _FLAG_NAMES[bits] = tuple(name for bit, name in _HEADER_FLAGS if flags & bit)
    opcode = (flags >> 11) & 0xF
    out: dict[str, Any] = {
        "id": str(ident),
        "type": "answer" if response else "query",
        "op_code": OPCODES.get(opcode) or str(opcode),
        "header_flags": list(names),
    }
    if response:
        out["response_code"] = RCODES.get(flags & 0xF) or str(flags & 0xF)
    try:
        pos = 12
        qname = None  # the first question's name when it has no compression pointer
        for i in range(qd):
            name, pos = _name(msg, pos)
            if pos + 4 > len(msg):
                return None
            qtype, qclass = _QUESTION(msg, pos)
            if i == 0:
                # A name ending in a pointer ends with its two bytes, the first 0xC0 or above.
                if msg[pos - 2] < 0xC0:
                    qname = name
                out["question"] = {
                    "name": name,
                    "type": TYPES.get(qtype) or str(qtype),
                    "class": CLASSES.get(qclass) or str(qclass),
                }
            pos += 4
        answers: list[dict[str, Any]] = []
        resolved: list[str] = []
        for _ in range(min(an, MAX_RECORDS)):
            if qname is not None and msg[pos] == 0xC0 and msg[pos + 1] == 12:
                # A pointer to the first question's name (most answers): that name, already read.
                name = qname
                pos += 2
            else:
                name, pos = _name(msg, pos)
            if pos + 10 > len(msg):
                break
            rtype, rclass, ttl, rdlen = _RR(msg, pos)
            pos += 10
            if pos + rdlen > len(msg):
                break
            if rtype == 1 and rdlen == 4:  # _rdata's first case, without the call
                data = _inet_ntop(_AF_INET, msg[pos : pos + 4])
            else:
                data = _rdata(msg, rtype, pos, rdlen)
            pos += rdlen
            answers.append(
                {
                    "name": name,
                    "type": TYPES.get(rtype) or str(rtype),
                    "class": CLASSES.get(rclass) or str(rclass),
                    "ttl": ttl,
                    "data": data,
                }
            )
            if rtype in (1, 28):
                resolved.append(data)
    except (ValueError, IndexError, struct.error):
        return None if "question" not in out else out
    if answers:
        out["answers"] = answers
        out["answers_count"] = len(answers)
    if resolved:
        out["resolved_ip"] = resolved
    return out
