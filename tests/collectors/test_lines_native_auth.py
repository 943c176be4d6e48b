"""The compiled syslog/auth fast path gives exactly the event SyslogParser gives in Python, or None.

Compared as orjson text (key order and 1 vs "1" included) against a parser with the fast path off:
the bench's auth log, every line of the corpus logs, and generated lines of every shape the fast
path reads (odd users, IPv4/IPv6 peers, <PRI>, double spaces, year and DST edges, cut lines).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ingest_logs import NOW, auth_lines  # the lines the speed figures are measured on
from canh.collectors.registry import LineContext
from canh.collectors.syslog import SyslogParser, native_shapes
from canh.events import local_zone

pytestmark = pytest.mark.skipif(
    native_shapes() is None, reason="native line parser not built (or CANH_LINES_NATIVE=0)"
)

ZONES = ["Asia/Ho_Chi_Minh", "UTC", "Asia/Kolkata", "America/New_York"]
FAST = SyslogParser()
SLOW = SyslogParser(native=False)


def _ctx(source: str = "/var/log/auth.log", **kw: Any) -> LineContext:
    kw.setdefault("tz", local_zone("Asia/Ho_Chi_Minh"))
    kw.setdefault("now", NOW)
    return LineContext(source=source, position=kw.pop("position", 0), **kw)


def _check(line: str, ctx: LineContext) -> bool:
    """Whether the fast path took ``line``; fails when its event is not the Python parser's."""
    expected = SLOW.parse(line, ctx)
    fast = FAST.native_event(line, ctx)
    if fast is not None:
        assert orjson.dumps(fast) == orjson.dumps(expected), line
    # And through parse(), fast path or not.
    assert orjson.dumps(FAST.parse(line, ctx)) == orjson.dumps(expected), line
    return fast is not None


def test_the_bench_lines_are_all_read_natively_and_the_same() -> None:
    ctx = _ctx()
    lines = auth_lines(5000)
    taken = 0
    for i, line in enumerate(lines):
        ctx.position = i * 117
        taken += _check(line, ctx)
        taken += _check(line.rstrip("\n"), ctx)
    assert taken == 2 * len(lines)


def test_other_contexts_are_the_same() -> None:
    lines = auth_lines(300)
    for ctx in (
        _ctx("syslog://10.0.0.1", host="gw"),
        _ctx("syslog://10.0.0.1", host="", observer="collector01"),
        _ctx("/var/log/secure", path="/mnt/copy/secure", observer=""),
        _ctx("relay", tz=local_zone("UTC"), now=datetime(2027, 1, 1, 0, 5, tzinfo=UTC)),
    ):
        taken = 0
        for i, line in enumerate(lines):
            ctx.position = i
            taken += _check(line, ctx)
        assert taken == len(lines)


def test_positions_the_fast_path_leaves_to_python() -> None:
    line = auth_lines(1)[0]
    for position in (-1, 1 << 64, "record-7", True):
        ctx = _ctx(position=position)
        assert FAST.native_event(line, ctx) is None
        _check(line, ctx)


def test_every_corpus_line_is_the_same(corpus: Path) -> None:
    files = [p for p in sorted((corpus / "logs").rglob("*")) if p.is_file()]
    if not files:
        pytest.skip("no corpus logs")
    taken = total = 0
    for path in files:
        ctx = _ctx(str(path))
        for i, raw in enumerate(path.read_bytes().split(b"\n")):
            line = raw.decode("utf-8", "replace")
            ctx.position = i
            total += 1
            taken += _check(line, ctx)
    # The loghub OpenSSH and Linux logs alone are 4,000 lines the fast path reads.
    assert taken > 2000, (taken, total)


_NAME = st.text(
    st.sampled_from("abcxyzABC019_-.@$ ():=[]\\/'\"é"), min_size=0, max_size=12
) | st.sampled_from(["root", "admin", "invalid user x", "from", "a from b", "dead", "be ef"])
_IP = st.one_of(
    st.tuples(*[st.integers(0, 300)] * 4).map(lambda t: ".".join(map(str, t))),
    st.sampled_from(["::1", "2001:db8::7", "fe80::1%eth0", "::ffff:10.0.0.9", "2001:db8:::1", "abc",
                     "1.2.3", "01.2.3.4", "host.example.com", "10.0.0.1.", "dead:beef", "::ffff:host"]),
)  # fmt: skip
_PORT = st.one_of(st.integers(0, 999999).map(str), st.just(""))


