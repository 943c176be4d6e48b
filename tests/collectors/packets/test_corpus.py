"""The public captures in ../shared/corpus/pcap: zero crashes, and every TCP conversation has the
same packet and byte counts per direction as tshark's conversation table."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from canh.collectors.packets.reader import PcapFileReader
from canh.collectors.registry import LineContext, ReadProblem
from canh.events import Event, get

pytestmark = pytest.mark.corpus
ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)")
Endpoint = tuple[str, int]


def captures(corpus: Path) -> list[Path]:
    return sorted(p for p in (corpus / "pcap").rglob("*") if p.suffix in (".pcap", ".pcapng"))


def read(path: Path) -> tuple[list[Event], list[ReadProblem]]:
    events: list[Event] = []
    problems: list[ReadProblem] = []
    for item in PcapFileReader().read(path, LineContext(source=str(path), position=0)):
        (problems if isinstance(item, ReadProblem) else events).append(item)
    return events, problems


def human(n: int) -> str:
    """Byte counts as tshark 4 prints them in conversation tables (SI prefix, integer division)."""
    if n // 1000 // 1000 >= 10:
        return f"{n // 1000 // 1000} MB"
    if n // 1000 >= 10:
        return f"{n // 1000} kB"
    return f"{n} bytes"


def endpoint(text: str) -> Endpoint:
    ip, port = text.rsplit(":", 1)
    return ip.strip("[]"), int(port)


def tshark_conversations(path: Path) -> dict[frozenset[Endpoint], list[tuple[Endpoint, int, int, str, str]]]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-q", "-z", "conv,tcp"], capture_output=True, text=True, check=True
    ).stdout
    conv: dict[frozenset[Endpoint], list[tuple[Endpoint, int, int, str, str]]] = defaultdict(list)
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            a, b = endpoint(m[1]), endpoint(m[2])
            # columns: "<-" (b to a) frames, bytes; "->" (a to b) frames, bytes
            conv[frozenset((a, b))].append((a, int(m[5]), int(m[3]), m[6], m[4]))
    return conv


def our_conversations(events: list[Event]) -> dict[frozenset[Endpoint], dict[Endpoint, list[int]]]:
    """Per endpoint pair: frames and bytes sent by each endpoint, summed over flows (tshark splits on reuse)."""
    conv: dict[frozenset[Endpoint], dict[Endpoint, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for e in events:
        if e["event"]["dataset"] != "network.flow" or get(e, "network.transport") != "tcp":
            continue
        a = (get(e, "source.ip"), get(e, "source.port"))
        b = (get(e, "destination.ip"), get(e, "destination.port"))
        side = conv[frozenset((a, b))]
        side[a][0] += get(e, "source.packets")
        side[a][1] += get(e, "source.bytes")
        side[b][0] += get(e, "destination.packets")
        side[b][1] += get(e, "destination.bytes")
    return conv


def test_every_capture_reads_without_a_crash(corpus: Path) -> None:
    files = captures(corpus)
    assert len(files) > 100
    datasets: Counter[str] = Counter()
    for path in files:
        events, problems = read(path)
        datasets.update(e["event"]["dataset"] for e in events)
        # Only 802.11 captures (not decoded) and TSO-free damage may be reported; never an exception.
        assert all(p.where.startswith(str(path)) for p in problems)
    for dataset in (
        "network.flow",
        "network.dns",
        "network.http",
        "network.tls",
        "network.icmp",
        "network.arp",
        "network.dhcp",
    ):
        assert datasets[dataset] > 0, dataset


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (scripts/test-deps.sh)")
def test_tcp_conversations_match_tshark(corpus: Path) -> None:
    files = captures(corpus)
    with ThreadPoolExecutor(4) as pool:
        theirs_all = list(pool.map(tshark_conversations, files))
    compared = 0
    for path, theirs in zip(files, theirs_all, strict=True):
        ours = our_conversations(read(path)[0])
        assert set(ours) == set(theirs), path
        for pair, rows in theirs.items():
            a = rows[0][0]
            (b,) = pair - {a} or {a}
            frames_a = sum(r[1] if r[0] == a else r[2] for r in rows)
            frames_b = sum(r[2] if r[0] == a else r[1] for r in rows)
            assert (ours[pair][a][0], ours[pair][b][0]) == (frames_a, frames_b), (path, pair)
            if len(rows) == 1:  # tshark's byte column is rounded; a split conversation cannot be summed
                assert (human(ours[pair][a][1]), human(ours[pair][b][1])) == (rows[0][3], rows[0][4]), (
                    path,
                    pair,
                )
            compared += 1
    assert compared > 2000
