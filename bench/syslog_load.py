#!/usr/bin/env python3
"""Syslog over TCP on loopback into the embedded store: sustained rate and loss, by sequence numbers.

    python bench/syslog_load.py [--rate 20000] [--seconds 60] [--connections 4]

A separate sender process paces RFC 5424 messages (sshd "Failed password" lines, MSGID ``seq=N``)
over TCP, octet-counted, at ``--rate`` messages/s for ``--seconds``. The receiver is Canh's syslog
source run by the same Runner as ``canh collect``, writing to a fresh SQLite store. At the end the
store is scanned and every sequence number checked: sent, stored, missing, duplicates, and rates.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import re
import resource
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from canh.collectors.runner import Runner
from canh.collectors.syslog_server import SyslogSettings, SyslogSource
from canh.store.sqlite import SQLiteStore

SEQ = re.compile(r"seq=(\d+)")


def message(seq: int) -> bytes:
    """The RFC 5424 message numbered ``seq`` (MSGID ``seq=N``), stamped now."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (
        f"<38>1 {stamp} web{seq % 40:02d} sshd {1000 + seq % 5000} seq={seq} - "
        f"Failed password for root from 203.0.113.{seq % 250} port {1024 + seq % 60000} ssh2"
    ).encode()


def stage_costs(filled: SQLiteStore, n: int = 20_000, batch: int = 2000) -> tuple[float, float, float]:
    """CPU seconds per message of the parser alone, of the SQLite write alone into an empty store
    (best of 3) and into ``filled`` (the run's store: writes slow down as its indexes grow), so the
    receiver's own cost (sockets, framing, hand-over, batching) is what the total adds to them."""
    from canh.collectors.registry import LineContext, get_parser
    from canh.events import local_zone
    from canh.ingest import fewer_collections

    texts = [message(i).decode() for i in range(n)]
    parser = get_parser("syslog")
    ctx = LineContext(
        source="syslog://bench-stages", position=0, host="127.0.0.1", tz=local_zone("Asia/Ho_Chi_Minh")
    )
    parse_s = empty_s = float("inf")
    with fewer_collections(), tempfile.TemporaryDirectory() as tmp:
        for run in range(4):
            c = time.process_time()
            batches = []
            for j in range(0, n, batch):
                events = []
                for i, text in enumerate(texts[j : j + batch], j):
                    ctx.position = run * n + i
                    events.append(parser.parse(text, ctx))
                batches.append(events)
            parse_s = min(parse_s, time.process_time() - c)
            store = SQLiteStore(Path(tmp) / f"stage{run}.db") if run < 3 else filled
            c = time.process_time()
            for events in batches:
                store.write("events", events)
            if run < 3:
                empty_s = min(empty_s, time.process_time() - c)
                store.close()
            else:
                filled_s = time.process_time() - c
    return parse_s / n, empty_s / n, filled_s / n