@st.composite
def _body(draw: st.DrawFn) -> tuple[str, str]:
    user, ip, port = draw(_NAME), draw(_IP), draw(_PORT)
    p = f" port {port}" if port else ""
    prog = draw(st.sampled_from(["sshd", "sshd", "sshd-session", "sudo", "CRON", "systemd-logind", "su",
                                 "su(pam_unix)", "kernel", "useradd", "sshd(pam_unix)", "sudo(pam_unix)",
                                 "a=b", ""]))  # fmt: skip
    body = draw(
        st.sampled_from(
            [
                f"Failed password for {user} from {ip}{p} ssh2",
                f"Failed password for invalid user {user} from {ip}{p} ssh2",
                f"Failed keyboard-interactive/pam for {user} from {ip}{p} ssh2",
                f"Accepted publickey for {user} from {ip}{p} ssh2: RSA SHA256:xx",
                f"Invalid user {user} from {ip}{p}",
                f"invalid user {user} from {ip}{p}",
                f"Connection closed by authenticating user {user} {ip}{p} [preauth]",
                f"Connection closed by invalid user {user} {ip}{p} [preauth]",
                f"Connection closed by {ip}{p} [preauth]",
                f"Connection reset by {ip}{p}",
                f"Disconnected from user {user} {ip}{p}",
                f"Disconnected from invalid user {user} {ip}{p} [preauth]",
                f"Received disconnect from {ip}{p}:11: Bye Bye [preauth]",
                f"Disconnecting invalid user {user} {ip}{p}: Too many authentication failures",
                f"pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)",
                f"pam_unix(sshd:session): session closed for user {user}",
                f"pam_unix(sudo:session): session opened for user root by {user}(uid=0)",
                f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser={user} rhost={ip}  user={user}",
                f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}",
                f"pam_unix(cron:session): session closed for user {user}",
                f"  {user} : TTY=pts/1 ; PWD=/home/{user} ; USER=root ; COMMAND=/bin/ls ; echo {user}",
                f"{user} : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
                f"{user} : TTY=pts/0 ; PWD={user} ; USER={user}",
                f"Server listening on {ip}{p}.",
                f"Did not receive identification string from {ip}{p}",
                f"New session 5 of user {user}.",
                "message repeated 2 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
                f"error: maximum authentication attempts exceeded for {user} from {ip}{p} ssh2",
                f"User {user} from {ip} not allowed because not listed in AllowUsers",
                f"Removed session {user}.",
                f"reverse mapping checking getaddrinfo for {user} [{ip}] failed - POSSIBLE BREAK-IN ATTEMPT!",
                f"error: Received disconnect from {ip}{p}:11: Bye [preauth]",
                f"error: {user} from {ip}",
                f"input_userauth_request: invalid user {user} [preauth]",
                f"Unable to negotiate with {ip}{p}: no matching key exchange method found",
                f"Connection from {ip}{p} on 10.0.0.1 port 22",
                f"maximum authentication attempts exceeded for invalid user {user} from {ip}{p} ssh2 [preauth]",
                f"maximum authentication attempts exceeded for {user}",
                "Disconnecting: Too many authentication failures [preauth]",
                f"fatal: Read from socket failed: Connection reset by peer [{ip}]",
                f"Failed password for invalid user from {ip}{p}",
                f"Accepted password for {user} with {ip}x for [{ip}]",
                f"pam_unix(su:auth): authentication failure; logname={user} uid=1000 euid=0 tty=pts/0 ruser={user} rhost=  user=root",
                f"pam_unix(su:session): session opened for user root by {user}(uid=1000)",
                f"session opened for user {user} by (uid=0)",
                f"(to root) {user} on pts/0",
                f"FAILED SU (to root) {user} on pts/1",
                f"+ pts/0 {user}:root",
                f"Successful su for root by {user}",
                f"Kernel logging (proc) stopped. {user}",
                f"[UFW BLOCK] IN=eth0 OUT= MAC= SRC={ip} DST=10.0.0.1 LEN=40 PROTO=TCP SPT=1 DPT=22",
                f"SRC={ip} only",
            ]
        )
    )
    return prog, body


