"""Suricata EVE, Zeek JSON and Winlogbeat/NXLog JSON lines to ECS (samples written for these tests)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.evtx import map_json_record
from canh.collectors.registry import LineContext, detect, get_parser
from canh.collectors.suricata import SuricataEveParser
from canh.collectors.winlogjson import WinlogJsonParser
from canh.collectors.zeek import ZeekJsonParser, log_of
from canh.errors import InputError
from canh.events import Event, get, local_zone

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def ctx(source: str = "/var/log/x.json", position: int = 0) -> LineContext:
    return LineContext(source=source, position=position, now=NOW, tz=local_zone("Asia/Ho_Chi_Minh"))


def line(doc: dict) -> str:
    return orjson.dumps(doc).decode()


SURI_ALERT = line({
    "timestamp": "2026-11-21T10:15:02.123456+0700", "flow_id": 1234, "in_iface": "eth1", "event_type": "alert",
    "src_ip": "45.95.147.236", "src_port": 51514, "dest_ip": "10.10.1.20", "dest_port": 80, "proto": "TCP",
    "app_proto": "http", "community_id": "1:abc=",
    "alert": {"action": "allowed", "gid": 1, "signature_id": 2012887, "rev": 3,
              "signature": "ET SCAN Nikto Web App Scan in Progress", "category": "Web Application Attack",
              "severity": 1},
    "http": {"hostname": "dichvucong.tinh.gov.vn", "url": "/uploads/ho-so/anh-cccd.php?cmd=id",
             "http_user_agent": "Mozilla/5.00 (Nikto/2.1.6)", "http_method": "GET", "protocol": "HTTP/1.1",
             "status": 200, "length": 45},
    "flow": {"pkts_toserver": 4, "pkts_toclient": 3, "bytes_toserver": 400, "bytes_toclient": 900,
             "start": "2026-11-21T10:15:01.000000+0700"},
})  # fmt: skip


def test_suricata_alert() -> None:
    ev = SuricataEveParser().parse(SURI_ALERT, ctx())
    assert ev is not None
    assert ev["@timestamp"] == "2026-11-21T03:15:02.123Z"
    assert get(ev, "event.dataset") == "suricata.eve" and get(ev, "event.module") == "suricata"
    assert get(ev, "event.kind") == "alert" and get(ev, "event.category") == [
        "network",
        "intrusion_detection",
    ]
    assert get(ev, "rule.id") == "2012887" and get(ev, "rule.name").startswith("ET SCAN Nikto")
    assert get(ev, "rule.category") == "Web Application Attack" and get(ev, "event.severity") == 1
    assert get(ev, "source.ip") == "45.95.147.236" and get(ev, "destination.port") == 80
    assert get(ev, "network.transport") == "tcp" and get(ev, "network.protocol") == "http"
    assert get(ev, "url.path") == "/uploads/ho-so/anh-cccd.php" and get(ev, "url.extension") == "php"
    assert get(ev, "url.query") == "cmd=id" and get(ev, "url.domain") == "dichvucong.tinh.gov.vn"
    assert get(ev, "user_agent.original") == "Mozilla/5.00 (Nikto/2.1.6)"
    assert get(ev, "http.version") == "1.1" and get(ev, "http.response.status_code") == 200
    assert get(ev, "source.bytes") == 400 and get(ev, "network.bytes") == 1300
    assert get(ev, "suricata.eve.alert.gid") == 1 and get(ev, "event.original") == SURI_ALERT
    assert get(ev, "observer.ingress.interface.name") == "eth1"


def test_suricata_dns_tls_fileinfo_flow_anomaly() -> None:
    p = SuricataEveParser()
    base = {"timestamp": "2026-11-21T10:00:00.000000+0000", "src_ip": "10.0.0.5", "src_port": 5353,
            "dest_ip": "10.0.0.1", "dest_port": 53, "proto": "UDP"}  # fmt: skip
    dns = p.parse(line({**base, "event_type": "dns", "dns": {
        "version": 2, "type": "answer", "id": 7, "rrname": "c2.example.vn", "rrtype": "A", "rcode": "NOERROR",
        "answers": [{"rrname": "c2.example.vn", "rrtype": "A", "ttl": 60, "rdata": "203.0.113.9"}]}}), ctx())  # fmt: skip
    assert dns is not None and get(dns, "dns.question.name") == "c2.example.vn"
    assert get(dns, "dns.resolved_ip") == ["203.0.113.9"] and get(dns, "dns.answers")[0]["ttl"] == 60
    assert get(dns, "event.kind") == "event" and get(dns, "event.action") == "dns"
    tls = p.parse(line({**base, "event_type": "tls", "tls": {
        "subject": "CN=portal.gov.vn", "issuerdn": "CN=R3", "fingerprint": "ab:cd", "sni": "portal.gov.vn",
        "version": "TLS 1.2", "ja3": {"hash": "e7d705a3286e19ea42f587b344ee6865"}}}), ctx())  # fmt: skip
    assert tls is not None and get(tls, "tls.client.server_name") == "portal.gov.vn"
    assert get(tls, "tls.version") == "1.2" and get(tls, "tls.version_protocol") == "tls"
    assert get(tls, "tls.server.hash.sha1") == "ABCD" and get(tls, "tls.client.ja3").startswith("e7d7")
    fi = p.parse(line({**base, "event_type": "fileinfo", "fileinfo": {
        "filename": "/uploads/shell.php", "size": 120, "sha256": "00ff", "state": "CLOSED"}}), ctx())  # fmt: skip
    assert fi is not None and get(fi, "file.name") == "shell.php" and get(fi, "file.hash.sha256") == "00ff"
    flow = p.parse(line({**base, "event_type": "flow", "flow": {"bytes_toserver": 10, "bytes_toclient": 0,
                                                               "pkts_toserver": 1, "pkts_toclient": 0}}), ctx())  # fmt: skip
    assert (
        flow is not None and get(flow, "network.packets") == 1 and get(flow, "event.category") == ["network"]
    )
    an = p.parse(
        line({**base, "event_type": "anomaly", "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt"}}),
        ctx(),
    )
    assert an is not None and get(an, "message") == "ipv4.trunc_pkt"


def test_suricata_rejects_non_eve() -> None:
    with pytest.raises(InputError):
        SuricataEveParser().parse('{"hello": 1}', ctx())
    with pytest.raises(InputError):
        SuricataEveParser().parse("not json", ctx())
    assert SuricataEveParser().parse("   ", ctx()) is None


ZEEK_CONN = line({"ts": 1763693702.123456, "uid": "CHhAvVGS1DHFjwGM9", "id.orig_h": "45.95.147.236",
                  "id.orig_p": 40000, "id.resp_h": "10.10.1.20", "id.resp_p": 22, "proto": "tcp", "service": "ssh",
                  "duration": 1.5, "orig_bytes": 100, "resp_bytes": 200, "conn_state": "SF", "local_orig": False,
                  "local_resp": True, "history": "ShADadFf", "orig_pkts": 5, "resp_pkts": 6})  # fmt: skip


def test_zeek_conn_from_file_name() -> None:
    ev = ZeekJsonParser().parse(ZEEK_CONN, ctx("/opt/zeek/logs/current/conn.log"))
    assert ev is not None
    assert get(ev, "event.dataset") == "zeek.conn" and get(ev, "event.module") == "zeek"
    assert ev["@timestamp"] == "2025-11-21T02:55:02.123Z"
    assert get(ev, "source.ip") == "45.95.147.236" and get(ev, "destination.port") == 22
    assert get(ev, "network.transport") == "tcp" and get(ev, "network.direction") == "inbound"
    assert get(ev, "event.duration") == 1_500_000_000 and get(ev, "network.bytes") == 300
    assert get(ev, "zeek.session_id") == "CHhAvVGS1DHFjwGM9" and get(ev, "zeek.conn.conn_state") == "SF"
    assert get(ev, "event.type") == ["connection"]


def test_zeek_dns_http_ssl_files_notice_by_fields_and_path() -> None:
    p = ZeekJsonParser()
    tup = {"ts": "2026-11-21T03:00:00.000000Z", "uid": "C1", "id.orig_h": "10.0.0.5", "id.orig_p": 5000,
           "id.resp_h": "10.0.0.1", "id.resp_p": 53}  # fmt: skip
    dns = p.parse(line({**tup, "proto": "udp", "trans_id": 9, "query": "c2.example.vn", "qtype_name": "A",
                        "rcode_name": "NOERROR", "answers": ["203.0.113.9", "alias.example.vn"], "TTLs": [60.0, 30.0]}),
                  ctx("/tmp/unnamed.json"))  # fmt: skip
    assert dns is not None and get(dns, "event.dataset") == "zeek.dns"
    assert get(dns, "dns.question.name") == "c2.example.vn" and get(dns, "dns.resolved_ip") == ["203.0.113.9"]
    assert get(dns, "dns.answers")[0] == {"data": "203.0.113.9", "ttl": 60}
    http = p.parse(line({**tup, "_path": "http", "method": "POST", "host": "cong.gov.vn", "uri": "/login.php?u=a",
                         "user_agent": "sqlmap/1.7", "status_code": 403, "version": "1.1"}), ctx())  # fmt: skip
    assert http is not None and get(http, "event.dataset") == "zeek.http"
    assert get(http, "url.path") == "/login.php" and get(http, "user_agent.original") == "sqlmap/1.7"
    assert get(http, "http.response.status_code") == 403
    ssl = p.parse(line({**tup, "version": "TLSv13", "cipher": "TLS_AES_128_GCM_SHA256", "server_name": "a.vn",
                        "established": True}), ctx("/logs/ssl.log"))  # fmt: skip
    assert (
        ssl is not None and get(ssl, "tls.version") == "1.3" and get(ssl, "tls.client.server_name") == "a.vn"
    )
    files = p.parse(line({"ts": 1763693702.0, "fuid": "F1", "tx_hosts": ["203.0.113.9"], "rx_hosts": ["10.0.0.5"],
                          "mime_type": "application/x-dosexec", "total_bytes": 4096, "md5": "aa"}), ctx())  # fmt: skip
    assert (
        files is not None
        and get(files, "event.dataset") == "zeek.files"
        and get(files, "source.ip") == "203.0.113.9"
    )
    notice = p.parse(line({**tup, "note": "Scan::Port_Scan", "msg": "45.95.147.236 scanned 100 ports",
                           "src": "45.95.147.236"}), ctx("/logs/notice.04:00:00-05:00:00.log.gz"))  # fmt: skip
    assert (
        notice is not None
        and get(notice, "event.kind") == "alert"
        and get(notice, "rule.name") == "Scan::Port_Scan"
    )
    x509 = p.parse(line({"ts": 1.0, "id": "F2", "certificate.subject": "CN=a"}), ctx())
    assert x509 is not None and get(x509, "zeek.x509.certificate.subject") == "CN=a"
    assert log_of({"ts": 1}, "/var/log/zeek/weird.log") == "weird"


NX_4625 = line({
    "EventTime": "2026-11-21 10:20:30", "Hostname": "DC01.sotttt.gov.vn", "Keywords": -9218868437227405312,
    "EventType": "AUDIT_FAILURE", "SeverityValue": 4, "Severity": "ERROR", "EventID": 4625,
    "SourceName": "Microsoft-Windows-Security-Auditing", "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
    "Version": 0, "Task": 12544, "OpcodeValue": 0, "RecordNumber": 137222, "ProcessID": 640, "ThreadID": 684,
    "Channel": "Security", "Message": "An account failed to log on.", "Category": "Logon", "Opcode": "Info",
    "SubjectUserName": "-", "TargetUserName": "nguyen.van.a", "TargetDomainName": "SOTTTT", "LogonType": "3",
    "IpAddress": "185.220.101.47", "IpPort": "51234", "EventReceivedTime": "2026-11-21 10:20:31",
    "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog",
})  # fmt: skip


def test_nxlog_flat_windows_json_uses_the_evtx_mapping() -> None:
    ev = WinlogJsonParser().parse(NX_4625, ctx())
    assert ev is not None
    assert ev["@timestamp"] == "2026-11-21T03:20:30.000Z"  # EventTime is local (UTC+7 here)
    assert get(ev, "event.dataset") == "windows.security" and get(ev, "event.code") == "4625"
    assert get(ev, "user.name") == "nguyen.van.a" and get(ev, "source.ip") == "185.220.101.47"
    assert get(ev, "source.port") == 51234 and get(ev, "event.outcome") == "failure"
    assert get(ev, "winlog.event_data.LogonType") == "3" and get(ev, "winlog.record_id") == 137222
    assert get(ev, "winlog.event_data.Message") is None  # header fields are not EventData


def test_same_record_from_evtx_nxlog_and_winlogbeat_has_one_id() -> None:
    evtx_json = line({"Event": {"System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}, "EventID": 4625,
        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-21T03:20:30.000000Z"}}, "EventRecordID": 137222,
        "Channel": "Security", "Computer": "DC01.sotttt.gov.vn", "Keywords": "0x8010000000000000"},
        "EventData": {"TargetUserName": "nguyen.van.a", "IpAddress": "185.220.101.47"}}})  # fmt: skip
    a = map_json_record(evtx_json, source="/x/Security.evtx", position=1, host=None, now=NOW)
    b = WinlogJsonParser().parse(NX_4625, ctx())
    wlb = line({"@timestamp": "2026-11-21T03:20:30.000Z", "agent": {"type": "winlogbeat"},
                "winlog": {"channel": "Security", "event_id": "4625", "record_id": 137222,
                           "computer_name": "DC01.sotttt.gov.vn", "provider_name": "Microsoft-Windows-Security-Auditing",
                           "event_data": {"TargetUserName": "nguyen.van.a", "IpAddress": "185.220.101.47"}},
                "event": {"code": "4625", "dataset": "wrong", "outcome": "failure"}})  # fmt: skip
    c = WinlogJsonParser().parse(wlb, ctx())
    assert b is not None and c is not None
    assert a["event"]["id"] == b["event"]["id"] == c["event"]["id"]


def test_winlogbeat_document_passes_through_with_dataset_fixed() -> None:
    doc = {"@timestamp": "2026-11-21T03:20:30.000Z", "agent": {"type": "winlogbeat", "version": "8.11.0"},
           "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "record_id": 5,
                      "computer_name": "PC01", "event_data": {"Image": "C:\\Windows\\cmd.exe",
                                                             "CommandLine": "cmd /c whoami"}},
           "process": {"executable": "C:\\Windows\\cmd.exe", "args": ["cmd", "/c", "whoami"]},
           "host.os.family": "windows", "tags": ["beats"]}  # fmt: skip
    ev = WinlogJsonParser().parse(line(doc), ctx())
    assert ev is not None
    assert get(ev, "event.dataset") == "windows.sysmon_operational" and get(ev, "event.module") == "sysmon"
    assert get(ev, "process.args") == ["cmd", "/c", "whoami"]  # theirs kept
    assert get(ev, "process.command_line") == "cmd /c whoami"  # ours added
    assert get(ev, "agent.type") == "winlogbeat" and get(ev, "host.os.family") == "windows"
    assert ev["tags"] == ["beats"] and get(ev, "event.code") == "1"
    with pytest.raises(InputError):
        WinlogJsonParser().parse(line({"winlog": {"channel": "Security"}}), ctx())


def test_detection_picks_each_json_format() -> None:
    assert detect([SURI_ALERT] * 3) == "suricata-eve"
    assert detect([ZEEK_CONN] * 3) == "zeek-json"
    assert detect([NX_4625] * 3) == "winlog-json"
    wlb = line(
        {"@timestamp": "2026-11-21T03:20:30.000Z", "winlog": {"channel": "Security", "event_id": 4624}}
    )
    assert detect([wlb]) == "winlog-json"
    ecs = line({"@timestamp": "2026-11-21T03:20:30.000Z", "event": {"dataset": "x"}})
    assert detect([ecs]) == "ecs-json"


@pytest.mark.parametrize("name", ["suricata-eve", "zeek-json", "winlog-json"])
@settings(max_examples=300, deadline=None)
@given(data=st.one_of(
    st.text(max_size=300),
    st.dictionaries(st.sampled_from(["timestamp", "event_type", "ts", "uid", "id.orig_h", "winlog", "EventID",
                                     "SourceName", "Channel", "Hostname", "EventTime", "RecordNumber", "alert", "dns",
                                     "http", "tls", "flow", "answers", "query", "_path", "@timestamp", "fileinfo",
                                     "IpAddress", "LogonType", "src_port", "duration", "local_orig"]),
                    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                                 max_leaves=8), max_size=8).map(json.dumps),
))  # fmt: skip
def test_fuzz_only_input_errors(name: str, data: str) -> None:
    parser = get_parser(name)
    try:
        ev = parser.parse(data, ctx())
    except InputError:
        return
    assert ev is None or isinstance(ev, dict)
    if ev is not None:
        orjson.dumps(ev)  # storable


def test_corpus_has_no_eve_or_zeek_logs_but_json_parsers_refuse_text(corpus: Path) -> None:
    """The logs corpus holds text logs only (MANIFEST.md): our JSON parsers must decline them cleanly."""
    sample = (
        (corpus / "logs" / "elastic-examples" / "apache_logs").read_text(errors="replace").splitlines()[:200]
    )
    for name in ("suricata-eve", "zeek-json", "winlog-json"):
        assert get_parser(name).sniff(sample) == 0.0
        for ln in sample[:50]:
            with pytest.raises(InputError):
                get_parser(name).parse(ln, ctx())


def _events(parser_name: str, lines: list[str]) -> list[Event]:
    p = get_parser(parser_name)
    return [e for i, ln in enumerate(lines) if (e := p.parse(ln, ctx(position=i))) is not None]