def sender(addr: tuple[str, int], first: int, step: int, rate: float, seconds: float, out: mp.Queue) -> None:
    """Send messages first, first+step, ... at ``rate``/s for ``seconds``; report how many were sent."""
    sock = socket.create_connection(addr)
    seq = first
    sent = 0
    tick = 0.01
    per_tick = rate * tick
    start = time.perf_counter()
    due = 0.0
    while True:
        now = time.perf_counter() - start
        if now >= seconds:
            break
        due = min(now, seconds) * rate
        chunk = []
        while sent < due:
            msg = message(seq)
            chunk.append(b"%d " % len(msg) + msg)
            seq += step
            sent += 1
        if chunk:
            sock.sendall(b"".join(chunk))
        sleep = tick - ((time.perf_counter() - start) % tick)
        time.sleep(sleep if per_tick else tick)
    sock.close()
    out.put((first, step, sent))


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rate", type=float, default=20_000, help="messages per second in total")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--workers", type=int, default=0, help="parser processes (0: parse in the receiver)")
    ap.add_argument("--drain", type=float, default=120, help="seconds to wait for the store to catch up")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "canh.db")
        src = SyslogSource(
            SyslogSettings(address="127.0.0.1", udp_port=None, tcp_port=0, workers=args.workers), name="bench"
        )
        addr = src.bind()["tcp"]
        runner = Runner(store, [src])
        until = threading.Event()
        rt = threading.Thread(target=runner.run, args=(until,), daemon=True)
        rt.start()
        began = datetime.now(UTC)

        ctx = mp.get_context("spawn")
        results: mp.Queue = ctx.Queue()
        n = args.connections
        procs = [
            ctx.Process(target=sender, args=(addr, i, n, args.rate / n, args.seconds, results))
            for i in range(n)
        ]
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        for p in procs:
            p.start()
        lag_max = 0
        ticks = 0
        while any(p.is_alive() for p in procs):
            time.sleep(1)
            ticks += 1
            received = src.stats()["read"]
            expected = int(min(time.perf_counter() - t0, args.seconds) * args.rate)
            lag_max = max(lag_max, expected - received)
            if ticks % 5 == 0:
                print(f"  {ticks:4d} s: ~{expected:,} sent, {received:,} received, {runner.stats.events:,} stored",
                      flush=True)  # fmt: skip
        for p in procs:
            p.join()
        plan = [results.get() for _ in procs]
        senders_cpu = _children_cpu()
        sent = sum(count for _, _, count in plan)
        send_secs = time.perf_counter() - t0
        deadline = time.monotonic() + args.drain
        while runner.stats.events < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"  sending done: {sent:,} sent, {runner.stats.events:,} stored", flush=True)
        caught_up = time.perf_counter() - t0
        until.set()
        rt.join(60)
        receiver_cpu = time.process_time() - cpu0 + _children_cpu() - senders_cpu  # main + parser workers

        seen: dict[int, int] = {}
        for doc in store.scan(
            "events", "*", since=began - timedelta(minutes=5), until=datetime.now(UTC) + timedelta(hours=1)
        ):
            m = SEQ.search(doc.get("event", {}).get("original", ""))
            if m:
                k = int(m.group(1))
                seen[k] = seen.get(k, 0) + 1
        rows = len(seen)
        parse_per, empty_per, filled_per = stage_costs(store)
        store.close()
        missing = sum(
            1
            for first, step, count in plan
            for k in range(first, first + step * count, step)
            if k not in seen
        )
        dups = sum(c - 1 for c in seen.values() if c > 1)
        st = src.stats()
        print(f"target:   {args.rate:,.0f} msg/s for {args.seconds:.0f} s over {n} TCP connection(s), "
          f"{args.workers} parser worker(s)")  # fmt: skip
        print(f"sent:     {sent:,} in {send_secs:.1f} s = {sent / send_secs:,.0f} msg/s")
        print(f"stored:   {len(seen):,} distinct sequence numbers (all stored {caught_up:.1f} s after start,"
              f" {sent / caught_up:,.0f} msg/s end to end)")  # fmt: skip
        print(
            f"missing:  {missing:,}   duplicates: {dups:,}   dropped: {st['dropped']}   errors: {st['errors']}"
        )
        print(f"max lag while sending: {max(lag_max, 0):,} messages ({max(lag_max, 0) / args.rate:.2f} s)")
        per = receiver_cpu / max(sent, 1)
        print(f"receiver CPU: {receiver_cpu:.1f} s = {per * 1e6:.0f} us/message, i.e. {1 / per:,.0f} msg/s per busy"
              f" core (figure independent of other load on the machine; senders used {senders_cpu:.1f} s)")  # fmt: skip
        print(f"runner: {runner.stats.batches:,} batches, {runner.stats.written:,} written")
        own = (per - parse_per - filled_per) * 1e6, (per - parse_per - empty_per) * 1e6
        print(f"of which: parse alone {parse_per * 1e6:.1f} us/message; SQLite write alone {empty_per * 1e6:.1f}"
              f" us/message into an empty store, {filled_per * 1e6:.1f} into this run's ({rows:,} rows); the"
              f" receiver's own (sockets, framing, hand-over, batching) {own[0]:.1f}-{own[1]:.1f} us/message"
              " (measured after the run, same load)")  # fmt: skip
        return 0 if missing == 0 and dups == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
