"""The compiled web access line path gives exactly the event WebLogParser gives in Python, or None.

Compared as orjson text (key order and 200 vs "200" included) against a parser with the fast path
off: the bench's access log, every web log of the corpus, and generated lines of the shapes access
logs hold (methods, query strings, fragments, %-escapes, absolute URIs, "-" fields, IPv6, status and
zone edges, quotes and backslashes, cut lines, trailing \\r).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canh.collectors.registry import LineContext
from canh.collectors.weblogs import WebLogParser, _native_access
from canh.errors import CanhError
from canh.events import decode_line, local_zone

# The bench's own generator: the lines the speed figures are measured on.
_spec = importlib.util.spec_from_file_location(
    "bench_ingest_logs_web", Path(__file__).resolve().parents[2] / "bench" / "ingest_logs.py"
)
assert _spec is not None and _spec.loader is not None
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)
NOW: datetime = _bench.NOW

pytestmark = pytest.mark.skipif(
    _native_access() is None, reason="native line parser not built (or CANH_LINES_NATIVE=0)"
)

SLOW = WebLogParser(native=False)


def _ctx(source: str = "/var/log/nginx/access.log", **kw: Any) -> LineContext:
    kw.setdefault("tz", local_zone("Asia/Ho_Chi_Minh"))
    kw.setdefault("now", NOW)
    return LineContext(source=source, position=kw.pop("position", 0), **kw)


def _reference(line: str, ctx: LineContext) -> bytes | None:
    """The Python parser's event as orjson text; None when it refuses the line or gives no event."""
    try:
        ev = SLOW.parse(line, ctx)
    except (CanhError, ValueError, KeyError, IndexError, TypeError):
        return None
    return None if ev is None else orjson.dumps(ev)


def _check(line: str, ctx: LineContext, fast: WebLogParser | None = None) -> bool:
    """Whether the fast path took ``line``; fails when its event is not the Python parser's."""
    fast = fast or WebLogParser()
    ev = fast._native_context(line, ctx)  # the native answer alone, context pushed as parse does
    if ev is None:
        return False
    assert orjson.dumps(ev) == _reference(line, ctx), line
    return True


def test_every_bench_line_is_taken_and_equal() -> None:
    fast = WebLogParser()
    lines = _bench.access_lines(3000)
    ctx = _ctx()
    taken = 0
    for n, line in enumerate(lines):
        ctx.position = n * 211
        taken += _check(line, ctx, fast)
    # A fast path that says None to everything would pass the comparison: the bench's lines are its job.
    assert taken == len(lines)


def test_parse_goes_native_and_follows_context_changes() -> None:
    fast = WebLogParser()
    calls = 0
    real = fast._native

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def parse(self, line: str, position: Any) -> Any:
            nonlocal calls
            calls += 1
            return real.parse(line, position)

    fast._native = Counting()
    lines = _bench.access_lines(40)
    contexts = [
        _ctx(),
        _ctx(host="web-01", observer="collector"),
        _ctx("/srv/www/httpd/access_log", host="", observer=""),  # apache by path; "" host is no host
        _ctx("tcp:10.0.0.5:514", path=None),
        _ctx(now=datetime(2026, 12, 1, tzinfo=UTC)),
    ]
    for n, line in enumerate(lines):
        ctx = contexts[n % len(contexts)]
        ctx.position = n
        assert orjson.dumps(fast.parse(line, ctx)) == _reference(line, ctx), (line, ctx)
    assert calls == len(lines)


def test_positions_the_id_cannot_hold_are_left_to_python() -> None:
    line = _bench.access_lines(1)[0]
    for position in (-1, 1 << 64, "a:7", True):
        ctx = _ctx()
        ctx.position = position
        assert WebLogParser()._native_context(line, ctx) is None
    ctx = _ctx()
    ctx.position = (1 << 64) - 1
    assert _check(line, ctx)


