"""DHCP messages: DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415): message type, client MAC or DUID,
assigned address, host name, lease time."""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from canh.collectors.packets.decode import mac_text

MESSAGE_TYPES = {
    1: "discover",
    2: "offer",
    3: "request",
    4: "decline",
    5: "ack",
    6: "nak",
    7: "release",
    8: "inform",
}
_COOKIE = b"\x63\x82\x53\x63"


def parse(payload: bytes) -> dict[str, Any] | None:
    """Fields of one BOOTP/DHCP message, or None when it is not one."""
    if len(payload) < 240 or payload[236:240] != _COOKIE or payload[0] not in (1, 2):
        return None
    xid = struct.unpack_from("!I", payload, 4)[0]
    ciaddr, yiaddr, siaddr = payload[12:16], payload[16:20], payload[20:24]
    hlen = payload[2]
    chaddr = payload[28 : 28 + hlen] if 0 < hlen <= 16 else payload[28:34]
    out: dict[str, Any] = {
        "transaction_id": f"0x{xid:08x}",
        "op": "request" if payload[0] == 1 else "reply",
        "client_mac": mac_text(chaddr),
    }
    if ciaddr != b"\0\0\0\0":
        out["client_ip"] = str(ipaddress.IPv4Address(ciaddr))
    if yiaddr != b"\0\0\0\0":
        out["assigned_ip"] = str(ipaddress.IPv4Address(yiaddr))
    if siaddr != b"\0\0\0\0":
        out["next_server_ip"] = str(ipaddress.IPv4Address(siaddr))
    pos = 240
    n = len(payload)
    while pos < n:
        code = payload[pos]
        if code == 255:
            break
        if code == 0:
            pos += 1
            continue
        if pos + 1 >= n:
            break
        length = payload[pos + 1]
        value = payload[pos + 2 : pos + 2 + length]
        pos += 2 + length
        if code == 53 and value:
            out["message_type"] = MESSAGE_TYPES.get(value[0], str(value[0]))
        elif code == 12:
            out["hostname"] = value.decode("utf-8", "replace").rstrip("\0")
        elif code == 50 and length == 4:
            out["requested_ip"] = str(ipaddress.IPv4Address(value))
        elif code == 51 and length == 4:
            out["lease_time"] = struct.unpack("!I", value)[0]
        elif code == 54 and length == 4:
            out["server_ip"] = str(ipaddress.IPv4Address(value))
        elif code == 3 and length >= 4:  # the routers (gateways) a server gives the client
            out["routers"] = [str(ipaddress.IPv4Address(value[i : i + 4])) for i in range(0, length - 3, 4)]
        elif code == 60:
            out["vendor_class"] = value.decode("utf-8", "replace")
        elif code == 81 and length > 3:
            out.setdefault("hostname", value[3:].decode("utf-8", "replace"))
    out.setdefault("message_type", "bootp")
    return out


MESSAGE_TYPES6 = {
    1: "solicit",
    2: "advertise",
    3: "request",
    4: "confirm",
    5: "renew",
    6: "rebind",
    7: "reply",
    8: "release",
    9: "decline",
    10: "reconfigure",
    11: "information-request",
    12: "relay-forward",
    13: "relay-reply",
}
# Messages a server sends: their IA addresses are what it assigns, a client's are what it asks for.
_SERVER6 = frozenset({2, 7})
_OPTION = struct.Struct("!HH").unpack_from
_IAADDR = struct.Struct("!16sII").unpack_from
_IAPREFIX = struct.Struct("!IIB16s").unpack_from
MAX_OPTIONS = 64


def parse6(payload: bytes) -> dict[str, Any] | None:
    """Fields of one DHCPv6 client/server message (RFC 8415), or None when it is not one.

    Relay messages are left out (None): the client's message sits inside them, usually seen again
    on the client's own link.
    """
    if len(payload) < 4 or payload[0] not in MESSAGE_TYPES6 or payload[0] in (12, 13):
        return None
    mtype = payload[0]
    out: dict[str, Any] = {
        "message_type": MESSAGE_TYPES6[mtype],
        "transaction_id": f"0x{int.from_bytes(payload[1:4], 'big'):06x}",
    }
    addresses: list[str] = []
    for code, value in _options6(payload, 4):
        if code == 1 and value:
            out["client_duid"] = value.hex()
            mac = _duid_mac(value)
            if mac:
                out["client_mac"] = mac
        elif code == 2 and value:
            out["server_duid"] = value.hex()
        elif code in (3, 4) and len(value) >= (12 if code == 3 else 4):
            # IA_NA (IAID, T1, T2) and IA_TA (IAID): addresses in IAADDR sub-options
            for sub, sval in _options6(value, 12 if code == 3 else 4):
                if sub == 5 and len(sval) >= 24:
                    addr, _preferred, valid = _IAADDR(sval)
                    addresses.append(str(ipaddress.IPv6Address(addr)))
                    out.setdefault("lease_time", valid)
        elif code == 25 and len(value) >= 12:  # IA_PD: delegated prefixes in IAPREFIX sub-options
            for sub, sval in _options6(value, 12):
                if sub == 26 and len(sval) >= 25:
                    _preferred, valid, plen, prefix = _IAPREFIX(sval)
                    out.setdefault("delegated_prefix", f"{ipaddress.IPv6Address(prefix)}/{plen}")
                    out.setdefault("lease_time", valid)
        elif code == 39 and value:  # Client FQDN: flags, then the name in DNS wire format
            name = _wire_name(value[1:])
            if name:
                out["hostname"] = name
        elif code == 16 and len(value) > 6:  # vendor class: enterprise number, then length-prefixed data
            out["vendor_class"] = value[6 : 6 + int.from_bytes(value[4:6], "big")].decode("utf-8", "replace")
    if addresses:
        out["assigned_ip" if mtype in _SERVER6 else "requested_ip"] = addresses[0]
    return out


def _options6(data: bytes, pos: int) -> list[tuple[int, bytes]]:
    """(code, value) of the DHCPv6 options from ``pos``; a truncated last option is dropped."""
    out: list[tuple[int, bytes]] = []
    n = len(data)
    while pos + 4 <= n and len(out) < MAX_OPTIONS:
        code, length = _OPTION(data, pos)
        value = data[pos + 4 : pos + 4 + length]
        if len(value) < length:
            break
        out.append((code, value))
        pos += 4 + length
    return out


def _duid_mac(duid: bytes) -> str | None:
    """The Ethernet address inside a DUID-LLT (type 1) or DUID-LL (type 3), else None."""
    if len(duid) >= 14 and duid[:4] == b"\x00\x01\x00\x01":
        return mac_text(duid[8:14])
    if len(duid) >= 10 and duid[:4] == b"\x00\x03\x00\x01":
        return mac_text(duid[4:10])
    return None


def _wire_name(data: bytes) -> str:
    """A domain name in DNS wire format without compression (a partial name may end early)."""
    labels: list[str] = []
    pos = 0
    while pos < len(data) and data[pos] and len(labels) < 128:
        length = data[pos]
        labels.append(data[pos + 1 : pos + 1 + length].decode("ascii", "backslashreplace"))
        pos += 1 + length
    return ".".join(labels)
