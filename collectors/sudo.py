"""sudo and su lines to ECS ``system.auth``: who ran what as whom, from where, and refusals."""

from __future__ import annotations

import re

from canh.collectors.pam import AUTH, FAILURE, pam_fields
from canh.events import OPTIONAL, VALUE, Shaped

_SU = re.compile(r"^(?P<failed>FAILED SU |FAILED su )?\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)")
_SU_OLD = re.compile(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^\s:]+):(?P<target>\S+)")
_SU_SUCCESS = re.compile(r"^Successful su for (?P<target>\S+) by (?P<user>\S+)")


SUDO = AUTH | {
    "event.category": VALUE,
    "event.type": VALUE,
    "event.action": "sudo",
    "event.outcome": VALUE,
    "user.name": OPTIONAL,
    "user.effective.name": OPTIONAL,
    "process.command_line": OPTIONAL,
    "system.auth.sudo.command": OPTIONAL,
    "system.auth.sudo.tty": OPTIONAL,
    "system.auth.sudo.pwd": OPTIONAL,
    "system.auth.sudo.error": OPTIONAL,
}
SU = AUTH | {
    "event.category": ["authentication"],
    "event.type": VALUE,
    "event.action": "su",
    "event.outcome": VALUE,
    "user.name": VALUE,
    "user.effective.name": VALUE,
    "system.auth.su.tty": OPTIONAL,
}
SU_FAILURE = FAILURE | {"event.action": "su"}


def sudo_fields(msg: str) -> Shaped:
    """``user : TTY=pts/0 ; PWD=/home/user ; USER=root ; COMMAND=/bin/id`` (and refusals): shape and values."""
    if msg.startswith("pam_unix(") or msg.startswith("pam_"):
        return pam_fields(msg)
    user, sep, rest = msg.partition(" : ")
    if not sep:
        return AUTH, ()
    kv: dict[str, str] = {}
    problem = ""
    for part in rest.split(" ; "):
        key, eq, value = part.partition("=")
        if eq and key.isupper() and key.isalpha():
            if key == "COMMAND":
                # The command is last and may itself contain " ; ".
                value = rest.partition("COMMAND=")[2]
                kv[key] = value
                break
            kv[key] = value
        elif not problem:
            problem = part.strip()
    command = kv.get("COMMAND")
    if problem:
        kind: tuple[list[str], list[str], str] = (["authentication"], ["info"], "failure")
    else:
        kind = (["process"], ["start"], "success")
    values = (
        user.strip() or None,
        kv.get("USER"),
        command,
        command,
        kv.get("TTY"),
        kv.get("PWD"),
        problem or None,
    )
    return SUDO, (*kind, *values)


def su_fields(msg: str) -> Shaped:
    """``(to root) user on pts/0``, ``FAILED SU (to root) user on pts/0`` and PAM lines of su: shape and values."""
    if msg.startswith("pam_unix(") or msg.startswith("pam_"):
        shape, values = pam_fields(msg)
        return (SU_FAILURE, values) if shape is FAILURE else (shape, values)
    m = _SU.match(msg) or _SU_OLD.match(msg) or _SU_SUCCESS.match(msg)
    if not m:
        return AUTH, ()
    groups = m.groupdict()
    failed = bool(groups.get("failed")) or groups.get("sign") == "-"
    return SU, (
        ["info"] if failed else ["start"],
        "failure" if failed else "success",
        groups["user"],
        groups["target"],
        groups.get("tty"),
    )


__all__ = ["su_fields", "sudo_fields"]
