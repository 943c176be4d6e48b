"""Is this text an IP address? A fast check for parsers (the stores type source.ip as an address)."""

from __future__ import annotations

import ipaddress
import re

_HEX = frozenset("0123456789abcdefABCDEF:.")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\Z")


SEEN_IP: dict[str, bool] = {}
"""What :func:`is_ip` answered for each text it remembers; a parser on a hot path may look here first."""


def is_ip(text: str) -> bool:
    """True for a dotted IPv4 address (no leading zeros) or an IPv6 address; hostnames are not."""
    # Remembered (short texts only, addresses are at most 45 characters): a log names the same
    # peers over and over (a brute force, a crawler).
    known = SEEN_IP.get(text)
    if known is None:
        known = _is_ip(text)
        if len(text) <= 64:
            if len(SEEN_IP) >= 65_536:
                SEEN_IP.clear()
            SEEN_IP[text] = known
    return known


def _is_ip(text: str) -> bool:
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
    return _IPV4.match(text) is not None


__all__ = ["SEEN_IP", "is_ip"]
