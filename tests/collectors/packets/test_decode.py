"""Header decoding straight from raw frames: every link type we claim, IPv6 extension headers, and
no exception for any input (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, CookedLinux, Dot1Q, Ether

from canh.collectors.packets.decode import ARP as ARP_KIND
from canh.collectors.packets.decode import KNOWN_LINKTYPES, decode

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def test_tcp_over_ethernet_gives_ports_flags_and_payload_offsets() -> None:
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=40000, dport=80, flags="PA")
        / b"GET /"
    )
    proto, src, dst, sport, dport, vlan, flags, start, end = decode(1, frame)
    assert (proto, src, dst, sport, dport, vlan, flags) == (6, A4, B4, 40000, 80, 0, 0x18)
    assert frame[start:end] == b"GET /"


def test_ethernet_padding_is_not_payload() -> None:
    frame = (
        bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=5, dport=6)
            / b"ab"
        )
        + b"\0" * 10
    )
    r = decode(1, frame)
    assert frame[r[7] : r[8]] == b"ab"


def test_vlan_tag_is_part_of_the_key() -> None:
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / Dot1Q(vlan=42)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=53, dport=9)
    )
    assert decode(1, frame)[5] == 42


def test_linux_sll_and_raw_ip() -> None:
    pkt = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2)
    assert decode(113, bytes(CookedLinux(proto=0x0800) / pkt))[:5] == (17, A4, B4, 1, 2)
    assert decode(101, bytes(pkt))[:5] == (17, A4, B4, 1, 2)


def test_ipv6_extension_headers_are_walked_to_the_transport() -> None:
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting()
        / IPv6ExtHdrDestOpt()
        / TCP(sport=1234, dport=443)
    )
    r = decode(1, bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt))
    assert r[0] == 6 and (r[3], r[4]) == (1234, 443) and len(r[1]) == 16
    first = (
        IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=7, dport=8)
    )
    assert decode(1, bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / first))[:1] == (17,)
    later = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(offset=100, nh=17) / (b"x" * 16)
    assert decode(1, bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / later)) == "fragment"


def test_icmp_type_and_code_take_the_port_slots() -> None:
    r = decode(
        1,
        bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / ICMP(type=3, code=1)
        ),
    )
    assert r[0] == 1 and (r[3], r[4]) == (3, 1)
    r6 = decode(
        1,
        bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IPv6(src="::1", dst="::2")
            / ICMPv6EchoRequest()
        ),
    )
    assert r6[0] == 58 and r6[3] == 128


def test_arp() -> None:
    r = decode(
        1,
        bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / ARP(op=2, hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst="10.0.0.2")
        ),
    )
    assert r[0] == ARP_KIND and r[2] == 2 and r[3] == bytes.fromhex("020000000001") and r[4] == A4


def test_damage_is_named_not_raised() -> None:
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2") / TCP()
    )
    assert decode(1, frame[:20]) == "truncated"
    assert decode(1, frame[: 14 + 20 + 10]) == "truncated"  # TCP header cut by snaplen
    bad = bytearray(frame)
    bad[14] = 0x42  # IHL 2 words
    assert decode(1, bytes(bad)) == "bad_ip"
    assert decode(147, frame) == "unknown_linktype"
    assert (
        decode(1, bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x88CC) / b"lldp"))
        == "non_ip"
    )
    frags = fragment(IP(src="10.0.0.1", dst="10.0.0.2") / UDP() / (b"x" * 3000), fragsize=1000)
    assert decode(101, bytes(frags[1])) == "fragment"
    assert decode(101, bytes(frags[0]))[0] == 17


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(sorted(KNOWN_LINKTYPES | {147})), st.binary(max_size=200))
def test_random_bytes_never_raise(linktype: int, frame: bytes) -> None:
    r = decode(linktype, frame)
    assert isinstance(r, str | tuple)


@settings(max_examples=1500, deadline=None)
@given(st.binary(min_size=0, max_size=120), st.integers(0, 3))
def test_random_bytes_after_real_headers_never_raise(tail: bytes, which: int) -> None:
    heads = [
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2"))[
            :34
        ],
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6())[:54],
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x86DD)),
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q() / IP())[:38],
    ]
    r = decode(1, heads[which] + tail)
    assert isinstance(r, str | tuple)
    if isinstance(r, tuple) and r[0] != ARP_KIND:
        assert 0 <= r[7] <= r[8] <= len(heads[which] + tail)
