"""Who claims which address on a LAN: the state behind the ARP and IPv6 Neighbour Discovery indicators.

A host "claims" an IP address when it sends ARP with that sender address, or an IPv6 Neighbour
Advertisement with its link-layer address for that target. Spoofing shows as an address whose
MAC changes (the victim's cache is being overwritten) or as one MAC claiming a gateway's address
besides its own (the attacker stands in for the router).
"""

from __future__ import annotations

MAX_ADDRESSES = 262144  # addresses remembered per table before it starts again (a sensor runs for months)
MAX_PER_MAC = 64  # addresses kept per MAC: past this many, the many-IPs correlation rule already fires


class Neighbours:
    """Address -> the MAC that last claimed it, and MAC -> the addresses it currently claims."""

    def __init__(self) -> None:
        self.mac_of: dict[bytes, bytes] = {}
        self.ips_of: dict[bytes, list[bytes]] = {}

    def claim(self, ip: bytes, mac: bytes) -> tuple[bytes | None, list[bytes]]:
        """Record that ``mac`` claims ``ip``: (the MAC that held it before, if another; what ``mac`` claims)."""
        previous = self.mac_of.get(ip)
        if previous == mac:
            return None, self.ips_of.get(mac) or [ip]
        if len(self.mac_of) >= MAX_ADDRESSES:
            self.mac_of.clear()
            self.ips_of.clear()
        self.mac_of[ip] = mac
        if previous is not None:
            # The address moved: the old MAC no longer claims it (a DHCP lease passed to another
            # machine must not make the first one look like it claims two addresses).
            held = self.ips_of.get(previous)
            if held is not None and ip in held:
                held.remove(ip)
        ips = self.ips_of.get(mac)
        if ips is None:
            ips = self.ips_of[mac] = [ip]
        elif ip not in ips and len(ips) < MAX_PER_MAC:
            ips.append(ip)
        return previous, ips


def gateway_like(ip: bytes, routers: set[bytes]) -> bool:
    """An address a LAN's router usually has: announced as one (DHCP), or a /24's .1 or .254."""
    return ip in routers or (len(ip) == 4 and ip[3] in (1, 254))
