"""A capture where everything is known exactly becomes exactly these ECS events."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from canh.collectors.packets.community_id import community_id
from canh.collectors.packets.reader import PcapFileReader
from canh.collectors.registry import LineContext, ReadProblem
from canh.events import Event, get
from tests.collectors.packets import traffic


def read(path: Path) -> list[Event]:
    items = list(PcapFileReader().read(path, LineContext(source=str(path), position=0)))
    assert not [i for i in items if isinstance(i, ReadProblem)]
    return [i for i in items if not isinstance(i, ReadProblem)]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    return read(traffic.write(tmp_path_factory.mktemp("cap") / "day.pcap"))


def by(events: list[Event], dataset: str) -> list[Event]:
    return [e for e in events if e["event"]["dataset"] == dataset]


def test_datasets(events: list[Event]) -> None:
    assert Counter(e["event"]["dataset"] for e in events) == {
        "network.flow": 7,
        "network.http": 1,
        "network.dns": 1,
        "network.tls": 1,
        "network.icmp": 2,
        "network.arp": 3,
        "network.dhcp": 2,
    }
    assert all(e["event"]["module"] == "network" for e in events)
    assert len({e["event"]["id"] for e in events}) == len(events)


def test_tcp_flow_counts_both_directions_and_ends_on_fin(events: list[Event]) -> None:
    (flow,) = [e for e in by(events, "network.flow") if get(e, "destination.port") == 80]
    assert get(flow, "source.ip") == "128.232.110.120" and get(flow, "source.port") == 34855
    assert get(flow, "destination.ip") == "66.35.250.204"
    # The Community ID spec's own example connection.
    assert get(flow, "network.community_id") == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    assert (get(flow, "source.packets"), get(flow, "destination.packets")) == (5, 4)
    req_len, resp_len = len(traffic.HTTP_REQ), len(traffic.HTTP_RESP)
    assert get(flow, "source.bytes") == 5 * 54 + req_len
    assert get(flow, "destination.bytes") == 4 * 54 + resp_len
    assert get(flow, "network.bytes") == 9 * 54 + req_len + resp_len and get(flow, "network.packets") == 9
    assert get(flow, "network.transport") == "tcp" and get(flow, "network.protocol") == "http"
    assert get(flow, "event.reason") == "fin" and get(flow, "event.outcome") == "success"
    assert set(get(flow, "flow.tcp_flags")) == {"SYN", "ACK", "FIN", "PSH"}
    assert get(flow, "event.start") == "2025-11-22T00:00:00.000Z"
    assert get(flow, "event.end") == "2025-11-22T00:00:00.080Z"
    assert get(flow, "event.duration") == pytest.approx(80_000_000, abs=1000)
    assert (
        get(flow, "source.mac") == "02-00-00-00-00-05" and get(flow, "destination.mac") == "02-00-00-00-00-50"
    )
    assert flow["@timestamp"] == get(flow, "event.start")


def test_ipv6_flow_reset(events: list[Event]) -> None:
    (flow,) = [e for e in by(events, "network.flow") if get(e, "network.type") == "ipv6"]
    assert get(flow, "source.ip") == "2001:db8::5" and get(flow, "destination.port") == 8080
    assert get(flow, "event.reason") == "rst" and "RST" in get(flow, "flow.destination_tcp_flags")
    assert get(flow, "network.community_id") == community_id(
        bytes.fromhex("20010db8000000000000000000000005"),
        bytes.fromhex("20010db8000000000000000000000443"),
        6,
        50002,
        8080,
    )


def test_http_transaction_pairs_request_and_response(events: list[Event]) -> None:
    (http,) = by(events, "network.http")
    assert get(http, "http.request.method") == "GET" and get(http, "url.original") == "/tra-cuu?ma=123"
    assert get(http, "url.path") == "/tra-cuu" and get(http, "url.query") == "ma=123"
    assert get(http, "url.domain") == "portal.gov.vn" and get(http, "user_agent.original") == "sqlmap/1.7"
    assert get(http, "http.response.status_code") == 404 and get(http, "event.outcome") == "failure"
    assert get(http, "http.response.mime_type") == "text/html" and get(http, "http.response.body.bytes") == 9
    assert get(http, "source.ip") == "128.232.110.120"
    assert get(http, "network.community_id") == "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


def test_dns_query_and_answer_make_one_transaction(events: list[Event]) -> None:
    (dns,) = by(events, "network.dns")
    assert get(dns, "dns.type") == "answer" and get(dns, "dns.question.name") == "dichvucong.gov.vn"
    assert get(dns, "dns.question.type") == "A" and get(dns, "dns.question.class") == "IN"
    # The client asked: source is the client, the time is the query's, the duration the answer's delay.
    assert get(dns, "source.ip") == "10.1.0.5" and get(dns, "destination.port") == 53
    assert dns["@timestamp"] == "2025-11-22T00:00:01.000Z"
    assert get(dns, "event.duration") == pytest.approx(2_000_000, abs=1000)
    assert get(dns, "dns.response_code") == "NOERROR" and get(dns, "dns.resolved_ip") == ["203.0.113.10"]
    assert get(dns, "dns.answers") == [
        {"name": "dichvucong.gov.vn", "type": "A", "class": "IN", "ttl": 300, "data": "203.0.113.10"}
    ]
    assert set(get(dns, "dns.header_flags")) == {"AA", "RD", "RA"}
    (flow,) = [e for e in by(events, "network.flow") if get(e, "destination.port") == 53]
    assert get(flow, "network.protocol") == "dns" and get(flow, "network.packets") == 2
    assert get(dns, "network.community_id") == get(flow, "network.community_id")


def test_unanswered_query_is_reported_alone(tmp_path: Path) -> None:
    query, _answer = traffic.dns_pair(
        "10.1.0.5", "10.1.0.53", 40001, "khong-tra-loi.gov.vn", "192.0.2.1", traffic.T0
    )
    (dns,) = by(read(traffic.write(tmp_path / "q.pcap", [query])), "network.dns")
    assert get(dns, "dns.type") == "query" and get(dns, "dns.question.name") == "khong-tra-loi.gov.vn"
    assert get(dns, "event.action") == "dns_query" and get(dns, "source.ip") == "10.1.0.5"


def test_tls_client_hello_sni_and_fingerprints(events: list[Event]) -> None:
    (tls,) = by(events, "network.tls")
    assert get(tls, "tls.client.server_name") == "dichvucong.gov.vn"
    assert get(tls, "tls.client.supported_versions") == ["tls 1.3", "tls 1.2"]
    # JA3: GREASE dropped everywhere; decimal fields joined as the JA3 definition says.
    ja3 = "771,4865-4866-49199,0-10-11-13-16-43,29-23,0"
    assert get(tls, "tls.client.ja3_string") == ja3
    assert get(tls, "tls.client.ja3") == hashlib.md5(ja3.encode()).hexdigest()
    # JA4: t, TLS 1.3, SNI present, 3 ciphers, 6 extensions, ALPN h2; sorted hex ciphers; sorted extensions
    # without SNI/ALPN then signature algorithms in their order.
    b = hashlib.sha256(b"1301,1302,c02f").hexdigest()[:12]
    c = hashlib.sha256(b"000a,000b,000d,002b_0403,0804,0401").hexdigest()[:12]
    assert get(tls, "tls.client.ja4") == f"t13d0306h2_{b}_{c}"
    assert get(tls, "tls.next_protocol") == "h2" and get(tls, "destination.domain") == "dichvucong.gov.vn"
    assert get(tls, "source.ip") == "10.1.0.5" and get(tls, "destination.port") == 443


def test_icmp_echo_is_one_flow_and_two_messages(events: list[Event]) -> None:
    (flow,) = [e for e in by(events, "network.flow") if get(e, "network.transport") == "icmp"]
    assert get(flow, "network.packets") == 2 and get(flow, "source.ip") == "10.1.0.5"
    request, reply = by(events, "network.icmp")
    assert (get(request, "icmp.type"), get(reply, "icmp.type")) == (8, 0)
    assert (
        get(flow, "network.community_id")
        == get(request, "network.community_id")
        == community_id(bytes([10, 1, 0, 5]), bytes([10, 1, 0, 1]), 1, 8, 0)
    )


def test_arp_mac_change_is_flagged(events: list[Event]) -> None:
    arps = by(events, "network.arp")
    (change,) = [e for e in arps if get(e, "event.action") == "arp_mac_change"]
    assert get(change, "source.ip") == "10.1.0.1" and get(change, "source.mac") == "02-66-66-66-66-66"
    assert get(change, "arp.previous_mac") == "02-00-00-00-00-01" and get(change, "event.kind") == "alert"
    assert [get(e, "arp.gratuitous") for e in arps if get(e, "event.action") == "arp_reply"] == [True, False]


def test_dhcp_lease_names_the_host(events: list[Event]) -> None:
    request, ack = by(events, "network.dhcp")
    assert (
        get(request, "dhcp.message_type") == "request" and get(request, "dhcp.hostname") == "may-tinh-ke-toan"
    )
    assert get(ack, "dhcp.message_type") == "ack" and get(ack, "dhcp.assigned_ip") == "10.1.0.77"
    assert (
        get(ack, "dhcp.client_mac") == "02-00-00-00-00-77" and get(ack, "dhcp.hostname") == "may-tinh-ke-toan"
    )
    assert get(ack, "dhcp.lease_time") == 86400


def test_reading_twice_gives_the_same_ids(tmp_path: Path) -> None:
    path = traffic.write(tmp_path / "a.pcap")
    assert [e["event"]["id"] for e in read(path)] == [e["event"]["id"] for e in read(path)]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_community_id_and_ja3_agree_with_tshark(tmp_path: Path, events: list[Event]) -> None:
    path = traffic.write(tmp_path / "day.pcap")
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "--enable-protocol",
            "communityid",
            "-T",
            "fields",
            "-e",
            "communityid",
            "-e",
            "tls.handshake.ja3",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    theirs = {line.split("\t")[0] for line in out.splitlines() if line.split("\t")[0]}
    ours = {get(e, "network.community_id") for e in by(events, "network.flow")}
    assert theirs == ours
    ja3s = {line.split("\t")[1] for line in out.splitlines() if line.split("\t")[1]}
    assert ja3s == {get(by(events, "network.tls")[0], "tls.client.ja3")}


def test_dns_over_tcp_with_length_prefix(tmp_path: Path) -> None:
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    q = bytes(DNS(id=77, rd=1, qd=DNSQR(qname="axfr.gov.vn", qtype="AAAA")))
    a = bytes(
        DNS(
            id=77,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="axfr.gov.vn", qtype="AAAA"),
            an=DNSRR(rrname="axfr.gov.vn", type="AAAA", ttl=60, rdata="2001:db8::53"),
        )
    )
    pkts = traffic.tcp_session(
        "10.1.0.5",
        "10.1.0.53",
        41000,
        53,
        len(q).to_bytes(2, "big") + q,
        len(a).to_bytes(2, "big") + a,
        traffic.T0,
    )
    events = read(traffic.write(tmp_path / "dnstcp.pcap", pkts))
    (dns,) = by(events, "network.dns")
    assert get(dns, "network.transport") == "tcp" and get(dns, "source.ip") == "10.1.0.5"
    assert get(dns, "dns.question.type") == "AAAA" and get(dns, "dns.resolved_ip") == ["2001:db8::53"]
    (flow,) = by(events, "network.flow")
    assert get(flow, "network.protocol") == "dns"


def test_tls_server_hello_negotiated_version_and_ja3s(tmp_path: Path) -> None:
    from scapy.layers.tls.extensions import TLS_Ext_SupportedVersion_SH
    from scapy.layers.tls.handshake import TLSServerHello
    from scapy.layers.tls.record import TLS

    server = bytes(
        TLS(
            msg=[
                TLSServerHello(
                    version=0x0303, cipher=0x1302, ext=[TLS_Ext_SupportedVersion_SH(version=0x0304)]
                )
            ]
        )
    )
    pkts = traffic.tcp_session(
        "2001:db8::5", "2001:db8::443", 50443, 443, traffic.client_hello("cong.gov.vn"), server, traffic.T0
    )
    tls = {
        get(e, "event.action"): e for e in by(read(traffic.write(tmp_path / "sh.pcap", pkts)), "network.tls")
    }
    assert set(tls) == {"tls_client_hello", "tls_server_hello"}
    sh = tls["tls_server_hello"]
    assert get(sh, "tls.version") == "1.3" and get(sh, "tls.cipher") == "TLS_AES_256_GCM_SHA384"
    assert get(sh, "tls.server.ja3s_string") == "771,4866,43"
    assert get(sh, "tls.server.ja3s") == hashlib.md5(b"771,4866,43").hexdigest()
    assert get(sh, "source.ip") == "2001:db8::5"  # client side of the flow, as for the ClientHello


@pytest.mark.parametrize(
    ("source", "host", "interface"),
    [("/data/cap/day.pcap", None, None), ("capture://eth0", "sensor-1", "eth0"), ("/cap/b.pcap", "s2", None)],
)
def test_event_envelope_is_what_new_event_builds(
    source: str, host: str | None, interface: str | None
) -> None:
    """The factory lays out the common fields from cached parts; they must stay those of new_event,
    plus the observer (the capturing sensor) that every packet event carries."""
    from datetime import UTC, datetime

    from canh.collectors.packets.ecs import EventFactory
    from canh.events import new_event

    when = datetime(2026, 11, 21, 8, 30, 1, 250000, tzinfo=UTC)
    factory = EventFactory(source=source, host=host, interface=interface, ingested=lambda: when)
    built = factory._base(when.timestamp(), "network.dns", 123_456, 1, "DNS query x A")
    observer = built.pop("observer")
    assert built == new_event(
        timestamp="2026-11-21T08:30:01.250Z",
        dataset="network.dns",
        module="network",
        source=source,
        position=123_456 * 16 + 1,
        message="DNS query x A",
        host=host,
        ingested=when,
    )
    expected: dict = {"type": "sensor"}
    if host:
        expected["hostname"] = host
    if interface:
        expected["ingress"] = {"interface": {"name": interface}}
    assert observer == expected
