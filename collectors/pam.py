"""pam_unix lines (any program: sshd, sudo, su, cron, ftp daemons): authentication failures and sessions."""

from __future__ import annotations

import re

from canh.collectors.addresses import is_ip

from canh.events import Event

_KV = re.compile(r"(\w+)=(\S*)")
_SESSION = re.compile(
    r"session (opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>[^\s(]*))?"
)


def enrich_pam(ev: Event, msg: str, out: dict[str, object]) -> None:
    """Fill the fields of a ``pam_unix(service:kind): ...`` body into ``ev`` (dataset system.auth)."""
    ev["event"]["dataset"] = "system.auth"
    ev["event"]["module"] = "system"
    if "authentication failure" in msg:
        kv: dict[str, str] = {}
        for key, value in _KV.findall(msg.partition("authentication failure")[2]):
            kv.setdefault(key, value)  # the first one: a user name can smuggle a second "rhost="
        rhost = kv.get("rhost") or ""
        fields: dict[str, object] = {
            "event.category": ["authentication"],
            "event.type": ["info"],
            "event.action": "authentication_failure",
            "event.outcome": "failure",
            "user.name": kv.get("user") or kv.get("ruser") or None,
        }
        if rhost:
            fields["source.ip" if is_ip(rhost) else "source.domain"] = rhost
        out.update(fields)
        return
    if "session " in msg:
        m = _SESSION.search(msg)
        if m:
            opened = m.group(1) == "opened"
            out["event.category"] = ["session"]
            out["event.type"] = ["start" if opened else "end"]
            out["event.action"] = "session_opened" if opened else "session_closed"
            out["user.name"] = m.group("user")
            by = m.group("by")
            if by:
                out["system.auth.pam.by"] = by


__all__ = ["enrich_pam"]
