"""The collector never dies on a packet: random payloads through every application parser, and random
frames (alone and after real headers) through the whole packet loop."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.packets import dhcp, dns, http, tls
from canh.collectors.packets.flows import FlowSettings, PacketAnalyzer
from canh.collectors.registry import ReadProblem

HEADS = {
    "udp53": bytes.fromhex(
        "0200000000020200000000010800450000000000000040110000c0a80001c0a80002d431003500000000"
    ),
    "tcp443": bytes.fromhex(
        "020000000002020000000001080045000000000000004006000"
        "0c0a80001c0a80002d431"
        "01bb"
        "0000000100000000501820000000"
        "0000"
    ),
    "udp67": bytes.fromhex(
        "0200000000020200000000010800450000000000000040110000c0a80001c0a800020044004300000000"
    ),
    "udp547": bytes.fromhex(
        "33330001000202000000000186dd60000000000011fffe800000000000000000000000000001"
        "ff0200000000000000000000000100020222022300000000"
    ),
    # an IPv6 Neighbour Advertisement up to its checksum: flags, target and options are the random part
    "icmp6_na": bytes.fromhex(
        "33330000000102000000000186dd6000000000003afffe800000000000000000000000000001"
        "ff020000000000000000000000000001" + "88000000"
    ),
}


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=600))
def test_application_parsers_never_raise(data: bytes) -> None:
    dns.parse(data)
    tls.client_hello(data)
    tls.server_hello(data)
    tls.client_hello(b"\x16\x03\x01\x00\x00\x01" + data)
    tls.server_hello(b"\x16\x03\x03\x00\x00\x02" + data)
    http.parse(data)
    http.parse(b"GET " + data)
    dhcp.parse(data)
    dhcp.parse(data[:236].ljust(236, b"\0") + b"\x63\x82\x53\x63" + data[236:])
    dhcp.parse6(data)
    dhcp.parse6(b"\x07\x12\x34\x56" + data)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([None, *HEADS]), st.binary(max_size=300), st.sampled_from([1, 101, 113])),
        max_size=30,
    )
)
def test_packet_loop_never_raises(frames: list[tuple[str | None, bytes, int]]) -> None:
    an = PacketAnalyzer(source="/fuzz.pcap", settings=FlowSettings(max_flows=4, idle_timeout=1, linger=0.5))
    records = [
        (1_700_000_000 + i * 0.3, lt if head is None else 1, (HEADS[head] if head else b"") + body, 60)
        for i, (head, body, lt) in enumerate(frames)
    ]
    items = list(an.run(records, where="/fuzz.pcap"))
    items.append(an.finish())
    for item in items:
        assert isinstance(item, ReadProblem | list)
    assert an.stats["packets"] == len(frames)
