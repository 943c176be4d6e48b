"""OpenSSH server lines (auth.log / secure) to ECS ``system.auth``: logins, invalid users, disconnects.

Called by the syslog parser for program ``sshd`` (and ``sshd-session``, OpenSSH 9.8+) with the
event already holding the header fields; only the message body is read here.
"""

from __future__ import annotations

import re

from canh.collectors.addresses import is_ip
from canh.collectors.pam import enrich_pam

from canh.events import Event

# "Accepted password for root from 1.2.3.4 port 22 ssh2", "Failed publickey for invalid user x from ..."
_LOGIN = re.compile(
    r"(?P<ev>Accepted|Failed) (?P<method>[\w-]+)(?:/\w+)? for (?P<invalid>invalid user )?(?P<user>.*?) "
    r"from (?P<ip>[^\s]+)(?: port (?P<port>\d+))?"
)
_INVALID = re.compile(r"[Ii]nvalid user (?P<user>.*?) from (?P<ip>[^\s]+)(?: port (?P<port>\d+))?")
# "Received disconnect from IP port N:11: bye [preauth]", "Disconnected from invalid user x IP port N",
# "Connection closed by authenticating user root IP port N [preauth]", "Connection closed by IP port N"
_DISCONNECT = re.compile(
    r"(?P<ev>Received disconnect|Disconnected|Disconnecting|Connection closed|Connection reset) (?:(?:from|by) )?"
    r"(?:(?:invalid|authenticating) user (?P<user>.*?) |user (?P<user2>\S+) )?(?P<ip>[0-9A-Fa-f.:]+[0-9A-Fa-f])"
    r"(?: port (?P<port>\d+))?"
)
_MAX_TRIES = re.compile(
    r"maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.*?) from (?P<ip>\S+)(?: port (?P<port>\d+))?"
)
_PAM_FAIL = re.compile(
    r"error: PAM: [Aa]uthentication (?:failure|error) for (?:illegal user )?(?P<user>.*?) from (?P<host>\S+)"
)
_NOT_ALLOWED = re.compile(r"User (?P<user>\S+) from (?P<ip>\S+) not allowed")
_PEER = re.compile(r"(?:\[|(?:from|FROM|with|for) )(?:::ffff:)?([0-9A-Fa-f.:]*[0-9A-Fa-f])\b")
_SOLARIS_ID = re.compile(r"^\[ID \d+ [\w.]+\] ")
_REPEATED = re.compile(r"^message repeated (\d+) times: \[ ?(.*?) ?\]$")

_METHODS = {"password": "password", "publickey": "publickey", "keyboard-interactive": "keyboard-interactive"}


def _port(text: str | None) -> int | None:
    return int(text) if text and len(text) <= 5 else None


def _source(ip: str | None, port: str | None) -> dict[str, object]:
    if not ip:
        return {}
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[7:]
    if is_ip(ip):
        return {"source.ip": ip, "source.port": _port(port)}
    return {"source.domain": ip}


def _disconnect(ev: Event, m: re.Match[str], out: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "event.category": ["authentication"],
        "event.type": ["end"],
        "event.action": "ssh_disconnect",
        "user.name": m.group("user") or m.group("user2"),
        "system.auth.ssh.event": "Disconnected" if m.group("ev")[0] != "C" else "Closed",
    }
    fields.update(_source(m.group("ip"), m.group("port")))
    out.update(fields)


def enrich_sshd(ev: Event, msg: str, out: dict[str, object]) -> None:
    """Fill ``system.auth`` fields of an sshd line into ``ev`` (header fields already set)."""
    ev["event"]["dataset"] = "system.auth"
    ev["event"]["module"] = "system"
    if msg.startswith("["):
        msg = _SOLARIS_ID.sub("", msg)
    if msg.startswith("message repeated"):
        m = _REPEATED.match(msg)
        if m:
            msg = m.group(2)
    first = msg[:1]
    if first in "AF" and (msg.startswith("Accepted ") or msg.startswith("Failed ")):
        m = _LOGIN.match(msg)
        if m:
            ok = m.group("ev") == "Accepted"
            method = m.group("method")
            fields: dict[str, object] = {
                "event.category": ["authentication"],
                "event.type": ["start"] if ok else ["info"],
                "event.action": "ssh_login",
                "event.outcome": "success" if ok else "failure",
                "user.name": m.group("user"),
                "system.auth.ssh.method": _METHODS.get(method, method),
                "system.auth.ssh.event": m.group("ev"),
            }
            fields.update(_source(m.group("ip"), m.group("port")))
            out.update(fields)
            return
    if "nvalid user " in msg and (msg.startswith("Invalid") or msg.startswith("invalid")):
        m = _INVALID.match(msg)
        if m:
            fields = {
                "event.category": ["authentication"],
                "event.type": ["info"],
                "event.action": "ssh_invalid_user",
                "event.outcome": "failure",
                "user.name": m.group("user"),
                "system.auth.ssh.event": "Invalid",
            }
            fields.update(_source(m.group("ip"), m.group("port")))
            out.update(fields)
            return
    if first in "RDC":
        m = _DISCONNECT.match(msg)
        if m:
            _disconnect(ev, m, out)
            return
    if first == "e" and msg.startswith("error: "):
        m = _PAM_FAIL.match(msg)
        if m:
            fields = {
                "event.category": ["authentication"],
                "event.type": ["info"],
                "event.action": "ssh_login",
                "event.outcome": "failure",
                "user.name": m.group("user"),
                "system.auth.ssh.method": "keyboard-interactive",
                "system.auth.ssh.event": "Failed",
            }
            fields.update(_source(m.group("host"), None))
            out.update(fields)
            return
        msg = msg[7:]
        first = msg[:1]
        if first in "RDC":
            m = _DISCONNECT.match(msg)
            if m:
                _disconnect(ev, m, out)
                return
    if msg.startswith("maximum authentication"):
        m = _MAX_TRIES.match(msg)
        if m:
            fields = {
                "event.category": ["authentication"],
                "event.type": ["info"],
                "event.action": "ssh_login",
                "event.outcome": "failure",
                "user.name": m.group("user"),
                "system.auth.ssh.event": "Failed",
            }
            fields.update(_source(m.group("ip"), m.group("port")))
            out.update(fields)
            return
    if msg.startswith("User ") and " not allowed" in msg:
        m = _NOT_ALLOWED.match(msg)
        if m:
            fields = {
                "event.category": ["authentication"],
                "event.type": ["info"],
                "event.action": "ssh_login",
                "event.outcome": "failure",
                "user.name": m.group("user"),
                "system.auth.ssh.event": "NotAllowed",
            }
            fields.update(_source(m.group("ip"), None))
            out.update(fields)
            return
    if (
        msg.startswith("pam_unix(")
        or msg.startswith("(pam_unix)")
        or msg.startswith("authentication failure")
    ):
        enrich_pam(ev, msg, out)
        return
    if msg.startswith("PAM ") and "more authentication failure" in msg:
        enrich_pam(ev, msg.replace("more authentication failures;", "authentication failure;", 1), out)
        return
    # Anything else naming a peer ("Did not receive identification string from IP", "Unable to
    # negotiate with IP", "reverse mapping checking getaddrinfo for HOST [IP]"): keep the address.
    for m in _PEER.finditer(msg):
        if is_ip(m.group(1)):
            out.update({"source.ip": m.group(1)})
            return


__all__ = ["enrich_sshd"]
