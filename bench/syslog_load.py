#!/usr/bin/env python3
"""Syslog over TCP on loopback into the embedded store: sustained rate and loss, by sequence numbers.

    python bench/syslog_load.py [--rate 20000] [--seconds 60] [--connections 4]

One sender process per connection paces RFC 5424 messages (sshd "Failed password" lines, MSGID
``seq=N``) over TCP, octet-counted, at ``--rate`` messages/s in total for ``--seconds``: every 10 ms
tick it frames all the messages due by then (one stamp per tick) and writes them in one send. The
clock starts when every sender is connected, so process start-up is not charged to the rate. The
receiver is Canh's syslog source run by the same Runner as ``canh collect``, writing to a fresh
SQLite store. At the end the store is scanned and every sequence number checked: sent, stored,
missing, duplicates, and rates.
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
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canh.store.sqlite import SQLiteStore

SEQ = re.compile(r"seq=(\d+)")
TICK = 0.01  # seconds between a sender's writes
BODY = b"<38>1 %s web%02d sshd %d seq=%d - Failed password for root from 203.0.113.%d port %d ssh2"


def now_stamp() -> bytes:
    """The RFC 5424 stamp of this instant (UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


def message(seq: int, stamp: bytes | None = None) -> bytes:
    """The RFC 5424 message numbered ``seq`` (MSGID ``seq=N``), stamped ``stamp`` (default now)."""
    return BODY % (stamp or now_stamp(), seq % 40, 1000 + seq % 5000, seq, seq % 250, 1024 + seq % 60000)


def frames(seqs: range, stamp: bytes) -> bytes:
    """The messages numbered ``seqs``, octet-counted (RFC 6587) and joined for one write."""
    out = []
    for seq in seqs:
        msg = message(seq, stamp)
        out.append(b"%d %s" % (len(msg), msg))
    return b"".join(out)


def stage_costs(filled: SQLiteStore, n: int = 20_000, batch: int = 2000) -> tuple[float, float, float]:
    """CPU seconds per message of the parser alone, of the SQLite write alone into an empty store
    (best of 3) and into ``filled`` (the run's store: writes slow down as its indexes grow), so the
    receiver's own cost (sockets, framing, hand-over, batching) is what the total adds to them."""
    from canh.collectors.registry import LineContext, get_parser
    from canh.events import local_zone
    from canh.ingest import fewer_collections
    from canh.store.sqlite import SQLiteStore

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


def sender(
    addr: tuple[str, int], first: int, step: int, rate: float, seconds: float, ready: Any, go: Any,
    start: Any, progress: Any, slot: int, out: mp.Queue,
) -> None:  # fmt: skip
    """Send messages first, first+step, ... at ``rate``/s for ``seconds`` from the shared start time;
    ``progress[slot]`` follows the count sent; reports (first, step, sent, end time, CPU seconds, most
    seconds behind the schedule, seconds in sendall)."""
    sock = socket.create_connection(addr)
    ready.release()
    go.wait()
    t0 = start.value  # perf_counter is CLOCK_MONOTONIC: one clock for every process
    total = round(rate * seconds)
    per_tick = rate * TICK
    sent = 0
    behind = 0.0  # how late the sender ever was on its schedule, in seconds
    blocked = 0.0  # seconds spent in sendall
    while sent < total:
        now = time.perf_counter()
        behind = max(behind, now - t0 - sent / rate)
        # A tick's messages go at its start; what is due follows the schedule, not the ticks counted,
        # so a late wake-up (a busy machine) sends the messages it owes at once.
        due = min(total, int((now - t0) * rate + per_tick))
        if due > sent:
            data = frames(range(first + step * sent, first + step * due, step), now_stamp())
            c = time.perf_counter()
            sock.sendall(data)
            blocked += time.perf_counter() - c  # long only when TCP back-pressure holds the write
            sent = due
            progress[slot] = sent
        time.sleep(max(0.0, TICK - (time.perf_counter() - t0) % TICK))
    end = time.perf_counter()
    sock.close()
    out.put((first, step, sent, end, time.process_time(), behind, blocked))


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

    from canh.collectors.runner import Runner
    from canh.collectors.syslog_server import SyslogSettings, SyslogSource
    from canh.store.sqlite import SQLiteStore

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
        ready, go = ctx.Semaphore(0), ctx.Event()
        start, progress = ctx.RawValue("d", 0.0), ctx.RawArray("q", n)
        procs = [
            ctx.Process(
                target=sender,
                args=(addr, i, n, args.rate / n, args.seconds, ready, go, start, progress, i, results),
            )
            for i in range(n)
        ]
        for p in procs:
            p.start()
        for _ in procs:  # connected and waiting: start-up is not part of the measured sending
            if not ready.acquire(timeout=120):
                raise SystemExit("a sender did not connect within 120 s")
        cpu0 = time.process_time()
        start.value = t0 = time.perf_counter()
        go.set()
        lag_max = 0
        samples = [(t0, 0)]  # (time, sent): the offered rate second by second
        while any(p.is_alive() for p in procs):
            time.sleep(1 - (time.perf_counter() - t0) % 1)
            sent_now, received = sum(progress), src.stats()["read"]
            samples.append((time.perf_counter(), sent_now))
            lag_max = max(lag_max, sent_now - received)
            if len(samples) % 5 == 1:
                (a, sa), (b, sb) = samples[-6], samples[-1]
                print(f"  {b - t0:4.0f} s: {sent_now:,} sent ({(sb - sa) / (b - a):,.0f} msg/s over the last 5 s),"
                      f" {received:,} received, {runner.stats.events:,} stored", flush=True)  # fmt: skip
        for p in procs:
            p.join()
        # What the receiving process got of the machine while messages came, and what it took.
        sending_wall, sending_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        took = src.stats()["read"]
        plan = [results.get() for _ in procs]
        senders_cpu = _children_cpu()
        sent = sum(r[2] for r in plan)
        send_secs = max(r[3] for r in plan) - t0
        deadline = time.monotonic() + args.drain
        while runner.stats.events < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"  sending done: {sent:,} sent, {runner.stats.events:,} stored", flush=True)
        caught_up = time.perf_counter() - t0
        until.set()
        rt.join(60)
        receiver_cpu = time.process_time() - cpu0 + _children_cpu() - senders_cpu  # main + parser workers
        # Whole seconds inside the sending (the last sample may hold the end's part-second).
        rates = [(sb - sa) / (b - a) for (a, sa), (b, sb) in pairwise(samples) if b - t0 <= send_secs]

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
            for first, step, count, *_ in plan
            for k in range(first, first + step * count, step)
            if k not in seen
        )
        dups = sum(c - 1 for c in seen.values() if c > 1)
        st = src.stats()
        print(f"target:   {args.rate:,.0f} msg/s for {args.seconds:.0f} s over {n} TCP connection(s), "
          f"{args.workers} parser worker(s)")  # fmt: skip
        print(f"sent:     {sent:,} in {send_secs:.2f} s = {sent / send_secs:,.0f} msg/s; second by second"
              f" {min(rates, default=0):,.0f}-{max(rates, default=0):,.0f} msg/s; at most"
              f" {max(r[5] for r in plan) * 1e3:,.0f} ms behind the schedule; senders' CPU"
              f" {sum(r[4] for r in plan):.1f} s, in send {max(r[6] for r in plan):.1f} s at most"
              " (a send waits when the receiver's queue is full: TCP back-pressure)")  # fmt: skip
        print(f"stored:   {len(seen):,} distinct sequence numbers (all stored {caught_up:.1f} s after start,"
              f" {sent / caught_up:,.0f} msg/s end to end)")  # fmt: skip
        print(
            f"missing:  {missing:,}   duplicates: {dups:,}   dropped: {st['dropped']}   errors: {st['errors']}"
        )
        print(f"max lag while sending: {max(lag_max, 0):,} messages sent and not yet received"
              f" ({max(lag_max, 0) / args.rate:.2f} s)")  # fmt: skip
        per = receiver_cpu / max(sent, 1)
        print(f"receiver CPU: {receiver_cpu:.1f} s = {per * 1e6:.0f} us/message, i.e. {1 / per:,.0f} msg/s per busy"
              f" core (figure independent of other load on the machine; senders used {senders_cpu:.1f} s)")  # fmt: skip
        if not args.workers:  # a worker's CPU is only known once it has exited
            print(f"receiving process while sending: {sending_cpu / sending_wall:.0%} of a core, took"
                  f" {took / sending_wall:,.0f} msg/s; at its {per * 1e6:.0f} us/message, {args.rate:,.0f} msg/s"
                  f" needs {per * args.rate:.0%} of a core")  # fmt: skip
        print(f"runner: {runner.stats.batches:,} batches, {runner.stats.written:,} written")
        own = (per - parse_per - filled_per) * 1e6, (per - parse_per - empty_per) * 1e6
        print(f"of which: parse alone {parse_per * 1e6:.1f} us/message; SQLite write alone {empty_per * 1e6:.1f}"
              f" us/message into an empty store, {filled_per * 1e6:.1f} into this run's ({rows:,} rows); the"
              f" receiver's own (sockets, framing, hand-over, batching) {own[0]:.1f}-{own[1]:.1f} us/message"
              " (measured after the run, same load)")  # fmt: skip
        return 0 if missing == 0 and dups == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