def test_escaped_quotes_and_backslashes() -> None:
    base = '1.2.3.4 - - [21/Nov/2026:03:21:09 +0700] "GET /a HTTP/1.1" 200 10 "-" "curl/8"'
    for line in (
        base.replace("curl/8", 'curl/8 \\"x\\"'),
        base.replace("/a", '/a\\"b\\"c'),
        base.replace("/a", "c:\\boot.ini"),
        base.replace('"-"', '"\\"-\\""'),
        base.replace('"-"', '"\\xe4\\xe5"'),
        base.replace("curl/8", "x\\\\"),
    ):
        assert _check(line, _ctx()), line
    for line in (base.replace("curl/8", "x\\"), base.replace('"curl/8"', '"curl/8\\"')):
        _check(line, _ctx())  # an escape eating the closing quote: whatever Python reads, or None


def test_shapes_it_leaves_to_python() -> None:
    base = '1.2.3.4 - - [21/Nov/2026:03:21:09 +0700] "GET /a HTTP/1.1" 200 10 "-" "curl/8"'
    assert _check(base, _ctx())
    for line in (
        base.replace("curl/8", "cürl/8"),  # non-ASCII
        base.replace("curl/8", "curl\t8"),  # a control character
        base.replace("1.2.3.4 -", "example.gov.vn:443 1.2.3.4"),  # vhost in front
        base.replace("+0700", "GMT"),  # other stamp spellings
        base.replace("21/Nov", "21/nov"),
        base.replace("21/Nov/2026", "31/Nov/2026"),  # no such day: Python's error
        base.replace(" - - ", " - a [b ", 1),  # a user name holding " ["
        "[Sat Nov 21 03:21:09.123 2026] [core:error] [pid 42] [client 1.2.3.4:5] x",  # error log
        "",
        "   ",
    ):
        assert WebLogParser()._native_context(line, _ctx()) is None, line


@pytest.mark.parametrize("subpath", ["elastic-examples", "evtx-attack-samples", "fail2ban/logs"])
def test_corpus_web_logs(corpus: Path, subpath: str) -> None:
    folder = corpus / "logs" / subpath
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and _is_web_log(p.name)]
    assert files
    taken = total = 0
    fast = WebLogParser()
    for path in files:
        ctx = _ctx(str(path))
        for n, raw in enumerate(path.read_bytes().splitlines()):
            text, _bad = decode_line(raw)  # as canh ingest reads it
            ctx.position = n
            taken += _check(text, ctx, fast)
            total += 1
    if subpath == "elastic-examples":
        assert taken > 0.99 * total  # a real combined log: nearly all of it is the plain shape


def _is_web_log(name: str) -> bool:
    return name in ("apache_logs", "web_attack_and_isp_webshell_localhost_access_log.txt") or name.startswith(
        ("apache-", "nginx-")
    )


