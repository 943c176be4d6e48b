"""HTTP/1.x request and response heads (start line + headers) into ECS ``http.*`` / ``url.*`` fields."""

from __future__ import annotations

from typing import Any

METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
)
MAX_HEAD = 16384


def looks_like(payload: bytes) -> bool:
    """True when a TCP payload starts an HTTP/1.x request or response."""
    return payload.startswith(METHODS) or payload.startswith(b"HTTP/1.")


def _headers(lines: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep:
            out.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("utf-8", "replace"))
    return out


def parse(payload: bytes) -> tuple[str, dict[str, Any]] | None:
    """("request"|"response", ECS objects) for an HTTP/1.x head at the start of ``payload``, else None.

    The objects come nested as the event holds them: a request's ``http`` (``request``, ``version``),
    ``url`` and ``user_agent``; a response's ``http`` (``version``, ``response``). Each message's
    objects go into one event (ecs.EventFactory.http), so they are built once, in final form.
    """
    head = payload[:MAX_HEAD]
    end = head.find(b"\r\n\r\n")
    lines = (head if end < 0 else head[:end]).split(b"\r\n")
    start = lines[0].split(b" ", 2)
    if len(start) < 2:
        return None
    hdrs = _headers(lines[1:])
    if start[0].startswith(b"HTTP/1."):
        try:
            status = int(start[1])
        except ValueError:
            return None
        response: dict[str, Any] = {"status_code": status}
        if "content-length" in hdrs and hdrs["content-length"].isdigit():
            response["body"] = {"bytes": int(hdrs["content-length"])}
        if "content-type" in hdrs:
            response["mime_type"] = hdrs["content-type"].split(";")[0].strip()
        if "server" in hdrs:
            response["server"] = hdrs["server"]
        return "response", {
            "http": {"version": start[0][5:].decode("ascii", "replace"), "response": response}
        }
    if len(start) < 3 or not start[2].startswith(b"HTTP/1."):
        return None
    target = start[1].decode("utf-8", "replace")
    request: dict[str, Any] = {"method": start[0].decode("ascii", "replace")}
    url: dict[str, Any] = {"original": target}
    fields: dict[str, Any] = {
        "http": {"request": request, "version": start[2][5:].decode("ascii", "replace").strip()},
        "url": url,
    }
    path, _, query = target.partition("?")
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    url["path"] = path
    if query:
        url["query"] = query
    leaf = path.rsplit("/", 1)[-1]
    if "." in leaf:
        url["extension"] = leaf.rsplit(".", 1)[1].lower()
    host = hdrs.get("host")
    if host:
        domain, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
        url["domain"] = domain or host
        if port.isdigit():
            url["port"] = int(port)
    if "user-agent" in hdrs:
        fields["user_agent"] = {"original": hdrs["user-agent"]}
    if "referer" in hdrs:
        request["referrer"] = hdrs["referer"]
    if "content-length" in hdrs and hdrs["content-length"].isdigit():
        request["body"] = {"bytes": int(hdrs["content-length"])}
    if "content-type" in hdrs:
        request["mime_type"] = hdrs["content-type"].split(";")[0].strip()
    return "request", fields
