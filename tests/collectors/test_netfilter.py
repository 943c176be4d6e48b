"""iptables/nftables kernel log lines become iptables.log network events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import get_parser
from tests.collectors.parsing import ctx, fields, parse

UFW = (
    "Nov 21 03:14:07 portal-01 kernel: [812345.678901] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=45.95.147.236 DST=10.20.0.10 LEN=44 TOS=0x00 PREC=0x00 "
    "TTL=244 ID=54321 PROTO=TCP SPT=51234 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0"
)


def test_ufw_block() -> None:
    ev = parse(UFW, source="/var/log/kern.log")
    assert fields(
        ev, "event.dataset", "event.module", "event.category", "event.action", "rule.name", "network.transport",
        "network.direction", "observer.ingress.interface.name",
    ) == {
        "event.dataset": "iptables.log",
        "event.module": "iptables",
        "event.category": ["network"],
        "event.action": "drop",
        "rule.name": "[UFW BLOCK]",
        "network.transport": "tcp",
        "network.direction": "inbound",
        "observer.ingress.interface.name": "eth0",
    }  # fmt: skip
    assert fields(ev, "source.ip", "source.port", "destination.ip", "destination.port", "source.mac") == {
        "source.ip": "45.95.147.236",
        "source.port": 51234,
        "destination.ip": "10.20.0.10",
        "destination.port": 3389,
        "source.mac": "52-54-00-AB-CD-EF",
    }


def test_nftables_prefix_and_outbound_udp() -> None:
    ev = parse(
        "Nov 21 03:20:00 gw kernel: nft-egress-accept IN= OUT=ens3 SRC=10.0.0.5 DST=8.8.8.8 LEN=60 TTL=64 "
        "ID=1 PROTO=UDP SPT=40000 DPT=53 LEN=40"
    )
    assert fields(ev, "event.action", "network.direction", "network.transport", "destination.port") == {
        "event.action": "accept",
        "network.direction": "outbound",
        "network.transport": "udp",
        "destination.port": 53,
    }


def test_other_kernel_lines_stay_syslog() -> None:
    ev = parse("Nov 21 03:20:00 gw kernel: [    0.000000] Linux version 6.1.0-13-amd64")
    assert ev["event"]["dataset"] == "syslog"
    assert ev["message"] == "[    0.000000] Linux version 6.1.0-13-amd64"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SRCDTINOUPSPT=PROTO 0123456789.:abcTCPUDP[]-")), max_size=200))
def test_any_kernel_body_parses_without_raising(body: str) -> None:
    get_parser("syslog").parse(f"Nov 21 02:10:01 h kernel: SRC= DST= {body}", ctx())
