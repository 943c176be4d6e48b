"""Outages: the spool on its own (torn writes, restarts, the size cap) and a real outage end to end."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from canh.store.spool import Spool

REPO = Path(__file__).parents[2]


# -- the spool alone ------------------------------------------------------------------------------
def test_batches_replay_in_order_and_survive_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for n in range(5):
        assert spool.append("events", [{"n": n}])
    again = Spool(tmp_path / "spool")
    got = []
    for i, (_stream, records, mark) in enumerate(again.replay()):
        got.append(records[0]["n"])
        again.done(mark)
        if i == 1:
            break
    assert got == [0, 1]
    third = Spool(tmp_path / "spool")  # a restart resumes after the last batch marked done
    assert [r[0]["n"] for _, r, _ in third.replay()] == [2, 3, 4]


def test_a_torn_last_batch_is_cut_off_and_the_rest_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append("events", [{"n": 1}])
    spool.append("events", [{"n": 2}])
    seg = next((tmp_path / "spool").glob("*.seg"))
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # the writer died in the middle of the second batch
    reopened = Spool(tmp_path / "spool")
    assert [r[0]["n"] for _, r, _ in reopened.replay()] == [1]
    reopened.append("events", [{"n": 3}])
    assert [r[0]["n"] for _, r, _ in Spool(tmp_path / "spool").replay()] == [1, 3]


def test_a_corrupted_batch_is_not_replayed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append("events", [{"n": 1}])
    seg = next((tmp_path / "spool").glob("*.seg"))
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit on disk: the checksum catches it
    seg.write_bytes(bytes(data))
    assert list(Spool(tmp_path / "spool").replay()) == []


def test_segments_roll_and_replayed_ones_are_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", segment_bytes=200)
    for n in range(6):
        spool.append("events", [{"n": n, "pad": "x" * 80}])
    assert len(list((tmp_path / "spool").glob("*.seg"))) >= 3
    for _, _, mark in spool.replay():
        spool.done(mark)
    assert spool.empty()
    assert len(list((tmp_path / "spool").glob("*.seg"))) == 1


def test_the_size_cap_refuses_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=300)
    assert spool.append("events", [{"pad": "x" * 100}])
    assert not spool.append("events", [{"pad": "x" * 300}])
    assert any("SPOOL" in r.getMessage() or "spool" in r.getMessage().lower() for r in caplog.records)


# -- a real outage: Elasticsearch goes away mid-ingest, the collector is killed -9 once -------------------
class Writer:
    """The collector process, read line by line."""

    def __init__(self, url: str, prefix: str, spool: Path, start: int, end: int) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "tests/store/spool_writer.py"),
                url,
                prefix,
                str(spool),
                str(start),
                str(end),
                "1000",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.sent = start

    def until(self, n: int) -> None:
        out: IO[str] = self.proc.stdout  # type: ignore[assignment]
        while self.sent < n:
            line = out.readline()
            assert line, f"writer stopped at {self.sent} (exit {self.proc.poll()})"
            if line.startswith("sent "):
                self.sent = int(line.split()[1])

    def finish(self) -> None:
        out, _ = self.proc.communicate(timeout=600)
        assert self.proc.returncode == 0
        assert out.strip().endswith("done")


@pytest.fixture
def es_proxy() -> Iterator[tuple[str, object]]:
    from urllib.parse import urlparse

    from tests.store.es_node import require_node
    from tests.store.tcp_proxy import TcpProxy

    node = urlparse(require_node())
    proxy = TcpProxy(node.hostname or "127.0.0.1", node.port or 9200)
    try:
        yield require_node(), proxy
    finally:
        proxy.close()


@pytest.mark.slow
def test_outage_and_kill_9_lose_nothing_and_duplicate_nothing(
    tmp_path: Path, es_proxy: tuple[str, object]
) -> None:
    from elasticsearch import Elasticsearch

    from canh.store.elasticsearch import ElasticsearchStore

    node_url, proxy = es_proxy
    prefix = "canhtest-" + uuid.uuid4().hex[:12]
    spool = tmp_path / "spool"
    total = 110_000
    checker = ElasticsearchStore(Elasticsearch(node_url, request_timeout=120), prefix=prefix, url=node_url)
    try:
        w = Writer(proxy.url, prefix, spool, 0, total)  # type: ignore[attr-defined]
        w.until(10_000)
        proxy.cut()  # type: ignore[attr-defined]  # the node "stops" mid-ingest
        w.until(60_000)
        w.proc.kill()  # kill -9 while batches go to the spool
        w.proc.wait()
        assert any(spool.glob("*.seg")), "the outage should have spooled batches"
        # The collector restarts from its checkpoint (the last batch it saw accepted).
        w2 = Writer(proxy.url, prefix, spool, w.sent, total)  # type: ignore[attr-defined]
        w2.until(min(total, w.sent + 20_000))
        proxy.restore()  # type: ignore[attr-defined]  # the node is back
        w2.finish()
        checker.refresh()
        assert checker.count("events") == total
        assert checker.count("events", "event.dataset:test.spool") == total
        got = {r["event"]["id"] for r in checker.scan("events", batch=10_000)}
        assert got == {f"spool{i:010d}" for i in range(total)}
        assert Spool(spool).empty()
    finally:
        checker.drop()
        checker.close()


def test_two_processes_appending_to_one_spool_keep_every_batch_whole(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom canh.store.spool import Spool\n"
        "s = Spool(sys.argv[1], segment_bytes=20_000)\n"
        "for i in range(200):\n    s.append('events', [{'who': sys.argv[2], 'i': i, 'pad': 'x' * 50}])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "spool"), who]) for who in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    got = [(r[0]["who"], r[0]["i"]) for _, r, _ in Spool(tmp_path / "spool").replay()]
    assert sorted(got) == sorted([(w, i) for w in ("a", "b") for i in range(200)])
    assert [i for w, i in got if w == "a"] == list(range(200))  # each writer's order is kept
