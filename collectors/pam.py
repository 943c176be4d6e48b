"""pam_unix lines (any program: sshd, sudo, su, cron, ftp daemons): authentication failures and sessions."""

from __future__ import annotations

import re

from canh.collectors.addresses import is_ip
from canh.events import OPTIONAL, VALUE, Shape, Shaped

_KV = re.compile(r"(\w+)=(\S*)")
_SESSION = re.compile(
    r"session (opened|closed) for user (?P<user>[^\s(]+)(?:\(uid=\d+\))?(?: by (?P<by>[^\s(]*))?"
)

# Every auth body parser starts from this: the line is system.auth whatever else it says.
AUTH = Shape({"event.dataset": "system.auth", "event.module": "system"})
FAILURE = AUTH | {
    "event.category": ["authentication"],
    "event.type": ["info"],
    "event.action": "authentication_failure",
    "event.outcome": "failure",
    "user.name": OPTIONAL,
    "source.ip": OPTIONAL,
    "source.domain": OPTIONAL,
}
_SESSION_FIELDS = {
    "event.category": ["session"],
    "event.type": VALUE,
    "event.action": VALUE,
    "user.name": VALUE,
}
SESSION = AUTH | _SESSION_FIELDS
SESSION_BY = AUTH | {**_SESSION_FIELDS, "system.auth.pam.by": VALUE}


def pam_fields(msg: str) -> Shaped:
    """The fields of a ``pam_unix(service:kind): ...`` body (dataset system.auth), as a shape and its values."""
    if "authentication failure" in msg:
        kv: dict[str, str] = {}
        for key, value in _KV.findall(msg.partition("authentication failure")[2]):
            kv.setdefault(key, value)  # the first one: a user name can smuggle a second "rhost="
        rhost = kv.get("rhost") or ""
        user = kv.get("user") or kv.get("ruser") or None
        if not rhost:
            return FAILURE, (user, None, None)
        return FAILURE, ((user, rhost, None) if is_ip(rhost) else (user, None, rhost))
    if "session " in msg:
        m = _SESSION.search(msg)
        if m:
            opened = m.group(1) == "opened"
            kind = ["start" if opened else "end"]
            action = "session_opened" if opened else "session_closed"
            by = m.group("by")
            if by:
                return SESSION_BY, (kind, action, m.group("user"), by)
            return SESSION, (kind, action, m.group("user"))
    return AUTH, ()


__all__ = ["AUTH", "FAILURE", "pam_fields"]
