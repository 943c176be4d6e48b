"""A small, varied set of ECS events (written for these tests) that both stores must read alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def _later(ts: str) -> str:
    """Ingest time: ten days after the event (so tests can tell the two times apart)."""
    at = datetime.fromisoformat(ts.replace("Z", "+00:00")) + timedelta(days=10)
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ev(n: int, ts: str, dataset: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": ts,
        "event": {"id": f"ev{n:03d}", "dataset": dataset, "ingested": _later(ts)},
    }
    for path, value in fields.items():
        node = doc
        parts = path.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


SAMPLE: list[dict[str, Any]] = [
    _ev(
        1,
        "2026-11-20T01:00:00.000Z",
        "linux.auth",
        message="Failed password for root from 10.0.0.5 port 22 ssh2",
        host__name="web-01",
        source__ip="10.0.0.5",
        destination__port=22,
        user__name="root",
        event__action="ssh_login",
        event__outcome="failure",
    ),
    _ev(
        2,
        "2026-11-20T01:05:00.000Z",
        "linux.auth",
        message="Accepted password for admin from 192.168.1.20 port 22",
        host__name="web-01",
        source__ip="192.168.1.20",
        destination__port=22,
        user__name="admin",
        event__action="ssh_login",
        event__outcome="success",
    ),
    _ev(
        3,
        "2026-11-20T02:00:00.000Z",
        "linux.auth",
        message="FAILED PASSWORD for invalid user Admin",
        host__name="WEB-01",
        source__ip="10.1.2.3",
        destination__port=2222,
        user__name="Admin",
        event__action="ssh_login",
        event__outcome="failure",
    ),
    _ev(
        4,
        "2026-11-21T03:00:00.000Z",
        "nginx.access",
        message="GET /wp-login.php HTTP/1.1 404",
        host__name="web-02",
        source__ip="203.0.113.9",
        destination__port=443,
        url__original="/wp-login.php?x=1",
        http__response__status_code=404,
        user_agent__original="Mozilla/5.0 (sqlmap)",
    ),
    _ev(
        5,
        "2026-11-21T03:01:00.000Z",
        "nginx.access",
        message="GET /index.html HTTP/1.1 200",
        host__name="web-02",
        source__ip="203.0.113.10",
        destination__port=443,
        url__original="/index.html",
        http__response__status_code=200,
    ),
    _ev(
        6,
        "2026-11-21T04:00:00.000Z",
        "windows.security",
        message="Đăng nhập thất bại cho tài khoản quản trị",
        host__name="dc-01",
        source__ip="2001:db8::7",
        user__name="quantri",
        event__code="4625",
        process__command_line="powershell.exe -enc SQBFAFgA",
        event__outcome="failure",
    ),
    _ev(
        7,
        "2026-11-21T04:30:00.000Z",
        "windows.security",
        message="Đăng nhập thành công",
        host__name="dc-01",
        source__ip="10.0.0.9",
        user__name="quantri",
        event__code="4624",
        event__outcome="success",
    ),
    _ev(
        8,
        "2026-11-22T00:00:00.000Z",
        "zeek.conn",
        host__name="sensor-01",
        source__ip="10.0.0.5",
        destination__ip="8.8.8.8",
        destination__port=53,
        network__transport="udp",
        network__bytes=1200,
    ),
    _ev(
        9,
        "2026-11-22T00:10:00.000Z",
        "zeek.conn",
        host__name="sensor-01",
        source__ip="172.16.5.4",
        destination__ip="1.1.1.1",
        destination__port=853,
        network__transport="tcp",
        network__bytes=98000,
        tags=["tls", "dns-over-tls"],
    ),
    _ev(
        10,
        "2026-11-22T00:20:00.000Z",
        "linux.audit",
        message="user-agent web_scan.v2 started by it's owner",
        host__name="web-01",
        process__name="web_scan",
        process__pid=4242,
        event__original="raw: web_scan.v2 pid=4242",
    ),
    _ev(
        11,
        "2026-11-22T00:30:00.000Z",
        "linux.audit",
        message="cron job finished",
        host__name="db-01",
        process__name="cron",
        process__pid=77,
        labels__critical=True,
    ),
    _ev(
        12,
        "2026-11-22T00:40:00.000Z",
        "linux.audit",
        message="cron job started",
        host__name="db-01",
        process__name="cron",
        process__pid=78,
        labels__critical=False,
    ),
]

ALL_IDS = [e["event"]["id"] for e in SAMPLE]

# Hunting queries whose answer both stores must give identically (and the Python matcher too).
QUERIES: list[str] = [
    "*",
    "host.name:web-01",
    "host.name:WEB-01",
    "host.name:web*",
    "host.name:web-0?",
    "host.name:/web-0[12]/",
    "message:failed",
    "message:FAILED",
    'message:"failed password"',
    'message:"password failed"',
    "message:pass*",
    "failed root",
    "failed OR accepted",
    '"đăng nhập"',
    "thất",
    "message:/fail.*/",
    "web_scan.v2",
    "it's",
    "source.ip:10.0.0.0/8",
    "source.ip:10.0.0.5",
    "source.ip:2001\\:db8\\:\\:/32",
    "source.ip:[10.0.0.0 TO 10.0.0.255]",
    "destination.port:22",
    "destination.port:[20 TO 443]",
    "destination.port:{22 TO 443}",
    "destination.port:>=853",
    "destination.port:<53",
    "http.response.status_code:404",
    "event.code:4625",
    "_exists_:user.name",
    "user.name:*",
    "NOT _exists_:message",
    "NOT event.dataset:linux.auth",
    "-event.dataset:linux.auth AND _exists_:user.name",
    "event.dataset:linux.auth AND NOT event.outcome:success",
    "(event.dataset:nginx.access OR event.dataset:zeek.conn) AND destination.port:443",
    "event.dataset:linux.auth event.outcome:failure",
    "user.name:admin",
    "user.name:Admin",
    "tags:tls",
    "tags:dns*",
    "labels.critical:true",
    "labels.critical:false",
    "process.pid:4242",
    "process.pid:[70 TO 80]",
    "network.bytes:>1000",
    "url.original:*login*",
    'url.original:"wp-login.php"',
    "user_agent.original:sqlmap",
    "process.command_line:powershell.exe",
    "event.original:raw",
    "@timestamp:[2026-11-21T00:00:00Z TO 2026-11-22T00:00:00Z}",
    "@timestamp:>=2026-11-22",
    "event.dataset:linux.*",
    'host.name:"web-01"',
    "nosuchfield:x",
    "event.action:ssh_login AND source.ip:192.168.0.0/16",
]