@st.composite
def _line(draw: st.DrawFn) -> str:
    pri = draw(st.sampled_from(["", "", "<13>", "<86>", "<999>", "<1234>", "<>"]))
    month = draw(st.sampled_from(["Jan", "Feb", "Mar", "Oct", "Nov", "Dec", "Foo"]))
    day = draw(st.integers(0, 32))
    day_text = draw(st.sampled_from([f"{day:2d}", f"{day:02d}", str(day)]))
    hh, mm, ss = draw(st.integers(0, 24)), draw(st.integers(0, 61)), draw(st.integers(0, 60))
    sep = draw(st.sampled_from([" ", " ", "  "]))
    host = draw(st.sampled_from(["srv-01 ", "srv-01 ", "", "10.0.0.2 ", "h:x ", "a[1] "]))
    prog, body = draw(_body())
    pid = draw(st.sampled_from(["", "[123]", "[0042]", "[]", "[x]", "[12345678901234567890]"]))
    colon = draw(st.sampled_from([": ", ":", " ", ":  "]))
    line = f"{pri}{month}{sep}{day_text} {hh:02d}:{mm:02d}:{ss:02d} {host}{prog}{pid}{colon}{body}"
    cut = draw(st.none() | st.integers(0, len(line)))
    if cut is not None:
        line = line[:cut]
    return line + draw(st.sampled_from(["", "", "\n", "\r\n", "\r", " "]))


_NOWS = st.sampled_from(
    [
        NOW,
        datetime(2027, 1, 1, 0, 30, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        datetime(2028, 2, 29, 12, tzinfo=UTC),
    ]
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _line(),
    st.sampled_from(ZONES),
    _NOWS,
    st.integers(0, 1 << 40),
    st.sampled_from([None, "", "gw"]),
    st.booleans(),
)
def test_generated_lines_are_the_same(
    line: str, zone: str, now: datetime, position: int, host: str | None, file: bool
) -> None:
    ctx = _ctx("/var/log/auth.log" if file else "syslog://10.1.1.1", tz=local_zone(zone), now=now,
               position=position, host=host)  # fmt: skip
    _check(line, ctx)


def test_hours_come_from_the_python_table_once() -> None:
    parser = SyslogParser()
    ctx = _ctx()
    calls: list[str] = []
    real = parser._hour_prefix

    def counted(hour: str, ctx: LineContext) -> str:
        calls.append(hour)
        return real(hour, ctx)

    parser._hour_prefix = counted
    for i, line in enumerate(auth_lines(200)):
        ctx.position = i
        assert parser.native_event(line, ctx) is not None
    assert calls == ["Nov 21 00"]
    # A new batch (a new reading time) keeps the table of its year and month.
    ctx2 = _ctx(now=NOW + timedelta(seconds=1))
    assert parser.native_event(auth_lines(1)[0], ctx2) is not None
    assert calls == ["Nov 21 00"]


def test_a_line_met_while_the_native_state_is_in_use_is_read_in_python() -> None:
    # Another thread can run while this one is in a Python callback (a new hour): its lines go to
    # Python, and a context pushed meanwhile leaves that batch to Python, rather than raise or wait.
    parser = SyslogParser()
    batch = _ctx()
    first, second = auth_lines(2)
    inner: list[Any] = []
    real = parser._hour_prefix

    def reentrant(hour: str, ctx: LineContext) -> str:
        if inner:  # the Python reads below need this hour too
            return real(hour, ctx)
        inner.append(parser.native_event(second, batch))
        inner.append(parser.parse(second, batch))
        other = _ctx(now=NOW + timedelta(hours=1))
        inner.append(parser.native_event(second, other))
        inner.append(parser.parse(second, other))
        return real(hour, ctx)

    parser._hour_prefix = reentrant
    event = parser.native_event(first, batch)
    assert event is not None
    assert inner[0] is None and inner[2] is None
    assert orjson.dumps(inner[1]) == orjson.dumps(SLOW.parse(second, batch))
    assert orjson.dumps(inner[3]) == orjson.dumps(SLOW.parse(second, _ctx(now=NOW + timedelta(hours=1))))
    assert orjson.dumps(event) == orjson.dumps(SLOW.parse(first, batch))
