"""FortiGate-style key=value firewall logs, with and without a syslog header."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import detect, get_parser
from tests.collectors.parsing import ctx, fields, parse

BODY = (
    'date=2026-11-21 time=03:14:07 devname="FGT-TTDL" devid="FG100FTK00000000" logid="0000000013" type="traffic" '
    'subtype="forward" level="notice" vd="root" srcip=45.95.147.236 srcport=51234 srcintf="wan1" srcintfrole="wan" '
    'dstip=10.20.0.10 dstport=3389 dstintf="dmz" dstintfrole="dmz" proto=6 action="deny" policyid=7 '
    'policyname="Chan RDP tu Internet" service="RDP" sentbyte=0 rcvdbyte=0 msg="Từ chối truy cập"'
)


def test_with_syslog_header() -> None:
    ev = parse(f"Nov 21 03:14:07 fw-01 {BODY}", source="/var/log/firewall.log")
    assert fields(
        ev, "event.dataset", "event.module", "event.action", "event.outcome", "rule.id", "rule.name",
        "observer.vendor", "observer.product", "observer.name", "network.transport", "network.direction",
    ) == {
        "event.dataset": "fortinet.firewall",
        "event.module": "fortinet",
        "event.action": "deny",
        "event.outcome": "failure",
        "rule.id": "7",
        "rule.name": "Chan RDP tu Internet",
        "observer.vendor": "Fortinet",
        "observer.product": "FortiGate",
        "observer.name": "FGT-TTDL",
        "network.transport": "tcp",
        "network.direction": "inbound",
    }  # fmt: skip
    assert fields(ev, "source.ip", "source.port", "destination.ip", "destination.port", "host.name") == {
        "source.ip": "45.95.147.236",
        "source.port": 51234,
        "destination.ip": "10.20.0.10",
        "destination.port": 3389,
        "host.name": "fw-01",
    }
    assert ev["@timestamp"] == "2026-11-20T20:14:07.000Z"
    assert ev["fortinet"]["firewall"]["logid"] == "0000000013"


def test_headerless_with_priority_is_detected() -> None:
    line = f"<189>{BODY}"
    assert detect([line] * 5) == "fortinet"
    ev = get_parser("fortinet").parse(line, ctx("/var/log/fgt.log"))
    assert ev is not None
    assert fields(ev, "event.dataset", "log.syslog.priority", "source.ip", "message") == {
        "event.dataset": "fortinet.firewall",
        "log.syslog.priority": 189,
        "source.ip": "45.95.147.236",
        "message": "Từ chối truy cập",
    }


def test_eventtime_in_nanoseconds_wins() -> None:
    ev = parse(f"Nov 21 03:14:07 fw-01 eventtime=1763669647000000000 {BODY}")
    assert ev["@timestamp"] == "2025-11-20T20:14:07.000Z"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_body_parses_without_raising(body: str) -> None:
    get_parser("syslog").parse(f"Nov 21 02:10:01 fw srcip=1.2.3.4 dstip=5.6.7.8 {body}", ctx())
    get_parser("fortinet").parse(f"<13>date=x {body}", ctx())
    get_parser("fortinet").parse(body, ctx())
