"""Zeek JSON logs to ECS (dataset ``zeek.<log>``), as Filebeat's zeek module lays them out.

The log a record belongs to comes from its ``_path`` field when Zeek wrote one, else from the file
name (``conn.log``, ``dns.04:00:00-05:00:00.log.gz``), else from the fields the record has. Every
field is kept under ``zeek.<log>``; the connection tuple, ``dns.*``, ``http.*``/``url.*``, ``tls.*``,
``file.*`` and notices (``rule.name``, ``message``) are mapped to ECS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from canh.collectors.jsonlines import as_int, as_str, load_object, sample_objects, url_fields
from canh.collectors.registry import LineContext
from canh.errors import InputError
from canh.events import Event, format_ts, new_event, parse_ts, set_field, set_many

LOGS = ("conn", "dns", "http", "ssl", "files", "notice", "x509", "ssh", "smtp", "ftp", "weird", "dhcp", "rdp",
        "smb_files", "smb_mapping", "dce_rpc", "kerberos", "ntlm", "sip", "snmp", "tunnel", "intel", "software",
        "known_hosts", "known_services", "pe", "signatures", "socks", "syslog", "radius", "mysql", "traceroute")  # fmt: skip
_FILE_LOG = re.compile(r"(?:^|/)([a-z0-9_]+)(?:\.[0-9:_-]+)*\.(?:log|json)(?:\.gz)?$")
_TUPLE = {"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"}
_SSL_VERSIONS = {
    "TLSv10": "1.0",
    "TLSv11": "1.1",
    "TLSv12": "1.2",
    "TLSv13": "1.3",
    "SSLv3": "3.0",
    "SSLv2": "2.0",
}


def log_of(doc: dict[str, Any], source: str) -> str | None:
    """Which Zeek log a record belongs to."""
    path = doc.get("_path")
    if isinstance(path, str) and path:
        return path
    m = _FILE_LOG.search(source)
    if m and m.group(1) in LOGS:
        return m.group(1)
    keys = doc.keys()
    if "note" in keys:
        return "notice"
    if "conn_state" in keys or ("proto" in keys and "duration" in keys and "history" in keys):
        return "conn"
    if "qtype_name" in keys or ("query" in keys and "trans_id" in keys):
        return "dns"
    if "method" in keys and "uri" in keys:
        return "http"
    if "server_name" in keys or "cipher" in keys:
        return "ssl"
    if "fuid" in keys and ("mime_type" in keys or "total_bytes" in keys or "seen_bytes" in keys):
        return "files"
    if "certificate.subject" in keys:
        return "x509"
    if "auth_success" in keys and "client" in keys:
        return "ssh"
    if "name" in keys and "addl" in keys:
        return "weird"
    return None


class ZeekJsonParser:
    """One Zeek JSON log record per line (``LogAscii::use_json=T``)."""

    name = "zeek-json"

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        doc = load_object(line)
        if doc is None:
            return None
        ts = doc.get("ts")
        if ts is None or isinstance(ts, bool):
            raise InputError("collect.json_missing", field="ts")
        try:
            stamp = format_ts(parse_ts(ts if isinstance(ts, str | int | float) else str(ts)))
        except (ValueError, OverflowError, OSError) as exc:
            raise InputError("input.invalid", reason=f"ts: {ts!r}") from exc
        log = log_of(doc, ctx.path or ctx.source) or "unknown"
        ev = new_event(
            timestamp=stamp, dataset=f"zeek.{log}", module="zeek", source=ctx.source, position=ctx.position,
            original=line, kind="alert" if log == "notice" else "event", host=ctx.host, ingested=ctx.now,
            path=ctx.path, observer=ctx.observer,
        )  # fmt: skip
        f: dict[str, Any] = {
            "source.ip": as_str(doc.get("id.orig_h")),
            "source.port": as_int(doc.get("id.orig_p")),
            "destination.ip": as_str(doc.get("id.resp_h")),
            "destination.port": as_int(doc.get("id.resp_p")),
            "network.community_id": as_str(doc.get("community_id")),
            "zeek.session_id": as_str(doc.get("uid")),
            "event.category": ["network"],
            "event.type": ["connection"]
            if log == "conn"
            else ["protocol"]
            if log in _PROTOCOL_LOGS
            else ["info"],
        }
        handler = _HANDLERS.get(log)
        if handler is not None:
            handler(doc, f)
        set_many(ev, f)
        rest = {
            k: v
            for k, v in doc.items()
            if k not in _TUPLE and k not in ("ts", "uid", "_path", "community_id")
        }
        zeek: dict[str, Any] = {}
        for key, value in rest.items():
            # Field names like "certificate.subject" nest under zeek.<log> as Filebeat's do.
            set_field(zeek, key, value)
        if zeek:
            node = ev["zeek"] if isinstance(ev.get("zeek"), dict) else ev.setdefault("zeek", {})
            node[log] = zeek
        return ev

    def sniff(self, lines: Sequence[str]) -> float:
        docs = sample_objects(lines)
        if not docs:
            return 0.0
        ok = sum(
            1 for d in docs if "ts" in d and ("uid" in d or "id.orig_h" in d or "_path" in d or "fuid" in d)
        )
        return 0.95 * ok / len(docs)


_PROTOCOL_LOGS = {
    "dns",
    "http",
    "ssl",
    "ssh",
    "smtp",
    "ftp",
    "dhcp",
    "rdp",
    "kerberos",
    "ntlm",
    "sip",
    "snmp",
}


def _conn(d: dict[str, Any], f: dict[str, Any]) -> None:
    ob, rb = as_int(d.get("orig_bytes")), as_int(d.get("resp_bytes"))
    op, rp = as_int(d.get("orig_pkts")), as_int(d.get("resp_pkts"))
    duration = d.get("duration")
    f.update({
        "network.transport": as_str(d.get("proto")),
        "network.protocol": as_str(d.get("service")),
        "source.bytes": ob, "destination.bytes": rb, "source.packets": op, "destination.packets": rp,
        "network.bytes": (ob or 0) + (rb or 0) if ob is not None or rb is not None else None,
        "network.packets": (op or 0) + (rp or 0) if op is not None or rp is not None else None,
        "event.duration": int(duration * 1e9) if isinstance(duration, int | float) and not isinstance(duration, bool)
        and 0 <= duration < 1e9 else None,
    })  # fmt: skip
    lo, lr = d.get("local_orig"), d.get("local_resp")
    if isinstance(lo, bool) and isinstance(lr, bool):
        f["network.direction"] = {(True, True): "internal", (True, False): "outbound",
                                  (False, True): "inbound", (False, False): "external"}[(lo, lr)]  # fmt: skip


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dns(d: dict[str, Any], f: dict[str, Any]) -> None:
    answers = _list(d.get("answers"))
    ttls = _list(d.get("TTLs"))
    resolved = [
        a for a in answers if isinstance(a, str) and (a.count(".") == 3 or ":" in a) and a[0].isalnum()
    ]
    f.update({
        "network.transport": as_str(d.get("proto")),
        "network.protocol": "dns",
        "dns.id": as_str(d.get("trans_id")),
        "dns.question.name": as_str(d.get("query")),
        "dns.question.type": as_str(d.get("qtype_name")),
        "dns.question.class": as_str(d.get("qclass_name")),
        "dns.response_code": as_str(d.get("rcode_name")),
        "dns.type": "answer" if answers or d.get("rcode") is not None else "query",
        "dns.answers": [
            {"data": a, **({"ttl": int(t)} if isinstance(t, int | float) and not isinstance(t, bool) else {})}
            for a, t in zip(answers, ttls + [None] * (len(answers) - len(ttls)), strict=False)
            if isinstance(a, str)
        ] or None,
        "dns.resolved_ip": resolved or None,
    })  # fmt: skip


def _http(d: dict[str, Any], f: dict[str, Any]) -> None:
    uri = as_str(d.get("uri"))
    host = as_str(d.get("host"))
    if uri:
        f.update(url_fields(uri, host))
    elif host:
        f["url.domain"] = host
    f.update({
        "network.protocol": "http",
        "http.request.method": as_str(d.get("method")),
        "http.response.status_code": as_int(d.get("status_code")),
        "http.request.body.bytes": as_int(d.get("request_body_len")),
        "http.response.body.bytes": as_int(d.get("response_body_len")),
        "http.request.referrer": as_str(d.get("referrer")),
        "http.version": as_str(d.get("version")),
        "user_agent.original": as_str(d.get("user_agent")),
        "user.name": as_str(d.get("username")),
        "event.category": ["network", "web"],
    })  # fmt: skip


def _ssl(d: dict[str, Any], f: dict[str, Any]) -> None:
    ver = as_str(d.get("version")) or ""
    established = d.get("established")
    f.update({
        "network.protocol": "tls",
        "tls.version": _SSL_VERSIONS.get(ver),
        "tls.version_protocol": "ssl" if ver.startswith("SSL") else "tls" if ver.startswith("TLS") else None,
        "tls.cipher": as_str(d.get("cipher")),
        "tls.curve": as_str(d.get("curve")),
        "tls.client.server_name": as_str(d.get("server_name")),
        "tls.resumed": d.get("resumed") if isinstance(d.get("resumed"), bool) else None,
        "tls.established": established if isinstance(established, bool) else None,
        "tls.server.subject": as_str(d.get("subject")),
        "tls.server.issuer": as_str(d.get("issuer")),
        "tls.client.ja3": as_str(d.get("ja3")),
        "tls.server.ja3s": as_str(d.get("ja3s")),
    })  # fmt: skip


def _files(d: dict[str, Any], f: dict[str, Any]) -> None:
    tx = _list(d.get("tx_hosts"))
    rx = _list(d.get("rx_hosts"))
    f.update({
        "event.category": ["file"],
        "file.name": as_str(d.get("filename")),
        "file.mime_type": as_str(d.get("mime_type")),
        "file.size": as_int(d.get("total_bytes")) or as_int(d.get("seen_bytes")),
        "file.hash.md5": as_str(d.get("md5")),
        "file.hash.sha1": as_str(d.get("sha1")),
        "file.hash.sha256": as_str(d.get("sha256")),
        "source.ip": f.get("source.ip") or (as_str(tx[0]) if tx else None),
        "destination.ip": f.get("destination.ip") or (as_str(rx[0]) if rx else None),
    })  # fmt: skip


def _notice(d: dict[str, Any], f: dict[str, Any]) -> None:
    f.update({
        "event.category": ["network", "intrusion_detection"],
        "event.type": ["info"],
        "rule.name": as_str(d.get("note")),
        "message": as_str(d.get("msg")),
        "source.ip": f.get("source.ip") or as_str(d.get("src")),
        "destination.ip": f.get("destination.ip") or as_str(d.get("dst")),
        "destination.port": f.get("destination.port") or as_int(d.get("p")),
    })  # fmt: skip


def _ssh(d: dict[str, Any], f: dict[str, Any]) -> None:
    ok = d.get("auth_success")
    f.update({
        "network.protocol": "ssh",
        "event.category": ["network", "authentication"],
        "event.outcome": ("success" if ok else "failure") if isinstance(ok, bool) else None,
    })  # fmt: skip


def _weird(d: dict[str, Any], f: dict[str, Any]) -> None:
    f["event.action"] = as_str(d.get("name"))
    f["message"] = as_str(d.get("addl")) or as_str(d.get("name"))


_HANDLERS = {"conn": _conn, "dns": _dns, "http": _http, "ssl": _ssl, "files": _files, "notice": _notice,
             "ssh": _ssh, "weird": _weird}  # fmt: skip
