"""Log-source routing with events from the real parsers: captured HTTP reaches the web rules, Zeek and
Suricata records reach the flow, port-scan, DNS and web rules."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from canh.collectors.packets.reader import PcapFileReader
from canh.collectors.registry import LineContext
from canh.collectors.suricata import SuricataEveParser
from canh.collectors.zeek import ZeekJsonParser
from canh.events import Event
from canh.rules.engine import Engine, compile_rules
from canh.rules.loader import PACK_DIR, load_paths
from canh.rules.logsource import event_source, nested_route_key

T0 = 1_763_769_600.0
SQLI = b"/dvwa/vulnerabilities/sqli/?id=1%27+union+select+null%2C+version%28%29+%23&Submit=Submit"


@functools.cache
def pack_engine_parts() -> tuple[Any, Any]:
    loaded = load_paths([PACK_DIR])
    compiled, bad = compile_rules(loaded.rules, {"threat_intel_ips": ["198.51.100.66"]})
    assert not bad, bad
    return compiled, loaded.correlations


def titles(events: list[Event]) -> list[str]:
    """Every alerting rule and correlation the pack raises over the events, in order."""
    compiled, correlations = pack_engine_parts()
    engine = Engine(compiled, correlations)
    out = []
    for ev in events:
        for m in engine.match(ev):
            if m.hit is not None:
                out.append(m.hit.spec.title)
            elif m.rule.alert:
                out.append(m.rule.title)
    out += [m.hit.spec.title for m in engine.flush()]
    return out


def http_capture(path: Path, uri: bytes) -> list[Event]:
    """One HTTP request and its answer, written with scapy and read by Canh's packet reader."""
    c, s, cport = "10.2.2.101", "10.2.2.104", 58868
    req = b"GET " + uri + b" HTTP/1.1\r\nHost: 10.2.2.104\r\nUser-Agent: Mozilla/5.0\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    cs = lambda **kw: Ether() / IP(src=c, dst=s) / TCP(sport=cport, dport=80, **kw)  # noqa: E731
    sc = lambda **kw: Ether() / IP(src=s, dst=c) / TCP(sport=80, dport=cport, **kw)  # noqa: E731
    pkts = [
        cs(flags="S", seq=100), sc(flags="SA", seq=500, ack=101), cs(flags="A", seq=101, ack=501),
        cs(flags="PA", seq=101, ack=501) / req, sc(flags="PA", seq=501, ack=101 + len(req)) / resp,
        cs(flags="FA", seq=101 + len(req), ack=501 + len(resp)), sc(flags="FA", seq=501 + len(resp), ack=102 + len(req)),
    ]  # fmt: skip
    for i, p in enumerate(pkts):
        p.time = T0 + i * 0.01
    wrpcap(str(path), pkts)
    out = [
        e
        for e in PcapFileReader().read(path, LineContext(source=str(path), position=0))
        if isinstance(e, dict)
    ]
    assert any((e.get("event") or {}).get("dataset") == "network.http" for e in out)
    return out


def test_captured_http_is_routed_to_the_web_rules(tmp_path: Path) -> None:
    events = http_capture(tmp_path / "sqli.pcap", SQLI)
    http = next(e for e in events if e["event"]["dataset"] == "network.http")
    src = event_source(nested_route_key(http))
    assert src.fits(None, "webserver", None) and src.fits(None, "proxy", None)
    assert http["url"]["original"] == SQLI.decode() and http["http"]["request"]["method"] == "GET"
    assert "SQL injection attempt in a web request" in titles(events)
    assert titles(http_capture(tmp_path / "ok.pcap", b"/dvwa/index.php?page=1")) == []


def zeek(log: str, **fields: Any) -> Event:
    doc = {"ts": T0, "uid": "C1", "id.orig_h": "45.95.147.236", "id.orig_p": 40000, "id.resp_h": "10.10.1.20",
           "id.resp_p": 22, **fields}  # fmt: skip
    ev = ZeekJsonParser().parse(
        orjson.dumps(doc).decode(), LineContext(source=f"/var/log/zeek/{log}.log", position=0)
    )
    assert ev is not None
    return ev


def test_zeek_conn_records_feed_the_port_scan_correlation() -> None:
    scan = [
        zeek(
            "conn",
            ts=T0 + i,
            uid=f"C{i}",
            **{"id.resp_p": 1000 + i},
            proto="tcp",
            conn_state="REJ",
            duration=0.0,
        )
        for i in range(20)
    ]
    src = event_source(nested_route_key(scan[0]))
    assert (
        src.fits(None, "firewall", None)
        and src.fits("network", None, "flow")
        and src.fits("zeek", None, "conn")
    )
    assert titles(scan).count("Port scan of one host (many destination ports from one source)") == 1
    assert titles(scan[:10]) == []  # ten ports: below the threshold