_OCTET = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["01", "256", "300", "00", ""]))
_IP = st.one_of(
    st.tuples(_OCTET, _OCTET, _OCTET, _OCTET).map(".".join),
    st.sampled_from(
        ["2402:800:63b5:26::49", "::1", "fe80::1", "::ffff:1.2.3.4", "1:2:3", "::ffff:01.2.3.4", "1::2::3"]
    ),
    st.sampled_from(["example.gov.vn", "-", "host_1", "1.2.3.4.5", "1.2.3"]),
)
_PART = st.text(st.sampled_from("abcXYZ09-_./%~+=&;,:@!$'()*#?[] \"\\"), max_size=12)
_TARGET = st.one_of(
    st.sampled_from(
        ["/", "/a/b.PHP", "/.env", "/a.", "/a/b.c/d", "/x.tar.gz?y=1", "/?", "/p?q#frag", "/a%20b.js", "*"]
    ),
    st.builds(lambda a, b: f"/{a}?{b}", _PART, _PART),
    st.builds(lambda a: f"http://example.gov.vn:8080/{a}", _PART),
)
_REQUEST = st.one_of(
    st.builds(
        lambda m, t, v: f"{m} {t} {v}",
        st.sampled_from(["GET", "POST", "HEAD", "PUT", "get", "M-SEARCH", "G3T", ""]),
        _TARGET,
        st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/", "http/1.1", "HTTP/1.1 x"]),
    ),
    st.builds(lambda m, t: f"{m} {t}", st.sampled_from(["GET", "get", "-", "OPTIONS"]), _TARGET),
    st.sampled_from(["-", "", "\\x16\\x03\\x01", "GET  / HTTP/1.1", 'GET /"a" HTTP/1.1']),
    _PART,
)
_STAMP = st.builds(
    lambda d, mon, y, h, m, s, z: f"{d}/{mon}/{y}:{h}:{m}:{s}{z}",
    st.sampled_from(["01", "21", "28", "29", "30", "31", "00", "1", "32"]),
    st.sampled_from(["Jan", "Feb", "Mar", "Nov", "Dec", "nov", "Foo"]),
    st.sampled_from(["2026", "2024", "1900", "2000", "2100", "0001", "9999", "0000"]),
    st.sampled_from(["00", "07", "23", "24"]),
    st.sampled_from(["00", "34", "59", "60"]),
    st.sampled_from(["00", "08", "59", "61"]),
    st.sampled_from(
        [" +0700", " -0330", " +0000", " +0530", " -1200", " +2359", " +0099", " +2400", " GMT", ""]
    ),
)
_QUOTED = st.one_of(
    st.sampled_from(["-", "", "https://www.google.com/", "Mozilla/5.0 (X11; Linux x86_64)", 'a \\"b\\" c']),
    _PART,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ip=_IP,
    ident=st.sampled_from(["-", "-", "-", "bob"]),
    user=st.sampled_from(["-", "-", "admin", "", "a b", "x [y", "nguyen.van.a"]),
    stamp=_STAMP,
    request=_REQUEST,
    status=st.sampled_from(["200", "304", "399", "400", "404", "500", "000", "999", "-", "20", "2000"]),
    size=st.sampled_from(["0", "10", "1532", "-", "", "18446744073709551616", "9" * 19, "007"]),
    pair=st.one_of(st.none(), st.tuples(_QUOTED, _QUOTED)),
    tail=st.sampled_from(["", "", "\r", "\r\n", "\n", " extra", ' "rt=0.1"', " "]),
    cut=st.one_of(st.none(), st.integers(0, 200)),
)
def test_generated_lines(
    ip: str,
    ident: str,
    user: str,
    stamp: str,
    request: str,
    status: str,
    size: str,
    pair: tuple[str, str] | None,
    tail: str,
    cut: int | None,
) -> None:
    line = f'{ip} {ident} {user} [{stamp}] "{request}" {status} {size}'
    if pair is not None:
        line += f' "{pair[0]}" "{pair[1]}"'
    line += tail
    if cut is not None:
        line = line[:cut]
    _check(line, _ctx(position=len(line)))


_V6_TEXT = st.text(st.sampled_from("0123456789abcdefABCDEF:.:"), min_size=1, max_size=46).filter(
    lambda t: ":" in t
)
_V6_REAL = st.builds(
    lambda n, ipv4_tail, exploded: (
        ipaddress.IPv6Address(n).exploded
        if exploded
        else str(ipaddress.IPv6Address(n))
        if not ipv4_tail
        else str(ipaddress.IPv6Address(n))[: str(ipaddress.IPv6Address(n)).rfind(":") + 1] + "10.0.0.1"
    ),
    st.one_of(
        st.integers(0, 2**128 - 1),
        st.integers(0, 2**32),
        st.sampled_from([2**128 - 1, 1 << 112, 0xFFFF << 32]),
    ),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=800, deadline=None)
@given(ip=st.one_of(_V6_TEXT, _V6_REAL))
def test_ipv6_clients_read_as_addresses_or_names_as_python_does(ip: str) -> None:
    line = f'{ip} - - [21/Nov/2026:03:21:09 +0700] "GET / HTTP/1.1" 200 10 "-" "curl/8"'
    assert _check(line, _ctx())  # source.ip or source.domain, as is_ip (ipaddress) decides


def test_switch_off_is_read_from_the_environment() -> None:
    code = "from canh.collectors.weblogs import WebLogParser; print(WebLogParser()._native is None)"
    env = {**os.environ, "CANH_LINES_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
