"""``canh collect`` as a user runs it: a real process, real files, a real store, real signals."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

CANH = [sys.executable, "-c", "from canh.cli import main; main()"]


def sshd_line(i: int) -> str:
    ip = f"203.113.{i // 250 % 250}.{i % 250 + 1}"
    return f"Nov 21 02:{i // 60 % 60:02d}:{i % 60:02d} bastion-01 sshd[{1000 + i % 5000}]: Failed password for invalid user u{i} from {ip} port {1024 + i % 60000} ssh2\n"


def count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # schema not created yet


def start(home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CANH_HOME": str(home)}
    return subprocess.Popen(
        [*CANH, "collect", "--json", "--path", str(log)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_sigkill_mid_ingest_then_restart_stores_every_line_exactly_once(tmp_path: Path) -> None:
    total = 120_000
    log = tmp_path / "auth.log"
    with log.open("w") as fh:
        fh.writelines(sshd_line(i) for i in range(total))
    home = tmp_path / "home"
    db = home / "data" / "canh.db"
    seen = []
    for _ in range(2):  # killed twice at different points
        proc = start(home, log)
        target = count(db) + 15_000
        assert wait_for(lambda t=target: count(db) >= t, 120), proc.stderr.read1() if proc.stderr else b""  # type: ignore[union-attr]
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        seen.append(count(db))
    assert seen[-1] < total, "the kill must land mid-ingest for the test to mean anything"
    proc = start(home, log)
    assert wait_for(lambda: count(db) >= total, 180)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert count(db) == total
    with sqlite3.connect(db) as conn:
        # one stored event per line: ids are distinct and every line's user appears once
        assert conn.execute("SELECT count(DISTINCT id) FROM events").fetchone()[0] == total
    summary = orjson.loads(out.splitlines()[-1])
    # The restarted run began at the checkpoint: it re-read at most the batch in flight, not the file.
    assert summary["events"] <= total - seen[-1] + 2 * 2000


def test_sigterm_flushes_and_exits_zero_and_a_restart_reads_only_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("".join(sshd_line(i) for i in range(100)))
    home = tmp_path / "home"
    db = home / "data" / "canh.db"
    proc = start(home, log)
    assert wait_for(lambda: count(db) == 100, 60)
    with log.open("a") as fh:
        fh.writelines(sshd_line(i) for i in range(100, 130))
    assert wait_for(lambda: count(db) == 130, 30)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert orjson.loads(out.splitlines()[-1])["written"] == 130
    with log.open("a") as fh:
        fh.write(sshd_line(130))
    proc = start(home, log)
    assert wait_for(lambda: count(db) == 131, 60)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert orjson.loads(out.splitlines()[-1])["events"] == 1


def test_config_sources_and_no_sources_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "CANH_HOME": str(home)}
    res = subprocess.run(
        [*CANH, "--lang", "en", "collect"], env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 1
    assert "no sources to collect from" in res.stderr
    log = tmp_path / "access.log"
    log.write_text('10.0.0.1 - - [21/Nov/2026:03:21:09 +0700] "GET /tin-tuc HTTP/1.1" 200 10 "-" "curl/8"\n')
    (home / "canh.yml").write_text(
        f"sources:\n  - type: file\n    name: web\n    paths: ['{tmp_path}/*.log']\n"
    )
    proc = subprocess.Popen(
        [*CANH, "collect", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert wait_for(lambda: count(home / "data" / "canh.db") == 1, 60)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert orjson.loads(out.splitlines()[-1])["sources"]["web"]["emitted"] == 1
    with sqlite3.connect(home / "data" / "canh.db") as conn:
        doc = conn.execute("SELECT doc FROM events").fetchone()[0]
    assert "nginx.access" in str(doc)


def test_ingest_then_collect_of_one_file_stores_it_once(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("".join(sshd_line(i) for i in range(200)))
    home = tmp_path / "home"
    env = {**os.environ, "CANH_HOME": str(home)}
    res = subprocess.run([*CANH, "ingest", "--json", str(log)], env=env, capture_output=True, timeout=120)
    assert orjson.loads(res.stdout.splitlines()[-1])["written"] == 200, res.stderr
    registry = home / "data" / "checkpoints"

    def read_to_the_end() -> bool:
        files = list(registry.glob("*.json")) if registry.is_dir() else []
        states = orjson.loads(files[0].read_bytes())["files"] if files else []
        return any(s["offset"] == log.stat().st_size for s in states)

    proc = start(home, log)
    assert wait_for(read_to_the_end, 60)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = orjson.loads(out.splitlines()[-1])
    assert (summary["written"], summary["duplicates"]) == (0, 200)
    assert count(home / "data" / "canh.db") == 200
