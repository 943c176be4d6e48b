"""OpenSSH server lines (auth.log / secure) to ECS ``system.auth``: logins, invalid users, disconnects.

Called by the syslog parser for program ``sshd`` (and ``sshd-session``, OpenSSH 9.8+); only the message
body is read here, into a :class:`~canh.events.Shape` and its values that the header completes.
"""

from __future__ import annotations

import re

from canh.collectors.addresses import is_ip
from canh.collectors.pam import AUTH, pam_fields
from canh.events import OPTIONAL, VALUE, Shaped

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

# Where the peer goes: source.ip (+ port) for an address, source.domain for a name.
_PEER_FIELDS = {"source.ip": OPTIONAL, "source.port": OPTIONAL, "source.domain": OPTIONAL}
_ATTEMPT = {
    "event.category": ["authentication"],
    "event.type": ["info"],
    "event.action": "ssh_login",
    "event.outcome": "failure",
    "user.name": VALUE,
}
# One shape per kind of line; values: user (when named), the method for logins, then the peer.
ACCEPTED = AUTH | {
    "event.category": ["authentication"],
    "event.type": ["start"],
    "event.action": "ssh_login",
    "event.outcome": "success",
    "user.name": VALUE,
    "system.auth.ssh.method": VALUE,
    "system.auth.ssh.event": "Accepted",
    **_PEER_FIELDS,
}
FAILED = AUTH | {
    **_ATTEMPT,
    "system.auth.ssh.method": VALUE,
    "system.auth.ssh.event": "Failed",
    **_PEER_FIELDS,
}
INVALID = AUTH | {
    **_ATTEMPT,
    "event.action": "ssh_invalid_user",
    "system.auth.ssh.event": "Invalid",
    **_PEER_FIELDS,
}
MAX_TRIES = AUTH | {**_ATTEMPT, "system.auth.ssh.event": "Failed", **_PEER_FIELDS}
NOT_ALLOWED = AUTH | {**_ATTEMPT, "system.auth.ssh.event": "NotAllowed", **_PEER_FIELDS}
DISCONNECT = AUTH | {
    "event.category": ["authentication"],
    "event.type": ["end"],
    "event.action": "ssh_disconnect",
    "user.name": OPTIONAL,
    "system.auth.ssh.event": VALUE,
    **_PEER_FIELDS,
}
PEER = AUTH | {"source.ip": VALUE}


_Peer = tuple[str | None, int | None, str | None]
_NO_PEER: _Peer = (None, None, None)
_PEERS: dict[str, _Peer] = {}  # a peer as written -> its fields without a port


def _peer(ip: str) -> _Peer:
    address = ip[7:] if ":" in ip and ip.startswith("::ffff:") and "." in ip else ip
    peer = (address, None, None) if is_ip(address) else (None, None, address)
    if len(ip) <= 64:
        if len(_PEERS) >= 65_536:
            _PEERS.clear()
        _PEERS[ip] = peer
    return peer


def _source(ip: str | None, port: str | None) -> _Peer:
    """(source.ip, source.port, source.domain) of a peer as written."""
    if not ip:
        return _NO_PEER
    # Remembered by the text (a brute force names the same peers over and over), the port apart.
    peer = _PEERS.get(ip) or _peer(ip)
    if port and peer[0] is not None and len(port) <= 5:
        return peer[0], int(port), None
    return peer


def _disconnect(m: re.Match[str]) -> Shaped:
    kind, user, user2, ip, port = m.groups()
    return DISCONNECT, (user or user2, "Disconnected" if kind[0] != "C" else "Closed", *_source(ip, port))


def sshd_fields(msg: str) -> Shaped:
    """The ``system.auth`` fields of an sshd message body (the syslog header completes the event)."""
    first = msg[:1]
    if first == "[" or first == "m":
        if first == "[":
            msg = _SOLARIS_ID.sub("", msg)
        if msg.startswith("message repeated"):
            m = _REPEATED.match(msg)
            if m:
                msg = m.group(2)
        first = msg[:1]
    if (first == "F" and msg.startswith("Failed ")) or (first == "A" and msg.startswith("Accepted ")):
        m = _LOGIN.match(msg)
        if m:
            ev, method, _invalid, user, ip, port = m.groups()
            shape = ACCEPTED if ev == "Accepted" else FAILED
            # _source inline for the commonest lines (ip is never empty here).
            peer = _PEERS.get(ip) or _peer(ip)
            if port and peer[0] is not None and len(port) <= 5:
                return shape, (user, _METHODS.get(method, method), peer[0], int(port), None)
            return shape, (user, _METHODS.get(method, method), *peer)
    # Each test starts with the first letter: most lines get past the ones not theirs in one step.
    if first in "Ii" and "nvalid user " in msg and (msg.startswith("Invalid") or msg.startswith("invalid")):
        m = _INVALID.match(msg)
        if m:
            user, ip, port = m.groups()
            return INVALID, (user, *_source(ip, port))
    if first in "RDC":
        m = _DISCONNECT.match(msg)
        if m:
            return _disconnect(m)
    if first == "e" and msg.startswith("error: "):
        m = _PAM_FAIL.match(msg)
        if m:
            return FAILED, (m.group("user"), "keyboard-interactive", *_source(m.group("host"), None))
        msg = msg[7:]
        first = msg[:1]
        if first in "RDC":
            m = _DISCONNECT.match(msg)
            if m:
                return _disconnect(m)
    if first == "m" and msg.startswith("maximum authentication"):
        m = _MAX_TRIES.match(msg)
        if m:
            user, ip, port = m.groups()
            return MAX_TRIES, (user, *_source(ip, port))
    if first == "U" and msg.startswith("User ") and " not allowed" in msg:
        m = _NOT_ALLOWED.match(msg)
        if m:
            return NOT_ALLOWED, (m.group("user"), *_source(m.group("ip"), None))
    if first in "p(a" and (
        msg.startswith("pam_unix(")
        or msg.startswith("(pam_unix)")
        or msg.startswith("authentication failure")
    ):
        return pam_fields(msg)
    if first == "P" and msg.startswith("PAM ") and "more authentication failure" in msg:
        return pam_fields(msg.replace("more authentication failures;", "authentication failure;", 1))
    # Anything else naming a peer ("Did not receive identification string from IP", "Unable to
    # negotiate with IP", "reverse mapping checking getaddrinfo for HOST [IP]"): keep the address.
    for m in _PEER.finditer(msg):
        if is_ip(m.group(1)):
            return PEER, (m.group(1),)
    return AUTH, ()


__all__ = ["sshd_fields"]
