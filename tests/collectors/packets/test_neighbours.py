"""Who claims which address: the ARP and Neighbour Discovery indicators, and DHCPv6 leases, on captures
written with scapy where every claim is known, and on the corpus's ARP poisoning and DHCPv6 captures."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dhcp6 import (
    DUID_LL,
    DUID_LLT,
    DHCP6_Reply,
    DHCP6_Solicit,
    DHCP6OptClientFQDN,
    DHCP6OptClientId,
    DHCP6OptIA_NA,
    DHCP6OptIAAddress,
    DHCP6OptServerId,
)
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from canh.collectors.packets.neighbours import Neighbours, gateway_like
from canh.collectors.packets.reader import PcapFileReader
from canh.collectors.registry import LineContext, ReadProblem
from canh.events import Event, get
from tests.conftest import CanhRun

T0 = 1_763_769_600.0
GW, GW_MAC = "10.9.0.1", "02:00:00:00:00:01"
HOST, HOST_MAC = "10.9.0.20", "02:00:00:00:00:20"
EVIL_MAC = "02:66:66:66:66:66"
DHCP_GW = "10.9.0.7"  # a router announced by DHCP, not at .1 or .254
ECS = lambda mac: mac.replace(":", "-").upper()  # noqa: E731


def arp(op: str, mac: str, ip: str, target: str, target_mac: str = "00:00:00:00:00:00") -> Packet:
    dst = "ff:ff:ff:ff:ff:ff" if op == "who-has" else target_mac
    return Ether(src=mac, dst=dst) / ARP(op=op, hwsrc=mac, psrc=ip, pdst=target, hwdst=target_mac)


def dhcp_ack(router: str) -> Packet:
    return (
        Ether(src=GW_MAC, dst=HOST_MAC)
        / IP(src=GW, dst=HOST)
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr=HOST, chaddr=bytes.fromhex("020000000020"))
        / DHCP(options=[("message-type", "ack"), ("router", router), ("lease_time", 3600), "end"])
    )


def write(path: Path, pkts: list[Packet]) -> Path:
    for i, p in enumerate(pkts):
        p.time = T0 + i
    wrpcap(str(path), pkts)
    return path


def read(path: Path, host: str | None = None) -> list[Event]:
    items = list(PcapFileReader().read(path, LineContext(source=str(path), position=0, host=host)))
    assert not [i for i in items if isinstance(i, ReadProblem)]
    return [i for i in items if not isinstance(i, ReadProblem)]


def claims(events: list[Event]) -> list[tuple]:
    """Per ARP packet event: (action, sender ip, indicators, previous mac, sender ips, gateway)."""
    return [
        (
            get(e, "event.action"),
            get(e, "source.ip"),
            get(e, "arp.indicators"),
            get(e, "arp.previous_mac"),
            get(e, "arp.sender_ips"),
            get(e, "arp.gateway_ip"),
        )
        for e in events
        if get(e, "event.dataset") == "network.arp" and get(e, "event.action") != "arp_mac_change"
    ]


def test_arp_indicators_name_every_claim_exactly(tmp_path: Path) -> None:
    pkts = [
        arp("is-at", GW_MAC, GW, HOST, HOST_MAC),  # the real gateway
        arp("who-has", HOST_MAC, HOST, GW),  # a host: one address
        arp("who-has", EVIL_MAC, "10.9.0.66", HOST),  # the attacker from its own address
        arp("is-at", EVIL_MAC, GW, HOST, HOST_MAC),  # ... then says it is the gateway
        arp("is-at", GW_MAC, GW, GW, "ff:ff:ff:ff:ff:ff"),  # the gateway takes its address back
        arp("who-has", EVIL_MAC, GW, HOST),  # poisoned again, in a request this time
        arp("who-has", "02:00:00:00:00:99", "0.0.0.0", "10.9.0.99"),  # a probe claims nothing
        dhcp_ack(DHCP_GW),
        arp("is-at", "02:00:00:00:00:07", DHCP_GW, HOST, HOST_MAC),  # the announced router
        arp("who-has", "02:00:00:00:00:30", "10.9.0.30", HOST),  # a second host with two addresses
        arp("who-has", "02:00:00:00:00:30", "10.9.0.31", HOST),
        arp("is-at", "02:77:77:77:77:77", "10.9.0.77", HOST, HOST_MAC),  # another attacker, own address
        arp("is-at", "02:77:77:77:77:77", DHCP_GW, HOST, HOST_MAC),  # ... claiming the DHCP router
    ]
    events = read(write(tmp_path / "lan.pcap", pkts))
    gw, evil, dhcp_gw = ECS(GW_MAC), ECS(EVIL_MAC), "02-00-00-00-00-07"
    assert claims(events) == [
        ("arp_reply", GW, None, None, None, None),
        ("arp_request", HOST, None, None, None, None),
        ("arp_request", "10.9.0.66", None, None, None, None),
        ("arp_reply", GW, ["mac_change", "multiple_ips", "gateway_claim"], gw, ["10.9.0.66", GW], GW),
        ("arp_reply", GW, ["mac_change"], evil, None, None),
        ("arp_request", GW, ["mac_change", "multiple_ips", "gateway_claim"], gw, ["10.9.0.66", GW], GW),
        ("arp_request", "0.0.0.0", None, None, None, None),
        ("arp_reply", DHCP_GW, None, None, None, None),
        ("arp_request", "10.9.0.30", None, None, None, None),
        ("arp_request", "10.9.0.31", ["multiple_ips"], None, ["10.9.0.30", "10.9.0.31"], None),
        ("arp_reply", "10.9.0.77", None, None, None, None),
        (
            "arp_reply",
            DHCP_GW,
            ["mac_change", "multiple_ips", "gateway_claim"],
            dhcp_gw,
            ["10.9.0.77", DHCP_GW],
            DHCP_GW,
        ),
    ]
    packets = [e for e in events if get(e, "event.action") in ("arp_request", "arp_reply")]
    flagged = [e for e in packets if get(e, "arp.indicators")]
    assert all(get(e, "event.type") == ["protocol", "indicator"] for e in flagged)
    assert all(get(e, "event.type") == ["protocol"] for e in packets if e not in flagged)
    # The separate finding for each address that moved, as before.
    moved = [e for e in events if get(e, "event.action") == "arp_mac_change"]
    assert [(get(e, "source.ip"), get(e, "arp.previous_mac")) for e in moved] == [
        (GW, gw),
        (GW, evil),
        (GW, gw),
        (DHCP_GW, dhcp_gw),
    ]
    (ack,) = [e for e in events if get(e, "event.dataset") == "network.dhcp"]
    assert get(ack, "dhcp.routers") == [DHCP_GW]


def test_neighbours_table_forgets_an_address_that_moved() -> None:
    table = Neighbours()
    a, b, ip1, ip2 = b"A" * 6, b"B" * 6, bytes([10, 0, 0, 5]), bytes([10, 0, 0, 6])
    assert table.claim(ip1, a) == (None, [ip1])
    assert table.claim(ip1, a) == (None, [ip1])
    assert table.claim(ip1, b) == (a, [ip1])  # a DHCP lease handed to another machine
    assert table.claim(ip2, a) == (None, [ip2])  # so the first one claims one address, not two
    assert gateway_like(bytes([192, 168, 1, 254]), set()) and not gateway_like(ip1, set())
    assert gateway_like(ip1, {ip1})


def test_a_neighbour_advertisement_moving_an_address_is_flagged(tmp_path: Path) -> None:
    def na(src_mac: str, target: str, lladdr: str, override: int = 1) -> Packet:
        return (
            Ether(src=src_mac, dst="33:33:00:00:00:01")
            / IPv6(src="fe80::" + src_mac[-2:], dst="ff02::1")
            / ICMPv6ND_NA(tgt=target, R=1, S=0, O=override)
            / ICMPv6NDOptDstLLAddr(lladdr=lladdr)
        )

    pkts = [
        na("02:00:00:00:00:01", "2001:db8::1", "02:00:00:00:00:01"),
        na("02:00:00:00:00:01", "2001:db8::1", "02:00:00:00:00:01"),  # the same again: nothing
        na(EVIL_MAC, "2001:db8::1", EVIL_MAC),  # poisoning
        na("02:00:00:00:00:01", "2001:db8::1", "02:00:00:00:00:01", override=0),  # and back
        Ether(src="02:00:00:00:00:02", dst="33:33:00:00:00:01")  # no link-layer option: no claim
        / IPv6(src="fe80::2", dst="ff02::1")
        / ICMPv6ND_NA(tgt="2001:db8::1"),
    ]
    events = read(write(tmp_path / "nd.pcap", pkts))
    moved = [e for e in events if get(e, "event.action") == "nd_mac_change"]
    assert [
        (get(e, "nd.target_ip"), get(e, "nd.previous_mac"), get(e, "nd.target_mac"), get(e, "nd.override"))
        for e in moved
    ] == [
        ("2001:db8::1", "02-00-00-00-00-01", ECS(EVIL_MAC), True),
        ("2001:db8::1", ECS(EVIL_MAC), "02-00-00-00-00-01", False),
    ]
    assert {get(e, "event.kind") for e in moved} == {"alert"}
    assert {get(e, "event.dataset") for e in moved} == {"network.icmp"}
    assert get(moved[0], "source.ip") == "fe80::66" and get(moved[0], "icmp.type") == 136
    assert len({e["event"]["id"] for e in events}) == len(events)


def test_dhcpv6_solicit_and_reply_make_a_lease_with_the_host_name(tmp_path: Path) -> None:
    client_mac, server_mac = "02:00:00:00:00:61", "02:00:00:00:00:01"
    duid = DUID_LLT(lladdr=client_mac, timeval=1_000_000)
    server = DUID_LL(lladdr=server_mac)
    solicit = (
        Ether(src=client_mac, dst="33:33:00:01:00:02")
        / IPv6(src="fe80::61", dst="ff02::1:2")
        / UDP(sport=546, dport=547)
        / DHCP6_Solicit(trid=0x123456)
        / DHCP6OptClientId(duid=duid)
        / DHCP6OptClientFQDN(fqdn="may-tinh-ke-toan.so.gov.vn")
        / DHCP6OptIA_NA(iaid=7)
    )
    reply = (
        Ether(src=server_mac, dst=client_mac)
        / IPv6(src="fe80::1", dst="fe80::61")
        / UDP(sport=547, dport=546)
        / DHCP6_Reply(trid=0x123456)
        / DHCP6OptClientId(duid=duid)
        / DHCP6OptServerId(duid=server)
        / DHCP6OptIA_NA(
            iaid=7, ianaopts=[DHCP6OptIAAddress(addr="2001:db8:5::77", preflft=1800, validlft=3600)]
        )
    )
    events = [
        e
        for e in read(write(tmp_path / "dhcp6.pcap", [solicit, reply]))
        if get(e, "event.dataset") == "network.dhcp"
    ]
    sol, rep = events
    duid_hex = bytes(duid).hex()
    assert (
        get(sol, "event.action") == "dhcpv6_solicit"
        and get(sol, "dhcp.hostname") == "may-tinh-ke-toan.so.gov.vn"
    )
    assert get(sol, "dhcp.client_duid") == duid_hex and get(sol, "dhcp.client_mac") == "02-00-00-00-00-61"
    assert get(rep, "event.action") == "dhcpv6_reply" and get(rep, "event.type") == ["protocol", "allowed"]
    assert get(rep, "dhcp.assigned_ip") == "2001:db8:5::77" and get(rep, "dhcp.lease_time") == 3600
    assert get(rep, "dhcp.hostname") == "may-tinh-ke-toan.so.gov.vn"  # remembered from the solicit, by DUID
    assert (
        get(rep, "dhcp.server_duid") == bytes(server).hex() and get(rep, "dhcp.transaction_id") == "0x123456"
    )
    assert get(rep, "related.ip") == ["2001:db8:5::77"] and get(rep, "network.protocol") == "dhcpv6"
    assert get(rep, "network.type") == "ipv6"


def test_every_event_names_its_sensor(tmp_path: Path) -> None:
    events = read(write(tmp_path / "o.pcap", [arp("who-has", HOST_MAC, HOST, GW)]), host="sensor-lan-2")
    assert events and all(e["observer"] == {"hostname": "sensor-lan-2", "type": "sensor"} for e in events)
    assert all("observer" in e and e["observer"]["type"] == "sensor" for e in read(tmp_path / "o.pcap"))


ARPPOISON = Path("pcap/chrissanders-packets/arppoison.pcapng")


@pytest.mark.corpus
def test_arppoison_attacker_claims_the_gateway(corpus: Path) -> None:
    events = read(corpus / ARPPOISON)
    flagged = [e for e in events if get(e, "arp.indicators")]
    assert [(get(e, "source.mac"), get(e, "source.ip"), get(e, "arp.indicators")) for e in flagged] == [
        ("00-25-B3-BF-91-EE", "172.16.0.105", ["multiple_ips", "gateway_claim"])
    ]
    assert get(flagged[0], "arp.sender_ips") == ["172.16.0.1", "172.16.0.105"]
    assert get(flagged[0], "arp.gateway_ip") == "172.16.0.1"


@pytest.mark.corpus
def test_canh_ingest_of_arppoison_raises_the_gateway_claim_alert(corpus: Path, canh: CanhRun) -> None:
    proc = canh("ingest", str(corpus / ARPPOISON), check=True)
    assert "1 alert(s) raised" in proc.stdout
    (alert,) = canh.json("alerts", "list", "--since", "2010-01-01T00:00:00Z")
    assert alert["rule"]["id"] == "f16d26d5-3c20-5ff4-90e4-73f9e1f92ac8"
    assert alert["source"] == {"ip": "172.16.0.105", "mac": "00-25-B3-BF-91-EE"}


@pytest.mark.corpus
def test_dhcpv6_corpus_capture_gives_the_lease(corpus: Path) -> None:
    events = read(corpus / "pcap/chrissanders-packets/dhcp6_outlease_acquisition.pcapng")
    dhcp = [e for e in events if get(e, "event.dataset") == "network.dhcp"]
    assert [get(e, "dhcp.message_type") for e in dhcp] == ["solicit", "advertise", "request", "reply"]
    assert {get(e, "dhcp.client_duid") for e in dhcp} == {"000100011def69bd000c295e7744"}
    assert {get(e, "dhcp.client_mac") for e in dhcp} == {"00-0C-29-5E-77-44"}
    leases = [e for e in dhcp if "allowed" in get(e, "event.type")]
    assert [(get(e, "dhcp.assigned_ip"), get(e, "dhcp.lease_time")) for e in leases] == [
        ("2001:db8:1:2::1002", 3600)
    ]
