#!/usr/bin/env python3
"""Log collector throughput on one core: sshd/auth and nginx access logs, parse-only and into SQLite.

Generates realistic files (default 200,000 lines each) in a temporary folder, then prints lines/s for
- parse-only: read the file, decode UTF-8, parse each line to an ECS event (no store);
- canh ingest: file -> parser -> SQLite (the one-off backfill path);
- canh collect: the file source (tail -F, checkpoints) -> runner -> SQLite.
Targets: 100,000 lines/s parse-only, 50,000 lines/s end to end.
Run: .venv/bin/python bench/ingest_logs.py [--lines N] [--repeat N] [--profile auth|web]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from canh.collectors.checkpoints import Checkpoints
from canh.collectors.files import FileSource, FileSourceSettings
from canh.collectors.registry import LineContext, get_parser
from canh.collectors.runner import Runner
from canh.events import decode_line, local_zone
from canh.ingest import Ingester, iter_lines
from canh.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
USERS = [
    "root",
    "admin",
    "oracle",
    "test",
    "ubuntu",
    "deploy",
    "postgres",
    "git",
    "user",
    "quantri",
    "nguyenvana",
]
PATHS = ["/", "/tin-tuc", "/thu-tuc-hanh-chinh", "/van-ban/quyet-dinh-123.pdf", "/static/css/site.css",
         "/static/js/app.js", "/static/img/logo-tinh.png", "/tra-cuu-ho-so", "/api/v1/ho-so?ma=HS2026-0042",
         "/lien-he", "/wp-login.php", "/.env", "/tin-tuc/hoi-nghi-chuyen-doi-so?page=2"]  # fmt: skip
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/127.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "sqlmap/1.8.5#stable (https://sqlmap.org)",
    "curl/8.5.0",
]


def auth_lines(n: int) -> list[str]:
    """An auth.log of a bastion under brute force: sshd failures, invalid users, logins, sessions, sudo, cron."""
    rng = random.Random(11)
    out = []
    for i in range(n):
        t = f"Nov 21 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        host = f"srv-{rng.randrange(40):02d}"
        pid = 1000 + rng.randrange(30000)
        ip = f"{rng.choice(['185.220.101', '45.95.147', '203.113.131', '14.161.28'])}.{rng.randrange(1, 255)}"
        port = rng.randrange(1024, 65535)
        user = rng.choice(USERS)
        r = rng.random()
        if r < 0.45:
            inv = "invalid user " if rng.random() < 0.4 else ""
            body = f"sshd[{pid}]: Failed password for {inv}{user} from {ip} port {port} ssh2"
        elif r < 0.55:
            body = f"sshd[{pid}]: Invalid user {user} from {ip} port {port}"
        elif r < 0.70:
            body = f"sshd[{pid}]: Connection closed by authenticating user {user} {ip} port {port} [preauth]"
        elif r < 0.75:
            body = f"sshd[{pid}]: Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"
        elif r < 0.78:
            body = (
                f"sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2: RSA SHA256:3k1vZ0aQx"
            )
        elif r < 0.86:
            body = f"sshd[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid=1001) by (uid=0)"
        elif r < 0.90:
            body = f"sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"
        elif r < 0.95:
            body = f"sudo:   {user} : TTY=pts/{rng.randrange(5)} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
        else:
            body = f"CRON[{pid}]: pam_unix(cron:session): session closed for user postgres"
        out.append(f"{t} {host} {body}\n")
    return out


def access_lines(n: int) -> list[str]:
    """A provincial portal's nginx access log: citizens, crawlers and a few scanners."""
    rng = random.Random(12)
    out = []
    for i in range(n):
        t = f"21/Nov/2026:{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0700"
        ip = f"{rng.choice(['113.160', '14.161', '171.244', '27.72', '45.95'])}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        path = rng.choice(PATHS)
        status = rng.choice([200] * 12 + [304, 301, 404, 403, 500])
        ref = rng.choice(
            ['"-"', '"https://www.google.com/"', '"https://congthongtin.example.gov.vn/tin-tuc"']
        )
        out.append(
            f'{ip} - - [{t}] "{rng.choice(["GET"] * 8 + ["POST"])} {path} HTTP/1.1" {status} {rng.randrange(200, 60000)} '
            f'{ref} "{rng.choice(AGENTS)}"\n'
        )
    return out


