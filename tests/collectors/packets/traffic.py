"""Captures written with scapy where every flow, DNS answer and TLS server name is known exactly."""

from __future__ import annotations

from pathlib import Path

from scapy.config import conf
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.layers.tls.extensions import (
    ProtocolName,
    ServerName,
    TLS_Ext_ALPN,
    TLS_Ext_ServerName,
    TLS_Ext_SignatureAlgorithms,
    TLS_Ext_SupportedGroups,
    TLS_Ext_SupportedPointFormat,
    TLS_Ext_SupportedVersion_CH,
    TLS_Ext_Unknown,
)
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from scapy.packet import Packet
from scapy.utils import wrpcap

conf.verb = 0
T0 = 1_763_769_600.0  # 2025-11-22T00:00:00Z
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:05", "02:00:00:00:00:50"


def eth(ip: Packet, src: str = CLIENT_MAC, dst: str = SERVER_MAC) -> Packet:
    return Ether(src=src, dst=dst) / ip


def tcp_session(
    c: str, s: str, cport: int, sport: int, req: bytes, resp: bytes, t: float, close: str = "fin"
) -> list[Packet]:
    """Handshake, one request and one response, then FIN/FIN/ACK (or an RST from the server)."""
    ip = IPv6 if ":" in c else IP
    cs = lambda **kw: eth(ip(src=c, dst=s) / TCP(sport=cport, dport=sport, **kw))  # noqa: E731
    sc = lambda **kw: eth(ip(src=s, dst=c) / TCP(sport=sport, dport=cport, **kw), SERVER_MAC, CLIENT_MAC)  # noqa: E731
    pkts = [
        cs(flags="S", seq=100),
        sc(flags="SA", seq=500, ack=101),
        cs(flags="A", seq=101, ack=501),
        cs(flags="PA", seq=101, ack=501) / req,
        sc(flags="A", seq=501, ack=101 + len(req)),
    ]
    if resp:
        pkts.append(sc(flags="PA", seq=501, ack=101 + len(req)) / resp)
    if close == "fin":
        pkts += [
            cs(flags="FA", seq=101 + len(req), ack=501 + len(resp)),
            sc(flags="FA", seq=501 + len(resp), ack=102 + len(req)),
            cs(flags="A", seq=102 + len(req), ack=502 + len(resp)),
        ]
    else:
        pkts.append(sc(flags="R", seq=501 + len(resp)))
    for i, p in enumerate(pkts):
        p.time = t + i * 0.01
    return pkts


def client_hello(sni: str) -> bytes:
    hello = TLSClientHello(
        version=0x0303,
        ciphers=[0x0A0A, 0x1301, 0x1302, 0xC02F],
        ext=[
            TLS_Ext_Unknown(type=0x1A1A, val=b""),
            TLS_Ext_ServerName(servernames=[ServerName(servername=sni.encode())]),
            TLS_Ext_SupportedGroups(groups=[0x2A2A, 29, 23]),
            TLS_Ext_SupportedPointFormat(ecpl=[0]),
            TLS_Ext_SignatureAlgorithms(sig_algs=[0x0403, 0x0804, 0x0401]),
            TLS_Ext_ALPN(protocols=[ProtocolName(protocol=b"h2"), ProtocolName(protocol=b"http/1.1")]),
            TLS_Ext_SupportedVersion_CH(versions=[0x3A3A, 0x0304, 0x0303]),
        ],
    )
    return bytes(TLS(msg=[hello]))


def dns_pair(c: str, s: str, cport: int, name: str, answer: str, t: float, qid: int = 4242) -> list[Packet]:
    q = eth(IP(src=c, dst=s) / UDP(sport=cport, dport=53) / DNS(id=qid, rd=1, qd=DNSQR(qname=name)))
    a = eth(
        IP(src=s, dst=c)
        / UDP(sport=53, dport=cport)
        / DNS(
            id=qid,
            qr=1,
            aa=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname=name),
            an=DNSRR(rrname=name, type="A", ttl=300, rdata=answer),
        ),
        SERVER_MAC,
        CLIENT_MAC,
    )
    q.time, a.time = t, t + 0.002
    return [q, a]


HTTP_REQ = (
    b"GET /tra-cuu?ma=123 HTTP/1.1\r\nHost: portal.gov.vn\r\nUser-Agent: sqlmap/1.7\r\n"
    b"Referer: http://portal.gov.vn/\r\n\r\n"
)
HTTP_RESP = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 9\r\n\r\nnot found"
)


def scenario() -> list[Packet]:
    """A small day at a ward office; tests assert the exact events this gives."""
    pkts: list[Packet] = []
    pkts += tcp_session("128.232.110.120", "66.35.250.204", 34855, 80, HTTP_REQ, HTTP_RESP, T0)
    pkts += dns_pair("10.1.0.5", "10.1.0.53", 40000, "dichvucong.gov.vn", "203.0.113.10", T0 + 1)
    pkts += tcp_session(
        "10.1.0.5", "203.0.113.10", 50001, 443, client_hello("dichvucong.gov.vn"), b"", T0 + 2
    )
    pkts += tcp_session("2001:db8::5", "2001:db8::443", 50002, 8080, b"hello", b"", T0 + 3, close="rst")
    echo = [
        eth(IP(src="10.1.0.5", dst="10.1.0.1") / ICMP(type=8, id=1, seq=1)),
        eth(IP(src="10.1.0.1", dst="10.1.0.5") / ICMP(type=0, id=1, seq=1), SERVER_MAC, CLIENT_MAC),
    ]
    echo[0].time, echo[1].time = T0 + 4, T0 + 4.001
    pkts += echo
    arp1 = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=2, hwsrc="02:00:00:00:00:01", psrc="10.1.0.1", hwdst="ff:ff:ff:ff:ff:ff", pdst="10.1.0.1"
    )
    arp2 = Ether(src="02:66:66:66:66:66", dst="02:00:00:00:00:05") / ARP(
        op=2, hwsrc="02:66:66:66:66:66", psrc="10.1.0.1", hwdst=CLIENT_MAC, pdst="10.1.0.5"
    )
    arp1.time, arp2.time = T0 + 5, T0 + 5.5
    pkts += [arp1, arp2]
    req = (
        Ether(src="02:00:00:00:00:77", dst="ff:ff:ff:ff:ff:ff")
        / IP(src="0.0.0.0", dst="255.255.255.255")
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=bytes.fromhex("020000000077"), xid=0x1234)
        / DHCP(
            options=[
                ("message-type", "request"),
                ("requested_addr", "10.1.0.77"),
                ("hostname", b"may-tinh-ke-toan"),
                "end",
            ]
        )
    )
    ack = (
        Ether(src=SERVER_MAC, dst="02:00:00:00:00:77")
        / IP(src="10.1.0.1", dst="10.1.0.77")
        / UDP(sport=67, dport=68)
        / BOOTP(op=2, yiaddr="10.1.0.77", chaddr=bytes.fromhex("020000000077"), xid=0x1234)
        / DHCP(options=[("message-type", "ack"), ("server_id", "10.1.0.1"), ("lease_time", 86400), "end"])
    )
    req.time, ack.time = T0 + 6, T0 + 6.01
    pkts += [req, ack]
    return pkts


def write(path: Path, pkts: list[Packet] | None = None) -> Path:
    wrpcap(str(path), pkts if pkts is not None else scenario())
    return path
