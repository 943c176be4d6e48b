"""Raw pcap / pcapng records: both formats and byte orders, nanosecond stamps, damage counted."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import PcapNgWriter, wrpcap

from canh.collectors.packets import capfile
from canh.collectors.packets.capfile import Block, CaptureReader, is_capture, records_in


def _pkts(n: int = 5) -> list:
    out = []
    for i in range(n):
        p = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=1000 + i, dport=53)
            / (b"x" * i)
        )
        p.time = 1_700_000_000 + i + 0.25
        out.append(p)
    return out


def _records(path: Path) -> list[tuple]:
    with path.open("rb") as fh:
        return list(CaptureReader(fh))


def test_pcap_records_match_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    pkts = _pkts()
    wrpcap(str(path), pkts)
    recs = _records(path)
    assert [r[2] for r in recs] == [bytes(p) for p in pkts]
    assert recs[0][0] == pytest.approx(1_700_000_000.25) and recs[0][1] == 1
    assert all(r[3] == len(r[2]) for r in recs)
    assert is_capture(path.read_bytes()[:64])


def test_big_endian_and_nanosecond_pcap(tmp_path: Path) -> None:
    frame = bytes(_pkts(1)[0])
    head = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack(">IIII", 1_700_000_000, 123_456_789, len(frame), len(frame) + 100) + frame
    path = tmp_path / "be.pcap"
    path.write_bytes(head + rec)
    ((ts, _lt, data, wire),) = _records(path)
    assert ts == pytest.approx(1_700_000_000.123456789) and data == frame and wire == len(frame) + 100


def test_pcapng_with_scapy_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.pcapng"
    pkts = _pkts()
    with PcapNgWriter(str(path)) as w:
        for p in pkts:
            w.write(p)
    recs = _records(path)
    assert [r[2] for r in recs] == [bytes(p) for p in pkts]
    assert recs[2][0] == pytest.approx(1_700_000_002.25, abs=1e-5)
    assert is_capture(path.read_bytes()[:64])


def test_file_cut_mid_record_is_reported_after_the_good_records(tmp_path: Path) -> None:
    path = tmp_path / "cut.pcap"
    wrpcap(str(path), _pkts())
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    recs = _records(path)
    assert len(recs) == 5 and all(r[0] is not None for r in recs[:4])
    assert recs[4][0] is None and recs[4][1] == "truncated_file"
    ng = tmp_path / "cut.pcapng"
    with PcapNgWriter(str(ng)) as w:
        for p in _pkts():
            w.write(p)
    ng.write_bytes(ng.read_bytes()[:-10])
    recs = _records(ng)
    assert [r[0] is None for r in recs] == [False] * 4 + [True] and recs[-1][1] == "truncated_file"


def test_bogus_record_length_stops_the_file_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "bogus.pcap"
    wrpcap(str(path), _pkts())
    data = bytearray(path.read_bytes())
    first_len = struct.unpack_from("<I", data, 24 + 8)[0]
    second = 24 + 16 + first_len
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    path.write_bytes(bytes(data))
    recs = _records(path)
    assert recs[0][0] is not None and recs[1][:2] == (None, "bogus_length") and len(recs) == 2


def test_not_a_capture(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"hello world, not a capture at all")
    assert _records(path)[0][1] == "not_a_capture"
    assert not is_capture(b"hello")


def test_resume_from_offset_reads_only_new_records(tmp_path: Path) -> None:
    path = tmp_path / "grow.pcap"
    wrpcap(str(path), _pkts(3))
    with path.open("rb") as fh:
        reader = CaptureReader(fh)
        assert len(list(reader)) == 3
        offset, index = reader.offset, reader.index
    wrpcap(str(path), _pkts(5)[3:], append=True)
    with path.open("rb") as fh:
        more = list(CaptureReader(fh, offset=offset, index=index))
    assert [r[2] for r in more] == [bytes(p) for p in _pkts(5)[3:]]


def _pcap_bytes(frames: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, frame in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + i, i, len(frame), len(frame) + 3) + frame)
    return b"".join(out)


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=40),
    chunk=st.integers(min_value=1, max_value=400),
    cut=st.integers(min_value=0, max_value=20),
)
def test_records_cut_by_chunk_ends_read_whole(sizes: list[int], chunk: int, cut: int) -> None:
    # Records cut by a chunk's end (header or frame, by one byte or more, longer than a chunk) come
    # out whole and in order, each once, with the offset and index a reader resumes from.
    frames = [bytes((i + j) & 0xFF for j in range(size)) for i, size in enumerate(sizes)]
    data = _pcap_bytes(frames)
    cut = min(cut, len(data) - 24)
    if cut:
        data = data[:-cut]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(capfile, "CHUNK", chunk)
        reader = CaptureReader(io.BytesIO(data))
        recs = list(reader)
        with_blocks = CaptureReader(io.BytesIO(data))
        walked = [
            r
            for item in with_blocks.blocks()
            for r in (records_in(item) if isinstance(item, Block) else [item])
        ]
    whole = [r for r in recs if r[0] is not None]
    assert [r[2] for r in whole] == frames[: len(whole)]
    assert [r[3] for r in whole] == [len(f) + 3 for f in frames[: len(whole)]]
    assert [r[0] for r in whole] == [1_700_000_000 + i + i * 1e-6 for i in range(len(whole))]
    assert walked == recs
    ends = [24]
    for frame in frames:
        ends.append(ends[-1] + 16 + len(frame))
    # offset 0 means the file's start: it stays so until a record is read
    assert reader.offset == (ends[len(whole)] if whole else 0) and reader.index == len(whole)
    if ends[len(whole)] < len(data):  # a record cut by the file's end
        assert len(recs) == len(whole) + 1 and recs[-1][1] == "truncated_file"
        assert recs[-1][3] == ends[len(whole)]
    else:
        assert len(recs) == len(whole) and not reader.incomplete
