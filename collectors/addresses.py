"""Is this text an IP address? A fast check for parsers (the stores type source.ip as an address)."""

from __future__ import annotations

import ipaddress

_HEX = frozenset("0123456789abcdefABCDEF:.")


def is_ip(text: str) -> bool:
    """True for a dotted IPv4 address (no leading zeros) or an IPv6 address; hostnames are not."""
    if not text:
        return False
    if ":" in text:
        if not _HEX.issuperset(text):
            return False
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            return False
        return True
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or len(p) > 3 or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return False
    return True


__all__ = ["is_ip"]
