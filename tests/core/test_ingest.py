"""`canh ingest` as a user runs it: idempotent, searchable, and bad input never loses good events."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

SYSLOG = (
    "Nov 22 08:15:01 web-01 sshd[123]: Failed password for root from 203.0.113.5 port 51234 ssh2\n"
    "Nov 22 08:15:03 web-01 sshd[123]: Accepted password for admin from 203.0.113.5 port 51240 ssh2\n"
    "<34>1 2026-11-22T01:20:00.123Z portal-02 nginx - - - GET /index.php?id=1 HTTP/1.1\n"
)


def _ecs_line(ts: str, message: str, **fields: object) -> str:
    return json.dumps({"@timestamp": ts, "message": message, **fields}, ensure_ascii=False) + "\n"


def test_ingest_twice_stores_each_event_once(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "auth.log"
    log.write_text(SYSLOG, encoding="utf-8")
    first = canh.json("ingest", str(log))[0]
    assert (first["written"], first["duplicates"], first["problems"]) == (3, 0, [])
    second = canh.json("ingest", str(log))[0]
    assert (second["written"], second["duplicates"]) == (0, 3)
    assert canh.json("events", "search", "*", "--since", "3650d", "--count") == [{"count": 3}]


def test_search_by_field_and_by_text(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "ecs.jsonl"
    data.write_text(
        _ecs_line(
            "2026-11-22T01:00:00Z",
            "Đăng nhập thất bại cho root",
            **{"source.ip": "203.0.113.5", "user": {"name": "root"}},
        )
        + _ecs_line(
            "2026-11-22T01:00:05Z",
            "Accepted publickey for deploy",
            **{"source.ip": "10.0.0.7", "user": {"name": "deploy"}},
        ),
        encoding="utf-8",
    )
    canh("ingest", str(data), check=True)
    by_field = canh.json("events", "search", "source.ip:203.0.113.0/24", "--since", "3650d")
    assert [e["user"]["name"] for e in by_field] == ["root"]
    by_text = canh.json("events", "search", "thất bại", "--since", "3650d")
    assert [e["message"] for e in by_text] == ["Đăng nhập thất bại cho root"]
    both = canh.json("events", "search", "accepted AND NOT user.name:root", "--since", "3650d")
    assert [e["user"]["name"] for e in both] == ["deploy"]


def test_bad_input_is_reported_where_and_good_events_kept(tmp_path: Path, canh, home: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "mixed.jsonl"
    with data.open("wb") as fh:
        fh.write(_ecs_line("2026-11-22T01:00:00Z", "first good").encode())
        fh.write(b'{"@timestamp": "2026-11-22T01:00:0\n')  # truncated JSON
        fh.write(b"x" * (10 * 1024 * 1024) + b"\n")  # a 10 MB line
        fh.write(_ecs_line("2026-11-22T01:00:01Z", "bytes \udcff").encode("utf-8", "surrogateescape"))
        fh.write(_ecs_line("2026-11-22T01:00:02Z", "last good").encode())
    proc = canh("ingest", str(data))
    assert proc.returncode == 0, proc.stderr  # something was processed: not a failure
    problems = proc.stderr.strip().splitlines()
    assert problems == [
        f"{data}:2: not a JSON object: unexpected end of data (line skipped)",
        f"{data}:3: line longer than 1048576 bytes (line skipped)",
    ]
    assert "3 new event(s) stored" in proc.stdout
    stored = canh.json("events", "search", "*", "--since", "3650d", "--asc")
    assert [e["message"] for e in stored] == ["first good", "bytes \ufffd", "last good"]
    assert "canh_invalid_utf8" in stored[1]["tags"]
    assert stored[1]["event"]["original"].endswith('"bytes \\xff"}')
    dead = [
        json.loads(line)
        for line in next((home / "state" / "dead-letter").glob("*.jsonl")).read_text().splitlines()
    ]
    assert [d["where"] for d in dead] == [f"{data}:2", f"{data}:3"]
    assert dead[0]["raw"] == '{"@timestamp": "2026-11-22T01:00:0'


def test_nothing_processed_exits_non_zero_with_one_line(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    proc = canh("ingest", str(tmp_path / "missing.log"))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"{tmp_path / 'missing.log'}: no such file or folder"


def test_gzip_files_are_read(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    gz = tmp_path / "auth.log.1.gz"
    gz.write_bytes(gzip.compress(SYSLOG.encode()))
    assert canh.json("ingest", str(gz))[0]["written"] == 3


def test_version_and_help_for_newcomers(canh) -> None:  # type: ignore[no-untyped-def]
    assert canh("--version", check=True).stdout.startswith("canh, version ")
    helptext = canh("--help", check=True).stdout
    for command in ("ingest", "events", "alerts", "status", "demo"):
        assert command in helptext
