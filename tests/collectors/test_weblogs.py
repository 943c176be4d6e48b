"""nginx/Apache access and error lines: request split into url.* and http.*, vendor from the file."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.registry import detect, get_parser
from canh.errors import InputError
from canh.events import format_ts
from tests.collectors.parsing import ctx, fields, parse

SQLMAP = (
    '45.95.147.236 - - [21/Nov/2026:03:21:09 +0700] "GET /tra-cuu-ho-so.php?ma=1%27%20AND%201=1--%20- HTTP/1.1" '
    '500 1532 "-" "sqlmap/1.8.5#stable (https://sqlmap.org)"'
)


def test_combined_line_to_ecs() -> None:
    ev = parse(SQLMAP, fmt="web", source="/var/log/nginx/access.log")
    assert fields(
        ev, "event.dataset", "event.module", "event.category", "event.outcome", "source.ip", "http.request.method",
        "http.version", "url.original", "url.path", "url.query", "url.extension", "http.response.status_code",
        "http.response.body.bytes", "http.request.referrer", "user_agent.original",
    ) == {
        "event.dataset": "nginx.access",
        "event.module": "nginx",
        "event.category": ["web"],
        "event.outcome": "failure",
        "source.ip": "45.95.147.236",
        "http.request.method": "GET",
        "http.version": "1.1",
        "url.original": "/tra-cuu-ho-so.php?ma=1%27%20AND%201=1--%20-",
        "url.path": "/tra-cuu-ho-so.php",
        "url.query": "ma=1%27%20AND%201=1--%20-",
        "url.extension": "php",
        "http.response.status_code": 500,
        "http.response.body.bytes": 1532,
        "http.request.referrer": None,
        "user_agent.original": "sqlmap/1.8.5#stable (https://sqlmap.org)",
    }  # fmt: skip
    assert ev["@timestamp"] == "2026-11-20T20:21:09.000Z"


def test_vendor_from_path_or_format() -> None:
    line = '10.0.0.1 - - [21/Nov/2026:03:21:09 +0700] "GET / HTTP/1.1" 200 10'
    assert parse(line, fmt="web", source="/var/log/httpd/access_log")["event"]["dataset"] == "apache.access"
    assert parse(line, fmt="web", source="/var/log/apache2/access.log")["event"]["dataset"] == "apache.access"
    assert parse(line, fmt="apache", source="/srv/logs/a.log")["event"]["dataset"] == "apache.access"
    assert parse(line, fmt="nginx", source="/var/log/apache2/x.log")["event"]["dataset"] == "nginx.access"


def test_common_format_dash_size_ipv6_and_escaped_quotes() -> None:
    ev = parse(
        '2402:800:63b5:26::49 - admin [11/Jul/2018:08:41:28 +0300] "GET /manager HTTP/1.1" 302 -', fmt="web"
    )
    assert fields(ev, "source.ip", "user.name", "http.response.status_code", "http.response.body.bytes") == {
        "source.ip": "2402:800:63b5:26::49",
        "user.name": "admin",
        "http.response.status_code": 302,
        "http.response.body.bytes": None,
    }
    esc = parse(
        '1.2.3.4 - - [11/Jul/2018:08:41:28 +0300] "GET /a?q=\\"x\\" HTTP/1.1" 404 5 "-" "curl \\"7\\""',
        fmt="web",
    )
    assert esc["url"]["query"] == 'q="x"'
    assert esc["user_agent"]["original"] == 'curl "7"'


def test_junk_request_is_kept_not_guessed() -> None:
    ev = parse('1.2.3.4 - - [21/Nov/2026:03:21:09 +0700] "\\x16\\x03\\x01\\x02" 400 166 "-" "-"', fmt="web")
    assert ev["url"]["original"] == "\\x16\\x03\\x01\\x02"
    assert "http" not in ev or "request" not in ev["http"]


def test_nginx_error_with_client_and_request() -> None:
    ev = parse(
        '2026/11/21 03:22:10 [error] 2865#0: *66647 open() "/usr/share/nginx/html/uploads/ho-so/anh-cccd.php" failed '
        "(2: No such file or directory), client: 45.95.147.236, server: congthongtin.example.gov.vn, "
        'request: "POST /uploads/ho-so/anh-cccd.php HTTP/1.1", host: "congthongtin.example.gov.vn"',
        fmt="web",
        source="/var/log/nginx/error.log",
    )
    assert fields(ev, "event.dataset", "log.level", "source.ip", "http.request.method", "url.path") == {
        "event.dataset": "nginx.error",
        "log.level": "error",
        "source.ip": "45.95.147.236",
        "http.request.method": "POST",
        "url.path": "/uploads/ho-so/anh-cccd.php",
    }
    assert ev["@timestamp"] == "2026-11-20T20:22:10.000Z"
    assert ev["message"].startswith("*66647 open()")


def test_apache_error_22_and_24() -> None:
    old = parse(
        "[Thu Jul 11 01:21:43 2013] [error] [client 194.228.20.113] user dsfasdf not found: /", fmt="web"
    )
    assert fields(old, "event.dataset", "log.level", "source.ip", "message") == {
        "event.dataset": "apache.error",
        "log.level": "error",
        "source.ip": "194.228.20.113",
        "message": "user dsfasdf not found: /",
    }
    new = parse(
        "[Sat Nov 21 03:22:10.123456 2026] [core:error] [pid 1234:tid 140] [client 10.1.1.1:5678] AH00126: Invalid URI",
        fmt="web",
    )
    assert fields(new, "log.level", "source.ip", "source.port", "process.pid", "apache.error.module") == {
        "log.level": "error",
        "source.ip": "10.1.1.1",
        "source.port": 5678,
        "process.pid": 1234,
        "apache.error.module": "core",
    }


def test_detection_and_rejects() -> None:
    assert detect([SQLMAP] * 10) == "web"
    assert (
        detect(
            ["[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"]
        )
        == "web"
    )
    with pytest.raises(InputError):
        get_parser("web").parse("hello world", ctx())


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_rejected_cleanly(text: str) -> None:
    for candidate in (
        text,
        f'1.2.3.4 - - [21/Nov/2026:03:21:09 +0700] "{text}" 200 1',
        f"[{text}] [error] {text}",
    ):
        with contextlib.suppress(InputError):
            get_parser("web").parse(candidate, ctx())


_QUOTED_PIECES = st.sampled_from(
    ['"', "\\", '\\"', " ", "-", "a", "GET /x HTTP/1.1", "200", "12", "[", "]", "\n"]
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _stamp(when: datetime, offset: str) -> str:
    return f"{when.day:02d}/{_MONTHS[when.month - 1]}/{when:%Y:%H:%M:%S} {offset}"


@settings(max_examples=400, deadline=None)
@given(st.lists(_QUOTED_PIECES, max_size=12).map("".join), st.lists(_QUOTED_PIECES, max_size=12).map("".join))
def test_the_fast_access_pattern_reads_lines_without_backslashes_alike(req: str, rest: str) -> None:
    from canh.collectors.weblogs import _ACCESS, _ACCESS_PLAIN

    line = f'1.2.3.4 - - [21/Nov/2026:03:21:09 +0700] "{req}" 200 1 "{rest}" "ua"{rest}'
    if "\\" in line:
        return
    full, plain = _ACCESS.match(line), _ACCESS_PLAIN.match(line)
    assert (full and (full.span(), full.groups())) == (plain and (plain.span(), plain.groups()))


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2199, 12, 30)),
    st.sampled_from(["+0700", "-0500", "+0000", "+0530", "-0930", "+1400"]),
)
def test_access_stamps_from_the_hour_cache_are_the_stamps_computed_whole(when: datetime, offset: str) -> None:
    from canh.collectors.weblogs import _access_ts

    text = _stamp(when, offset)
    sign = 1 if offset[0] == "+" else -1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    expected = format_ts(when.replace(microsecond=0, tzinfo=zone))
    # First reading fills the cache, the next ones (same hour, other minutes) read from it.
    assert _access_ts(text, UTC) == expected
    assert _access_ts(text, UTC) == expected
    other = when.replace(minute=(when.minute + 17) % 60, second=(when.second + 31) % 60, microsecond=0)
    assert _access_ts(_stamp(other, offset), UTC) == format_ts(other.replace(tzinfo=zone))


def test_vhost_in_front_of_an_access_line_is_the_server_asked() -> None:
    ev = parse(
        "dichvucong.example.gov.vn:443 " + SQLMAP,
        fmt="web",
        source="/var/log/apache2/other_vhosts_access.log",
    )
    assert fields(
        ev,
        "source.ip",
        "user.name",
        "url.domain",
        "url.port",
        "destination.domain",
        "destination.port",
        "url.path",
    ) == {
        "source.ip": "45.95.147.236",
        "user.name": None,
        "url.domain": "dichvucong.example.gov.vn",
        "url.port": 443,
        "destination.domain": "dichvucong.example.gov.vn",
        "destination.port": 443,
        "url.path": "/tra-cuu-ho-so.php",
    }


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 2**64 - 1, 2**64])))
def test_access_event_id_is_event_id_of_source_and_position(position: int) -> None:
    from canh.events import event_id

    parser = get_parser("web")  # one parser across sources: its per-batch id prefix must follow
    for source in ("/var/log/nginx/access.log", "/var/log/nginx/other.log"):
        ev = parser.parse(SQLMAP, ctx(source, position))
        assert ev is not None
        assert ev["event"]["id"] == event_id(source, position)