def parse_only(path: Path, fmt: str) -> tuple[int, float, float]:
    parser = get_parser(fmt)
    tz = local_zone("Asia/Ho_Chi_Minh")
    n = 0
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    ctx = LineContext(source=str(path), position=0, tz=tz, now=NOW)
    with path.open("rb") as fh:
        for line_no, (offset, raw) in enumerate(iter_lines(fh), 1):
            assert raw is not None
            text, _bad = decode_line(raw)
            ctx.position, ctx.line_no = offset, line_no  # one context moved along, as canh ingest does
            if parser.parse(text, ctx) is not None:
                n += 1
    return n, time.perf_counter() - wall, time.process_time() - cpu


def ingest(path: Path, fmt: str, folder: Path) -> tuple[int, float, float]:
    store = SQLiteStore(folder / f"ingest-{fmt}.db")
    ing = Ingester(store, dead_letter=folder / "dead.jsonl", now=lambda: NOW)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    report = ing.run([path], fmt)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    assert not report.problems, report.problems[:3]
    return report.written, wall, cpu


def collect(path: Path, fmt: str, folder: Path) -> tuple[int, float, float]:
    store = SQLiteStore(folder / f"collect-{fmt}.db")
    settings = FileSourceSettings(paths=[str(path)], format=fmt, host="bench", batch=5000, poll=0.01)
    source = FileSource(
        settings, name=f"bench-{fmt}", checkpoints=Checkpoints(folder / f"cp-{fmt}.json"), now=lambda: NOW
    )
    runner = Runner(store, [source])
    total = sum(1 for _ in path.open("rb"))
    done = threading.Event()

    def watch() -> None:
        while runner.stats.events < total:
            time.sleep(0.005)
        done.set()

    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    threading.Thread(target=watch, daemon=True).start()
    runner.run(until=done)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    store.close()
    return runner.stats.written, wall, cpu


def row(label: str, n: int, wall: float, cpu: float) -> None:
    print(f"{label:<28} {n:>9,} lines  {n / wall:>9,.0f} lines/s wall  {n / cpu:>9,.0f} lines/s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument(
        "--repeat", type=int, default=3, help="runs of each measurement; the best CPU time is shown"
    )
    ap.add_argument(
        "--profile", choices=["auth", "web"], help="profile parse-only for one log and print the top"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        logs: dict[str, tuple[Path, str]] = {}
        for name, make, fmt in (("auth", auth_lines, "syslog"), ("web", access_lines, "web")):
            path = folder / ("auth.log" if name == "auth" else "nginx" + "-access.log")
            path.write_text("".join(make(args.lines)), encoding="utf-8")
            logs[name] = (path, fmt)
        if args.profile:
            path, fmt = logs[args.profile]
            prof = cProfile.Profile()
            prof.runcall(parse_only, path, fmt)
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return
        runs: list[tuple[str, Callable[[Path, str, Path], tuple[int, float, float]]]] = [
            ("parse-only", lambda p, f, _d: parse_only(p, f)),
            ("canh ingest -> SQLite", ingest),
            ("canh collect -> SQLite", collect),
        ]
        for name, (path, fmt) in logs.items():
            print(f"{name}: {path.stat().st_size / 1e6:.1f} MB, format {fmt}")
            for label, fn in runs:
                # Best of --repeat, each into a new store: one run's CPU time moves by a fifth on
                # this host, with the store's page cache and the machine's other work.
                tries = []
                for i in range(args.repeat):
                    work = folder / f"{name}-{label.split()[1] if ' ' in label else label}-{i}"
                    work.mkdir()
                    tries.append(fn(path, fmt, work))
                best = min(tries, key=lambda t: t[2])
                row(f"  {label}", *best)
                if args.repeat > 1:
                    print(
                        f"{'':<30}runs: " + ", ".join(f"{t[0] / t[2]:,.0f}" for t in tries) + " lines/s CPU"
                    )


if __name__ == "__main__":
    main()
