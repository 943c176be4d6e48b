"""DHCPv4 messages (RFC 2131/2132): message type, client MAC, assigned address, host name, lease time."""

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
        elif code == 60:
            out["vendor_class"] = value.decode("utf-8", "replace")
        elif code == 81 and length > 3:
            out.setdefault("hostname", value[3:].decode("utf-8", "replace"))
    out.setdefault("message_type", "bootp")
    return out