def test_zeek_dns_and_http_reach_the_dns_and_web_rules() -> None:
    tunnel = [
        zeek("dns", ts=T0 + i, uid=f"D{i}", query=f"{'a1b2c3d4' * 6}{i:04d}.t.example.vn", qtype_name="TXT",
             proto="udp", **{"id.resp_p": 53})
        for i in range(40)
    ]  # fmt: skip
    assert "DNS tunnelling (many long encoded names from one client)" in titles(tunnel)
    http = zeek("http", method="GET", host="cong.gov.vn", uri="/index.php?id=1+union+select+1,2", status_code=200,
                user_agent="Mozilla/5.0", **{"id.resp_p": 80})  # fmt: skip
    assert "SQL injection attempt in a web request" in titles([http])


def eve(event_type: str, **fields: Any) -> Event:
    doc = {"timestamp": "2026-11-21T10:15:02.123456+0700", "flow_id": 1, "src_ip": "45.95.147.236", "src_port": 51514,
           "dest_ip": "10.10.1.20", "dest_port": 80, "proto": "TCP", "event_type": event_type, **fields}  # fmt: skip
    ev = SuricataEveParser().parse(
        orjson.dumps(doc).decode(), LineContext(source="/var/log/suricata/eve.json", position=0)
    )
    assert ev is not None
    return ev


@pytest.mark.parametrize(
    ("record", "rule"),
    [
        (lambda: eve("http", http={"hostname": "a.gov.vn", "url": "/x.php?file=../../../../etc/passwd",
                                   "http_method": "GET", "status": 200}),
         "Path traversal or local file inclusion attempt"),
        (lambda: eve("dns", dest_port=53, proto="UDP", dns={"type": "query", "id": 1, "rrname": "update.duckdns.org",
                                                             "rrtype": "A"}),
         "DNS query for a dynamic DNS or tunnelling service"),
    ],
)  # fmt: skip
def test_suricata_http_and_dns_records_reach_the_web_and_dns_rules(record: Any, rule: str) -> None:
    assert rule in titles([record()])


def test_a_suricata_alert_is_no_web_request() -> None:
    # an alert carries its transaction's http fields; the request itself comes as an http record
    alert = eve("alert", alert={"signature": "ET WEB", "signature_id": 1, "severity": 1},
                http={"url": "/x.php?file=../../../../etc/passwd", "http_method": "GET"})  # fmt: skip
    assert not event_source(nested_route_key(alert)).fits(None, "webserver", None)


@pytest.mark.corpus
def test_the_corpus_dvwa_sql_injection_capture_raises_web_alerts(corpus: Path) -> None:
    path = corpus / "pcap" / "chrissanders-packets" / "http_dvwa_sqlinjection.pcapng"
    events = [
        e
        for e in PcapFileReader().read(path, LineContext(source=str(path), position=0))
        if isinstance(e, dict)
    ]
    assert titles(events).count("SQL injection attempt in a web request") >= 2


def test_zeek_rules_name_fields_as_zeek_logs_them(tmp_path: Path) -> None:
    from tests.rules.ruleutil import compile_one

    rule = compile_one(
        "title: Zeek DNS\nid: 5a1d7c2e-1111-4000-8000-0000000000f1\nstatus: test\nlevel: low\n"
        "logsource:\n  product: zeek\n  service: dns\ndetection:\n  sel:\n    query|endswith: .duckdns.org\n"
        "    id.resp_p: 53\n    qtype_name: A\n  condition: sel\n"
    )
    fields = {leaf.field for leaf in rule.compiled[0].tree.items}  # type: ignore[union-attr]
    assert fields == {"zeek.dns.query", "destination.port", "zeek.dns.qtype_name"}
    hit = zeek("dns", query="x.duckdns.org", qtype_name="A", proto="udp", **{"id.resp_p": 53})
    miss = zeek("dns", query="x.duckdns.org", qtype_name="AAAA", proto="udp", **{"id.resp_p": 53})
    engine = Engine([rule])
    assert engine.match_rules(hit)[1] == [rule] and engine.match_rules(miss)[1] == []


def test_a_path_through_a_list_of_objects_reads_every_element() -> None:
    from canh.rules.compile import Doc
    from tests.rules.ruleutil import matches, sigma

    event = {
        "event": {"dataset": "network.dns"},
        "dns": {"answers": [{"data": "cname.vn"}, {"data": "203.0.113.9"}]},
    }
    assert Doc(event).strs("dns.answers.data") == ("cname.vn", "203.0.113.9")
    rule = sigma("  sel:\n    answer: 203.0.113.9\n  condition: sel", logsource="category: dns")
    assert matches(rule, event)  # the dns taxonomy's `answer` is dns.answers.data
    assert not matches(rule.replace("203.0.113.9", "203.0.113.10"), event)
