"""`canh ingest` as a user runs it: idempotent, searchable, and bad input never loses good events."""

from __future__ import annotations

import gzip
import json
import os
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


def _counts(report: list[dict[str, int]]) -> tuple[int, int]:
    return report[0]["written"], report[0]["duplicates"]


def test_a_renamed_then_gzipped_copy_stores_each_line_once(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    # logrotate's path for a file: auth.log -> auth.log.1 -> auth.log.1.gz (or a dated copy elsewhere).
    log = tmp_path / "auth.log"
    log.write_text(SYSLOG, encoding="utf-8")
    assert canh.json("ingest", str(log))[0]["written"] == 3
    rotated = log.rename(tmp_path / "auth.log.1")
    assert _counts(canh.json("ingest", str(rotated))) == (0, 3)
    gz = tmp_path / "auth.log.1.gz"
    gz.write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    assert _counts(canh.json("ingest", str(gz))) == (0, 3)
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "auth.log-20261122.gz").write_bytes(gz.read_bytes())
    assert canh.json("ingest", str(archive))[0]["written"] == 0
    assert canh.json("events", "search", "*", "--since", "3650d", "--count") == [{"count": 3}]


def test_two_files_starting_with_the_same_line_lose_nothing(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    first = SYSLOG.splitlines(keepends=True)[0]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text(first + "Nov 22 08:16:00 web-01 su: a\n", encoding="utf-8")
    (logs / "secure").write_text(first + "Nov 22 08:16:00 web-01 su: b\n", encoding="utf-8")
    assert canh.json("ingest", str(logs))[0]["written"] == 4
    messages = {e["message"] for e in canh.json("events", "search", "su", "--since", "3650d")}
    assert {"a", "b"} <= {m.rsplit(" ", 1)[-1] for m in messages}


def test_content_replaced_at_the_same_path_is_new_lines(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    # copytruncate then new lines: same path, same offsets, other content; none of it may be taken
    # for what the old content stored at those offsets.
    log = tmp_path / "auth.log"
    log.write_text(SYSLOG, encoding="utf-8")
    canh("ingest", str(log), check=True)
    log.write_text(SYSLOG.replace("08:15", "09:15"), encoding="utf-8")
    assert canh.json("ingest", str(log))[0]["written"] == 3


def test_a_file_without_a_newline_that_grows_keeps_its_identity(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "auth.log"
    first, second = SYSLOG.splitlines(keepends=True)[:2]
    log.write_text(first.rstrip("\n"), encoding="utf-8")
    assert canh.json("ingest", str(log))[0]["written"] == 1
    log.write_text(first + second, encoding="utf-8")
    assert _counts(canh.json("ingest", str(log))) == (1, 1)


ACCESS = '203.0.113.9 - - [22/Nov/2026:08:15:01 +0700] "GET /tin-tuc HTTP/1.1" 200 512 "-" "curl/8.5.0"\n'


def test_lines_without_a_host_get_the_host_given_or_this_machine(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    import socket

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(ACCESS, encoding="utf-8")
    (logs / "ecs.jsonl").write_text(_ecs_line("2026-11-22T01:00:00Z", "no host here"), encoding="utf-8")
    (logs / "auth.log").write_text(SYSLOG.splitlines(keepends=True)[0], encoding="utf-8")
    canh("ingest", str(logs), check=True)
    events = canh.json("events", "search", "*", "--since", "3650d")
    by_file = {e["log"]["file"]["path"].rsplit("/", 1)[-1]: e for e in events}
    me = socket.gethostname()
    assert by_file["access.log"]["host"]["name"] == me
    assert by_file["ecs.jsonl"]["host"]["name"] == me
    assert by_file["auth.log"]["host"]["name"] == "web-01"  # the line names its host: kept
    assert {e["observer"]["hostname"] for e in events} == {me}
    other = tmp_path / "portal"
    other.mkdir()
    (other / "access.log").write_text(ACCESS.replace("/tin-tuc", "/lien-he"), encoding="utf-8")
    (other / "auth.log").write_text(SYSLOG.splitlines(keepends=True)[1], encoding="utf-8")
    canh("ingest", "--host", "portal-07", str(other), check=True)
    hits = canh.json("events", "search", "*", "--since", "3650d")
    portal = {
        e["log"]["file"]["path"].rsplit("/", 1)[-1]: e["host"]["name"]
        for e in hits
        if "/portal/" in e["log"]["file"]["path"]
    }
    assert portal == {"access.log": "portal-07", "auth.log": "web-01"}  # a host the line names is kept


def test_a_line_too_long_is_kept_in_the_dead_letter_file_for_replay(tmp_path: Path, canh, home: Path) -> None:  # type: ignore[no-untyped-def]
    long_line = b"Nov 22 08:15:01 web-01 app: " + b"x" * (10 * 1024 * 1024) + b" \xff end"
    huge = b"y" * (17 * 1024 * 1024)
    data = tmp_path / "big.log"
    data.write_bytes(SYSLOG.encode() + long_line + b"\n" + huge + b"\r\n" + SYSLOG.encode())
    report = canh.json("ingest", str(data))[0]
    assert (report["written"], len(report["problems"])) == (6, 2)
    dead = [json.loads(line) for line in next((home / "state" / "dead-letter").glob("*.jsonl")).open()]
    assert [d["where"] for d in dead] == [f"{data}:4", f"{data}:5"]
    assert dead[0]["raw"] == long_line.decode("utf-8", "backslashreplace")
    assert dead[0]["escaped"] is True and "cut" not in dead[0]
    assert dead[1]["raw"] == "y" * (16 * 1024 * 1024)
    assert (dead[1]["cut"], dead[1]["bytes"]) == (True, len(huge))


def test_folder_ingest_skips_binary_files_and_documents_with_a_note(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    import random
    import shutil

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "auth.log").write_text(SYSLOG, encoding="utf-8")
    rng = random.Random(7)
    (logs / "wtmp").write_bytes(Path("/bin/true").read_bytes() + rng.randbytes(4096))
    (logs / "noise.log.gz").write_bytes(gzip.compress(bytes(rng.randrange(1, 256) for _ in range(20000))))
    (logs / "LICENSE.GPL").write_text("GNU GENERAL PUBLIC LICENSE\n Version 3, 29 June 2007\n" * 20)
    (logs / "README.md").write_text("# Sample logs\n")
    # A legacy 8-bit (Windows-1258) log is text with invalid UTF-8: still read, bytes escaped.
    (logs / "legacy.log").write_bytes(
        "Nov 22 08:20:00 web-01 app: Đăng nhap that bai cho ông\n".encode("cp1258") * 3
    )
    # An attack payload logged as it came (TLS sent to plain HTTP) puts a few NUL bytes in a text log.
    tls = b'192.0.2.7 - - [22/Nov/2026:08:15:01 +0700] "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03" 400 -\n'
    (logs / "access.log").write_bytes(ACCESS.encode() * 5 + tls)
    proc = canh("ingest", "--json", str(logs))
    report = json.loads(proc.stdout)
    notes = {Path(p["where"]).name: p["message"] for p in report["problems"]}
    assert set(notes) == {"wtmp", "noise.log.gz", "LICENSE.GPL", "README.md"}
    assert notes["wtmp"] == "not a text log nor a known binary format (EVTX, pcap): skipped"
    assert notes["LICENSE.GPL"].startswith("documentation, not a log")
    assert report["written"] == 6 + 6
    named = canh.json("ingest", str(logs / "LICENSE.GPL"))[0]  # named: read as the user asked
    assert named["written"] == 40
    evtx = next(iter(sorted(CORPUS_EVTX.rglob("*.evtx"))), None) if CORPUS_EVTX.is_dir() else None
    if evtx is not None:  # a known binary format in a folder is still read
        shutil.copy(evtx, logs / evtx.name)
        assert canh.json("ingest", str(logs))[0]["formats"][str(logs / evtx.name)] == "evtx"


CORPUS_EVTX = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "evtx" / "EVTX-ATTACK-SAMPLES"


def test_progress_counts_bytes_of_input_consumed_over_all_files(tmp_path: Path) -> None:
    from canh.ingest import Ingester
    from canh.store.sqlite import SQLiteStore

    lines = "".join(
        f"Nov 22 08:{i // 60 % 60:02d}:{i % 60:02d} web-01 app[1]: dòng {i}\n" for i in range(12_000)
    )
    plain = tmp_path / "app.log"
    plain.write_text(lines, encoding="utf-8")
    gz = tmp_path / "old.log.gz"
    gz.write_bytes(gzip.compress(lines.replace("dòng", "cũ").encode()))
    total = plain.stat().st_size + gz.stat().st_size
    seen: list[int] = []
    store = SQLiteStore(tmp_path / "canh.db")
    try:
        Ingester(store, dead_letter=tmp_path / "dead.jsonl", progress=seen.append).run([plain, gz])
    finally:
        store.close()
    assert seen == sorted(seen) and seen[-1] == total
    assert plain.stat().st_size in seen  # the first file done, then the second counted from there
    during_gz = [v for v in seen if plain.stat().st_size < v < total]
    assert during_gz, seen  # the compressed file advances the bar while it is read, not only at its end


def test_progress_of_a_reader_that_opens_the_file_itself() -> None:
    from canh.ingest import _read_position

    path = "/bin/true"
    fd = os.open(path, os.O_RDONLY)
    try:
        os.read(fd, 100)
        assert _read_position(os.path.realpath(path)) == 100
    finally:
        os.close(fd)
    assert _read_position("/nonexistent/file") is None


def test_timezone_option_reads_lines_of_another_zone(tmp_path: Path, canh) -> None:  # type: ignore[no-untyped-def]
    line = "Nov 22 08:15:01 web-01 sshd[123]: Failed password for root from 203.0.113.5 port 51234 ssh2\n"
    here, there = tmp_path / "here" / "auth.log", tmp_path / "there" / "auth.log"
    for path in (here, there):  # other content: a copy of one file would be the same events
        path.parent.mkdir()
        path.write_text(line.replace("[123]", f"[{len(str(path))}]"), encoding="utf-8")
    canh("ingest", str(here), check=True)  # canh.yml's zone: Asia/Ho_Chi_Minh, UTC+7
    canh("ingest", "--timezone", "Europe/Paris", str(there), check=True)
    canh("ingest", "--timezone", "+09:00", str(tmp_path / "there"), check=True)  # ids: stored already
    stamps = {
        e["log"]["file"]["path"].split("/")[-2]: e["@timestamp"]
        for e in canh.json("events", "search", "*", "--since", "3650d")
    }
    assert stamps["here"].endswith("T01:15:01.000Z")
    assert stamps["there"].endswith("T07:15:01.000Z")
    bad = canh("ingest", "--timezone", "Mars/Olympus", str(here))
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        "canh: --timezone: 'Mars/Olympus' is not a time zone (use an IANA name such as Asia/Ho_Chi_Minh, "
        "or an offset such as +07:00)"
    )
