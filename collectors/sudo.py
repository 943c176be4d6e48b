"""sudo and su lines to ECS ``system.auth``: who ran what as whom, from where, and refusals."""

from __future__ import annotations

import re

from canh.collectors.pam import enrich_pam

from canh.events import Event

_SU = re.compile(r"^(?P<failed>FAILED SU |FAILED su )?\(to (?P<target>[^)]+)\) (?P<user>\S+) on (?P<tty>\S+)")
_SU_OLD = re.compile(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^\s:]+):(?P<target>\S+)")
_SU_SUCCESS = re.compile(r"^Successful su for (?P<target>\S+) by (?P<user>\S+)")


def enrich_sudo(ev: Event, msg: str, out: dict[str, object]) -> None:
    """``user : TTY=pts/0 ; PWD=/home/user ; USER=root ; COMMAND=/bin/id`` (and refusals) into ``ev``."""
    ev["event"]["dataset"] = "system.auth"
    ev["event"]["module"] = "system"
    if msg.startswith("pam_unix(") or msg.startswith("pam_"):
        enrich_pam(ev, msg, out)
        return
    user, sep, rest = msg.partition(" : ")
    if not sep:
        return
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
    failed = bool(problem)
    fields: dict[str, object] = {
        "event.category": ["authentication"] if failed else ["process"],
        "event.type": ["info"] if failed else ["start"],
        "event.action": "sudo",
        "event.outcome": "failure" if failed else "success",
        "user.name": user.strip() or None,
        "user.effective.name": kv.get("USER"),
        "process.command_line": command,
        "system.auth.sudo.command": command,
        "system.auth.sudo.tty": kv.get("TTY"),
        "system.auth.sudo.pwd": kv.get("PWD"),
        "system.auth.sudo.error": problem or None,
    }
    out.update(fields)


def enrich_su(ev: Event, msg: str, out: dict[str, object]) -> None:
    """``(to root) user on pts/0``, ``FAILED SU (to root) user on pts/0`` and PAM lines of su into ``ev``."""
    ev["event"]["dataset"] = "system.auth"
    ev["event"]["module"] = "system"
    if msg.startswith("pam_unix(") or msg.startswith("pam_"):
        enrich_pam(ev, msg, out)
        if out.get("event.action") == "authentication_failure":
            out.update({"event.action": "su"})
        return
    m = _SU.match(msg) or _SU_OLD.match(msg) or _SU_SUCCESS.match(msg)
    if not m:
        return
    groups = m.groupdict()
    failed = bool(groups.get("failed")) or groups.get("sign") == "-"
    out.update(
        {
            "event.category": ["authentication"],
            "event.type": ["info"] if failed else ["start"],
            "event.action": "su",
            "event.outcome": "failure" if failed else "success",
            "user.name": groups["user"],
            "user.effective.name": groups["target"],
            "system.auth.su.tty": groups.get("tty"),
        },
    )


__all__ = ["enrich_su", "enrich_sudo"]
