"""Suricata ``eve.json`` lines to ECS (dataset ``suricata.eve``), as Filebeat's suricata module lays them out.

Every event type keeps its Suricata object under ``suricata.eve``; the ECS fields the rules and the
console use are filled from it: source/destination, ``network.*``, ``rule.*`` for alerts, ``dns.*``,
``http.*``/``url.*``, ``tls.*``, ``file.*`` and flow counters.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from canh.collectors.jsonlines import as_int, as_str, load_object, sample_objects, url_fields
from canh.collectors.registry import LineContext
from canh.errors import InputError
from canh.events import Event, format_ts, new_event, parse_ts, set_many

_CATEGORY = {
    "alert": (["network", "intrusion_detection"], ["allowed"]),
    "dns": (["network"], ["protocol"]),
    "http": (["network", "web"], ["protocol"]),
    "tls": (["network"], ["protocol"]),
    "flow": (["network"], ["connection"]),
    "netflow": (["network"], ["connection"]),
    "fileinfo": (["file"], ["info"]),
    "anomaly": (["network"], ["info"]),
    "ssh": (["network"], ["protocol"]),
    "smb": (["network"], ["protocol"]),
}


def _tls_version(text: str) -> tuple[str | None, str | None]:
    """``"TLS 1.2"`` → (``tls``, ``1.2``); ``"SSLv3"`` → (``ssl``, ``3.0``)."""
    t = text.strip().upper().replace("V", " ")
    if t.startswith("TLS"):
        return "tls", t[3:].strip() or None
    if t.startswith("SSL"):
        ver = t[3:].strip()
        return "ssl", (ver + ".0" if ver.isdigit() else ver) or None
    return None, None


class SuricataEveParser:
    """One Suricata EVE JSON record per line."""

    name = "suricata-eve"

    def parse(self, line: str, ctx: LineContext) -> Event | None:
        doc = load_object(line)
        if doc is None:
            return None
        etype = doc.get("event_type")
        if not isinstance(etype, str) or not etype:
            raise InputError("collect.json_missing", field="event_type")
        stamp = doc.get("timestamp")
        try:
            ts = format_ts(parse_ts(stamp)) if isinstance(stamp, str | int | float) else format_ts(ctx.now)
        except (ValueError, OverflowError, OSError) as exc:
            raise InputError("input.invalid", reason=f"timestamp: {stamp!r}") from exc
        ev = new_event(
            timestamp=ts, dataset="suricata.eve", module="suricata", source=ctx.source, position=ctx.position,
            original=line, kind="alert" if etype == "alert" else "event", host=as_str(doc.get("host")) or ctx.host,
            ingested=ctx.now, path=ctx.path, observer=ctx.observer,
        )  # fmt: skip
        category, types = _CATEGORY.get(etype, (["network"], ["info"]))
        f: dict[str, Any] = {
            "event.category": list(category),
            "event.type": list(types),
            "source.ip": as_str(doc.get("src_ip")),
            "source.port": as_int(doc.get("src_port")),
            "destination.ip": as_str(doc.get("dest_ip")),
            "destination.port": as_int(doc.get("dest_port")),
            "network.transport": (as_str(doc.get("proto")) or "").lower() or None,
            "network.protocol": (as_str(doc.get("app_proto")) or "").lower() or None,
            "network.community_id": as_str(doc.get("community_id")),
            "observer.ingress.interface.name": as_str(doc.get("in_iface")),
            "observer.vendor": "OISF",
            "observer.product": "Suricata",
            "observer.type": "ids",
        }
        if etype != "alert":
            f["event.action"] = etype
        sub = doc.get(etype)
        if isinstance(sub, dict):
            handler = _HANDLERS.get(etype)
            if handler is not None:
                handler(sub, f)
        for key in ("http", "tls", "dns", "fileinfo", "flow"):
            # Alerts carry the app-layer record of their transaction too (eve "metadata" options).
            extra = doc.get(key)
            if key != etype and isinstance(extra, dict) and key in _HANDLERS:
                _HANDLERS[key](extra, f)
        set_many(ev, f)
        eve = {
            k: v
            for k, v in doc.items()
            if k not in ("timestamp", "src_ip", "src_port", "dest_ip", "dest_port")
        }
        ev["suricata"] = {"eve": eve}
        return ev

    def sniff(self, lines: Sequence[str]) -> float:
        docs = sample_objects(lines)
        if not docs:
            return 0.0
        ok = sum(1 for d in docs if isinstance(d.get("event_type"), str) and "timestamp" in d)
        return 0.95 * ok / len(docs)


def _alert(a: dict[str, Any], f: dict[str, Any]) -> None:
    action = as_str(a.get("action"))
    f.update({
        "rule.id": as_str(a.get("signature_id")),
        "rule.name": as_str(a.get("signature")),
        "rule.category": as_str(a.get("category")),
        "rule.version": as_str(a.get("rev")),
        "event.severity": as_int(a.get("severity")),
        "event.action": action,
        "message": as_str(a.get("signature")),
    })  # fmt: skip
    if action == "blocked":
        f["event.type"] = ["denied"]


def _dns(d: dict[str, Any], f: dict[str, Any]) -> None:
    queries = d.get("queries")
    q = queries[0] if isinstance(queries, list) and queries and isinstance(queries[0], dict) else d
    f.update({
        "dns.type": as_str(d.get("type")),
        "dns.id": as_str(d.get("id")),
        "dns.question.name": as_str(q.get("rrname")),
        "dns.question.type": as_str(q.get("rrtype")),
        "dns.response_code": as_str(d.get("rcode")),
    })  # fmt: skip
    answers: list[dict[str, Any]] = []
    resolved: list[str] = []
    raw = d.get("answers")
    if isinstance(raw, list):
        for ans in raw:
            if isinstance(ans, dict):
                item = {"name": ans.get("rrname"), "type": ans.get("rrtype"), "ttl": ans.get("ttl"),
                        "data": ans.get("rdata")}  # fmt: skip
                answers.append({k: v for k, v in item.items() if v is not None})
                if ans.get("rrtype") in ("A", "AAAA") and isinstance(ans.get("rdata"), str):
                    resolved.append(ans["rdata"])
    elif d.get("type") == "answer" and isinstance(d.get("rdata"), str):
        answers.append({"name": d.get("rrname"), "type": d.get("rrtype"), "data": d["rdata"]})
        if d.get("rrtype") in ("A", "AAAA"):
            resolved.append(d["rdata"])
    grouped = d.get("grouped")
    if isinstance(grouped, dict):
        for rtype in ("A", "AAAA"):
            for ip in grouped.get(rtype) or []:
                if isinstance(ip, str):
                    resolved.append(ip)
    if answers:
        f["dns.answers"] = answers
    if resolved:
        f["dns.resolved_ip"] = resolved


def _http(h: dict[str, Any], f: dict[str, Any]) -> None:
    url = as_str(h.get("url"))
    host = as_str(h.get("hostname"))
    if url:
        f.update(url_fields(url, host))
    elif host:
        f["url.domain"] = host
    proto = as_str(h.get("protocol")) or ""
    f.update({
        "http.request.method": as_str(h.get("http_method")),
        "http.response.status_code": as_int(h.get("status")),
        "http.response.body.bytes": as_int(h.get("length")),
        "http.request.referrer": as_str(h.get("http_refer")),
        "http.response.mime_type": as_str(h.get("http_content_type")),
        "http.version": proto.split("/", 1)[1] if "/" in proto else None,
        "user_agent.original": as_str(h.get("http_user_agent")),
    })  # fmt: skip


def _tls(t: dict[str, Any], f: dict[str, Any]) -> None:
    proto, ver = _tls_version(as_str(t.get("version")) or "")
    fp = as_str(t.get("fingerprint"))
    ja3 = _obj(t.get("ja3"))
    ja3s = _obj(t.get("ja3s"))
    f.update({
        "tls.version_protocol": proto,
        "tls.version": ver,
        "tls.client.server_name": as_str(t.get("sni")),
        "tls.server.subject": as_str(t.get("subject")),
        "tls.server.issuer": as_str(t.get("issuerdn")),
        "tls.server.x509.serial_number": as_str(t.get("serial")),
        "tls.server.hash.sha1": fp.replace(":", "").upper() if fp else None,
        "tls.server.not_before": as_str(t.get("notbefore")),
        "tls.server.not_after": as_str(t.get("notafter")),
        "tls.client.ja3": as_str(ja3.get("hash")),
        "tls.server.ja3s": as_str(ja3s.get("hash")),
    })  # fmt: skip


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _flow(fl: dict[str, Any], f: dict[str, Any]) -> None:
    ts, tc = as_int(fl.get("bytes_toserver")), as_int(fl.get("bytes_toclient"))
    ps, pc = as_int(fl.get("pkts_toserver")), as_int(fl.get("pkts_toclient"))
    f.update({
        "source.bytes": ts, "destination.bytes": tc, "source.packets": ps, "destination.packets": pc,
        "network.bytes": (ts or 0) + (tc or 0) if ts is not None or tc is not None else None,
        "network.packets": (ps or 0) + (pc or 0) if ps is not None or pc is not None else None,
    })  # fmt: skip
    for key, target in (("start", "event.start"), ("end", "event.end")):
        value = fl.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                f[target] = format_ts(parse_ts(value))


def _fileinfo(fi: dict[str, Any], f: dict[str, Any]) -> None:
    name = as_str(fi.get("filename"))
    f.update({
        "file.path": name,
        "file.name": name.rsplit("/", 1)[-1] if name else None,
        "file.size": as_int(fi.get("size")),
        "file.mime_type": as_str(fi.get("mimetype")),
        "file.hash.md5": as_str(fi.get("md5")),
        "file.hash.sha1": as_str(fi.get("sha1")),
        "file.hash.sha256": as_str(fi.get("sha256")),
    })  # fmt: skip


def _anomaly(an: dict[str, Any], f: dict[str, Any]) -> None:
    f["message"] = as_str(an.get("event")) or as_str(an.get("type"))


_HANDLERS = {"alert": _alert, "dns": _dns, "http": _http, "tls": _tls, "flow": _flow, "netflow": _flow,
             "fileinfo": _fileinfo, "anomaly": _anomaly}  # fmt: skip
