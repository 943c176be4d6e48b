"""sshd lines of auth.log become system.auth events the SSH rules can count."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import get_parser
from tests.collectors.parsing import ctx, fields, parse


def test_failed_password_for_invalid_user() -> None:
    ev = parse(
        "Nov 21 02:10:01 bastion-01 sshd[21253]: Failed password for invalid user test from 185.220.101.47 port 64609 ssh2"
    )
    assert fields(ev, "event.dataset", "event.module", "event.action", "event.outcome", "event.category") == {
        "event.dataset": "system.auth",
        "event.module": "system",
        "event.action": "ssh_login",
        "event.outcome": "failure",
        "event.category": ["authentication"],
    }
    assert fields(
        ev, "user.name", "source.ip", "source.port", "process.name", "process.pid", "host.name"
    ) == {
        "user.name": "test",
        "source.ip": "185.220.101.47",
        "source.port": 64609,
        "process.name": "sshd",
        "process.pid": 21253,
        "host.name": "bastion-01",
    }
    assert fields(ev, "system.auth.ssh.method", "system.auth.ssh.event") == {
        "system.auth.ssh.method": "password",
        "system.auth.ssh.event": "Failed",
    }
    # Local time of the source (UTC+7 by default) stored as UTC.
    assert ev["@timestamp"] == "2026-11-20T19:10:01.000Z"


def test_accepted_publickey_is_a_successful_login() -> None:
    ev = parse(
        "Nov 21 02:24:41 bastion-01 sshd[21990]: Accepted publickey for deploy from 10.10.1.5 port 51122 ssh2: "
        "RSA SHA256:3k1vZ0aQ"
    )
    assert fields(
        ev, "event.action", "event.outcome", "user.name", "source.ip", "system.auth.ssh.method"
    ) == {
        "event.action": "ssh_login",
        "event.outcome": "success",
        "user.name": "deploy",
        "source.ip": "10.10.1.5",
        "system.auth.ssh.method": "publickey",
    }


def test_keyboard_interactive_pam_and_ipv6() -> None:
    ev = parse(
        "Apr 30 01:42:12 mac sshd[2554]: Failed keyboard-interactive/pam for invalid user jamedds from 2001:db8::7 port 33723 ssh2"
    )
    assert fields(ev, "system.auth.ssh.method", "source.ip", "user.name") == {
        "system.auth.ssh.method": "keyboard-interactive",
        "source.ip": "2001:db8::7",
        "user.name": "jamedds",
    }


def test_invalid_user_and_preauth_disconnects() -> None:
    inv = parse("Nov 21 02:10:00 bastion-01 sshd[21250]: Invalid user oracle from 185.220.101.47 port 40022")
    assert fields(inv, "event.action", "event.outcome", "user.name", "source.port") == {
        "event.action": "ssh_invalid_user",
        "event.outcome": "failure",
        "user.name": "oracle",
        "source.port": 40022,
    }
    closed = parse(
        "Nov 21 02:10:02 bastion-01 sshd[21250]: Connection closed by invalid user oracle 185.220.101.47 port 40022 [preauth]"
    )
    assert fields(closed, "event.action", "user.name", "source.ip") == {
        "event.action": "ssh_disconnect",
        "user.name": "oracle",
        "source.ip": "185.220.101.47",
    }
    recv = parse(
        "Nov 21 03:00:00 bastion-01 sshd[3]: Received disconnect from 10.0.0.9 port 50000:11: disconnected by user"
    )
    assert fields(recv, "event.action", "source.ip", "source.port") == {
        "event.action": "ssh_disconnect",
        "source.ip": "10.0.0.9",
        "source.port": 50000,
    }


def test_hostname_instead_of_address_goes_to_source_domain() -> None:
    ev = parse(
        "May 29 20:56:52 imago sshd[28732]: error: PAM: Authentication failure for stefanor from example.com"
    )
    assert fields(ev, "event.outcome", "user.name", "source.ip", "source.domain") == {
        "event.outcome": "failure",
        "user.name": "stefanor",
        "source.ip": None,
        "source.domain": "example.com",
    }


def test_pam_failure_from_old_style_program_name() -> None:
    ev = parse(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
        "ruser= rhost=218.188.2.4  user=root"
    )
    assert fields(
        ev, "event.dataset", "process.name", "event.action", "event.outcome", "source.ip", "user.name"
    ) == {
        "event.dataset": "system.auth",
        "process.name": "sshd",
        "event.action": "authentication_failure",
        "event.outcome": "failure",
        "source.ip": "218.188.2.4",
        "user.name": "root",
    }


def test_repeated_message_and_openssh_9_8_session_process() -> None:
    ev = parse(
        "Nov 21 04:00:00 h sshd-session[7]: message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]"
    )
    assert fields(ev, "event.action", "user.name", "source.ip") == {
        "event.action": "ssh_login",
        "user.name": "root",
        "source.ip": "1.2.3.4",
    }


def test_other_sshd_lines_keep_their_message() -> None:
    ev = parse("Nov 21 04:00:00 h sshd[1]: Server listening on 0.0.0.0 port 22.")
    assert ev["event"]["dataset"] == "system.auth"
    assert ev["message"] == "Server listening on 0.0.0.0 port 22."
    assert "action" not in ev["event"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_sshd_body_parses_without_raising(body: str) -> None:
    ev = get_parser("syslog").parse(f"Nov 21 02:10:01 h sshd[1]: {body}", ctx())
    assert ev is None or ev["event"]["dataset"] == "system.auth"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(
        ["Failed password for ", "Accepted publickey for ", "Invalid user ", "Connection closed by "]
    ),
    st.text(max_size=80),
)
def test_prefixes_with_garbage_never_raise(prefix: str, rest: str) -> None:
    get_parser("syslog").parse(f"Nov 21 02:10:01 h sshd[1]: {prefix}{rest}", ctx())


_PEER_TEXTS = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.from_regex(r"\A(::ffff:)?[a-z0-9.:-]{1,20}\Z"),
)


@settings(max_examples=300, deadline=None)
@given(_PEER_TEXTS, st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,7}\Z")))
def test_peer_fields_are_the_same_read_first_or_remembered(peer: str, port: str | None) -> None:
    from canh.collectors.addresses import is_ip

    tail = f" port {port}" if port else ""
    line = f"Nov 21 02:10:01 h sshd[1]: Failed password for root from {peer}{tail} ssh2"
    first, again = parse(line), parse(line)  # the second names a peer already seen
    want_ip = peer[7:] if peer.startswith("::ffff:") and "." in peer else peer
    keys = ("source.ip", "source.port", "source.domain")
    if is_ip(want_ip):
        want = {"source.ip": want_ip, "source.port": int(port) if port and len(port) <= 5 else None}
        want["source.domain"] = None
    else:
        want = {"source.ip": None, "source.port": None, "source.domain": want_ip}
    assert fields(first, *keys) == fields(again, *keys) == want
