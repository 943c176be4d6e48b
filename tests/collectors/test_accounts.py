"""Account changes (useradd, usermod, groupadd, passwd) become iam events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import get_parser
from tests.collectors.parsing import ctx, fields, parse


def test_new_user() -> None:
    ev = parse(
        "Nov 21 02:27:30 bastion-01 useradd[23549]: new user: name=support2, UID=1011, GID=1011, "
        "home=/home/support2, shell=/bin/bash, from=/dev/pts/3"
    )
    assert fields(
        ev, "event.dataset", "event.category", "event.type", "event.action", "user.name", "user.target.name"
    ) == {
        "event.dataset": "system.auth",
        "event.category": ["iam"],
        "event.type": ["user", "creation"],
        "event.action": "useradd",
        "user.name": "support2",
        "user.target.name": "support2",
    }
    assert ev["user"]["id"] == "1011"


def test_user_added_to_group() -> None:
    ev = parse("Nov 21 02:27:35 bastion-01 usermod[23550]: add 'support2' to group 'sudo'")
    assert fields(ev, "event.type", "event.action", "user.name", "group.name") == {
        "event.type": ["user", "change"],
        "event.action": "usermod",
        "user.name": "support2",
        "group.name": "sudo",
    }


def test_new_group() -> None:
    ev = parse(
        "Nov 21 02:27:29 bastion-01 groupadd[23548]: group added to /etc/group: name=support2, GID=1011"
    )
    assert fields(ev, "event.type", "event.action", "group.name", "group.id") == {
        "event.type": ["group", "creation"],
        "event.action": "groupadd",
        "group.name": "support2",
        "group.id": "1011",
    }


def test_password_changed() -> None:
    ev = parse(
        "Nov 21 02:28:00 bastion-01 passwd[23551]: pam_unix(passwd:chauthtok): password changed for support2"
    )
    assert fields(ev, "event.type", "event.action", "user.target.name") == {
        "event.type": ["user", "change"],
        "event.action": "passwd",
        "user.target.name": "support2",
    }


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["useradd", "usermod", "groupadd", "passwd", "userdel"]), st.text(max_size=200))
def test_any_body_parses_without_raising(prog: str, body: str) -> None:
    ev = get_parser("syslog").parse(f"Nov 21 02:10:01 h {prog}[9]: {body}", ctx())
    assert ev is None or ev["event"]["dataset"] == "system.auth"
