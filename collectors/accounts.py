"""Account management lines (useradd, usermod, userdel, groupadd, groupdel, passwd, chpasswd) to ECS ``iam``."""

from __future__ import annotations

import re

from canh.collectors.pam import pam_fields
from canh.events import Shaped

_KV = re.compile(r"(\w+)=([^,]*)")
_QUOTED = re.compile(r"'([^']*)'")
_PW_CHANGED = re.compile(r"password changed for (\S+)")

# (message prefix, event.type, what the first quoted/name= value is)
_ACTIONS: tuple[tuple[str, list[str], str], ...] = (
    ("new user", ["user", "creation"], "user"),
    ("new group", ["group", "creation"], "group"),
    ("group added to", ["group", "creation"], "group"),
    ("add '", ["user", "change"], "member"),
    ("delete user", ["user", "deletion"], "user"),
    ("removed group", ["group", "deletion"], "group"),
    ("group '", ["group", "deletion"], "group"),
    ("delete '", ["user", "change"], "member"),
    ("change user", ["user", "change"], "user"),
    ("lock user", ["user", "change"], "user"),
    ("unlock user", ["user", "change"], "user"),
    ("changed password", ["user", "change"], "user"),
    ("new password", ["user", "change"], "user"),
)


def account_fields(msg: str, program: str) -> Shaped | dict[str, object]:
    """The iam fields (dotted paths, dataset system.auth) of one account-management line from ``program``."""
    if msg.startswith("pam_unix(") and "password changed" not in msg:
        return pam_fields(msg)
    out: dict[str, object] = {"event.dataset": "system.auth", "event.module": "system"}
    fields: dict[str, object] = {"event.category": ["iam"], "event.action": program}
    m = _PW_CHANGED.search(msg)
    if m:
        target = m.group(1)
        fields.update({"event.type": ["user", "change"], "event.outcome": "success"})
        fields.update({"user.name": target, "user.target.name": target, "event.action": "passwd"})
        out.update(fields)
        return out
    for prefix, types, role in _ACTIONS:
        if msg.startswith(prefix):
            fields["event.type"] = list(types)
            fields["event.outcome"] = "success"
            kv = dict((k, v.strip()) for k, v in _KV.findall(msg))
            quoted = _QUOTED.findall(msg)
            if role == "member":
                # "add 'support2' to group 'sudo'" (useradd -G / usermod -aG / gpasswd)
                if quoted:
                    fields.update({"user.name": quoted[0], "user.target.name": quoted[0]})
                if len(quoted) > 1:
                    fields["group.name"] = quoted[1]
            elif role == "user":
                name = kv.get("name") or (quoted[0] if quoted else None)
                fields.update({"user.name": name, "user.target.name": name})
                if kv.get("UID", "").isdigit():
                    fields["user.id"] = kv["UID"]
                if kv.get("GID", "").isdigit():
                    fields["group.id"] = kv["GID"]
            else:
                fields["group.name"] = kv.get("name") or (quoted[0] if quoted else None)
                if kv.get("GID", "").isdigit():
                    fields["group.id"] = kv["GID"]
            out.update(fields)
            return out
    if msg.startswith("failed") or "fail" in msg[:40].lower():
        fields.update({"event.type": ["user"], "event.outcome": "failure"})
        out.update(fields)
    return out


ACCOUNT_PROGRAMS = frozenset(
    {
        "useradd",
        "usermod",
        "userdel",
        "groupadd",
        "groupmod",
        "groupdel",
        "passwd",
        "chpasswd",
        "gpasswd",
        "adduser",
    }
)

__all__ = ["ACCOUNT_PROGRAMS", "account_fields"]
