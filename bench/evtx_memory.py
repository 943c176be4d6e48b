"""Peak memory reading a large EVTX file: EvtxReader streams, so RSS must stay flat whatever the size.

    python bench/evtx_memory.py [--size 4G] [--file PATH] [--detect] [--keep] [--corpus DIR]

Builds (once, unless ``--file`` names an existing one) an EVTX file of ``--size`` bytes in /tmp
from the real chunks of the corpus files, then reads it through ``EvtxReader`` in a fresh process
and prints its peak RSS (``VmHWM``), RSS along the way and records/s (CPU time).
``--detect`` also runs every event through the rule pack's engine (``canh.detection``), as
``canh ingest`` does, without a store.

How the file is built: a file header, then the corpus chunks repeated in turn. An EVTX chunk is
self-contained (its own string and template tables), so a copy parses as the original does. Each
copy gets the next record numbers in its record headers and chunk header, and both chunk
checksums and the file header's chunk count and checksum are recomputed, as the format requires.
What is not rewritten: the EventRecordID inside each record's XML (a BinXML substitution value),
so copies of a record map to the same ``event.id``; that changes nothing for memory or speed.
The header counts chunks in 16 bits, so a file holds at most 65,535 chunks (4.29 GB).
"""

from __future__ import annotations

import argparse
import resource
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "evtx"
HEADER_SIZE = 4096
CHUNK_SIZE = 65536
MAX_CHUNKS = 0xFFFF
RECORD_MAGIC = b"\x2a\x2a\x00\x00"


def parse_size(text: str) -> int:
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    text = text.strip().upper().rstrip("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def corpus_chunks(folder: Path) -> list[bytes]:
    """Every chunk holding records in the corpus files, in file order."""
    chunks: list[bytes] = []
    for path in sorted(folder.rglob("*.evtx")):
        data = path.read_bytes()
        for off in range(HEADER_SIZE, len(data) - CHUNK_SIZE + 1, CHUNK_SIZE):
            chunk = data[off : off + CHUNK_SIZE]
            if chunk[:8] != b"ElfChnk\x00":
                continue
            free = struct.unpack_from("<I", chunk, 48)[0]
            if free > 512:
                chunks.append(chunk)
    return chunks


def renumbered(chunk: bytes, first_id: int) -> tuple[bytearray, int]:
    """A copy of ``chunk`` whose records are numbered from ``first_id``, checksums redone; next free id."""
    out = bytearray(chunk)
    free = struct.unpack_from("<I", out, 48)[0]
    rid = first_id
    off = 512
    while off + 24 <= free and out[off : off + 4] == RECORD_MAGIC:
        size = struct.unpack_from("<I", out, off + 4)[0]
        if size < 24 or off + size > free:
            break
        struct.pack_into("<Q", out, off + 8, rid)
        rid += 1
        off += size
    last = rid - 1
    # first/last record number (8, 16) and first/last record id (24, 32)
    struct.pack_into("<QQQQ", out, 8, first_id, last, first_id, last)
    struct.pack_into("<I", out, 52, zlib.crc32(out[512:free]))
    struct.pack_into("<I", out, 124, zlib.crc32(bytes(out[:120]) + bytes(out[128:512])))
    return out, rid


def file_header(chunks: int, next_record: int) -> bytes:
    head = bytearray(HEADER_SIZE)
    struct.pack_into(
        "<8sQQQIHHHH", head, 0, b"ElfFile\x00", 0, chunks - 1, next_record, 128, 1, 3, HEADER_SIZE, chunks
    )
    struct.pack_into("<I", head, 124, zlib.crc32(bytes(head[:120])))
    return bytes(head)


def build(path: Path, size: int, corpus: Path) -> tuple[int, int]:
    """Write the file; (chunks, records)."""
    pool = corpus_chunks(corpus)
    if not pool:
        raise SystemExit(f"no EVTX chunks under {corpus}")
    count = min(MAX_CHUNKS, max(1, (size - HEADER_SIZE) // CHUNK_SIZE))
    rid = 1
    with path.open("wb") as f:
        f.write(bytes(HEADER_SIZE))  # the header needs the last record number: written at the end
        for i in range(count):
            chunk, rid = renumbered(pool[i % len(pool)], rid)
            f.write(chunk)
        f.seek(0)
        f.write(file_header(count, rid))
    return count, rid - 1


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


def peak_rss_mb() -> float:
    """VmHWM: unlike ru_maxrss it starts again at exec, so the parent that built the file is not counted."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def read(path: Path, detect: bool) -> None:
    """Child process: read the file through EvtxReader (and the engine), print memory and speed."""
    from canh.collectors.evtx import EvtxReader
    from canh.collectors.registry import LineContext, ReadProblem

    engine = None
    if detect:
        from canh.config import RulesConfig
        from canh.detection import build_engine

        engine, _ = build_engine(RulesConfig())
    base = rss_mb()
    size = path.stat().st_size
    print(f"RSS before reading: {base:.0f} MB (interpreter, modules{', rules' if engine else ''})")
    events = problems = matches = 0
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    next_report = 0.0
    for item in EvtxReader().read(path, LineContext(source=str(path), position=0)):
        if isinstance(item, ReadProblem):
            problems += 1
            continue
        events += 1
        if engine is not None:
            matches += len(engine.match(item))
        if events % 50_000 == 0 and time.perf_counter() >= next_report:
            next_report = time.perf_counter() + 10
            print(
                f"  {events:>9,} events, RSS {rss_mb():.0f} MB, {time.process_time() - start_cpu:.0f} s CPU",
                flush=True,
            )
    cpu, wall = time.process_time() - start_cpu, time.perf_counter() - start_wall
    peak = peak_rss_mb()
    what = "EvtxReader + rule engine" if engine else "EvtxReader"
    print(f"{what}: {size / 1e9:.2f} GB, {events:,} events, {problems} problems"
          f"{f', {matches:,} rule matches' if engine else ''}")  # fmt: skip
    print(f"  {cpu:.1f} s CPU ({events / cpu:,.0f} events/s CPU), {wall:.1f} s wall")
    print(f"  peak RSS {peak:.0f} MB (target < 500 MB); RSS at the end {rss_mb():.0f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="4G", help="file size to build (e.g. 500M, 4G; at most 4.29G)")
    ap.add_argument("--file", type=Path, help="EVTX file to read (built there if missing)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="where the chunks come from")
    ap.add_argument("--detect", action="store_true", help="also match every event against the rule pack")
    ap.add_argument("--keep", action="store_true", help="keep the built file")
    ap.add_argument("--read", type=Path, help=argparse.SUPPRESS)  # the child process
    args = ap.parse_args()
    if args.read:
        read(args.read, args.detect)
        return 0
    size = parse_size(args.size)
    path = args.file or Path(f"/tmp/canh-bench-{args.size.lower()}.evtx")
    built = False
    if not path.exists():
        start = time.perf_counter()
        chunks, records = build(path, size, args.corpus)
        built = True
        print(f"built {path}: {path.stat().st_size / 1e9:.2f} GB, {chunks:,} chunks, {records:,} records "
              f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
    try:
        cmd = [sys.executable, __file__, "--read", str(path)] + (["--detect"] if args.detect else [])
        return subprocess.run(cmd, check=False).returncode
    finally:
        if built and not args.keep:
            path.unlink()


if __name__ == "__main__":
    sys.exit(main())
