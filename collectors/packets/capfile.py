"""pcap and pcapng files read as raw records with ``struct`` (no dissection).

A plain buffered reader is about twice as fast as scapy's RawPcapReader (../shared/corpus/BASELINES.md)
and lets us count damage precisely: a record with a bogus length or a file cut mid-record is reported
(``None`` in the timestamp slot) and reading stops or goes on, never raises.

Records: ``(ts_seconds, linktype, frame, wire_length)``; problems: ``(None, reason, raw, offset)``.
``offset`` / ``index`` say how far a reader got, so a folder source can resume a growing file.

The packet loop reads :class:`Block` objects instead (``CaptureReader.blocks``): the file's own
buffer with its pcap record headers, so no tuple or frame copy is made per packet.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
MAX_RECORD = 262144 * 4  # far above any real snaplen; larger means the length field is garbage
CHUNK = 1 << 20

Record = tuple  # (ts, linktype, frame, wirelen) or (None, reason, raw, offset)
# Header of the records in a Block made from record tuples: the time as a float, then the captured
# and wire lengths; 16 bytes like a pcap record header, so the loop walks both layouts alike.
FLOAT_HEADER = struct.Struct("<dII")
_FLOAT_UNPACK = FLOAT_HEADER.unpack_from
BLOCK_BYTES = 1 << 20
# pcap record header unpackers by byte order: one object each, so a consumer can tell a block's
# layout by comparing its ``header`` (the packet loop has a faster path for little-endian files).
PCAP_HEADERS = {order: struct.Struct(order + "IIII").unpack_from for order in "<>"}


class Block:
    """Records of one link type laid out as in a pcap file: a 16-byte header, then the frame.

    ``header`` unpacks a record header: ``(seconds, fraction, caplen, wirelen)`` with the fraction
    counted in ``scale`` seconds, or, when ``scale`` is 0, ``(float seconds, caplen, wirelen)``.
    Records start at ``start``; the last may be incomplete. Whoever walks the block sets ``used``
    (the end of the last whole record read) and ``count`` (records read) before asking for more.
    """

    __slots__ = ("buf", "count", "header", "linktype", "scale", "start", "used")

    def __init__(self, buf: bytes, start: int, linktype: int, header: Any, scale: float) -> None:
        self.buf = buf
        self.start = start
        self.linktype = linktype
        self.header = header
        self.scale = scale
        self.used = start
        self.count = 0


def records_in(block: Block) -> list[Record]:
    """The whole records of a block as tuples (and ``used``/``count`` set)."""
    buf, hdr, scale, lt = block.buf, block.header, block.scale, block.linktype
    pos, nbuf = block.start, len(block.buf)
    out: list[Record] = []
    add = out.append
    while pos + 16 <= nbuf:
        if scale:
            sec, frac, incl, orig = hdr(buf, pos)
            ts = sec + frac * scale
        else:
            ts, incl, orig = hdr(buf, pos)
        end = pos + 16 + incl
        if end > nbuf or incl > MAX_RECORD:
            break
        add((ts, lt, buf[pos + 16 : end], orig))
        pos = end
    block.used = pos
    block.count = len(out)
    return out


def as_blocks(records: Iterable[Record]) -> Iterator[Block | Record]:
    """Record tuples as Blocks (one per run of a link type, about a megabyte each); problems as they are."""
    pack = FLOAT_HEADER.pack
    parts: list[bytes] = []
    size = 0
    linktype = None
    for rec in records:
        ts, lt, frame, wirelen = rec
        if ts is None or lt != linktype or size >= BLOCK_BYTES:
            if parts:
                yield Block(b"".join(parts), 0, linktype, _FLOAT_UNPACK, 0.0)  # type: ignore[arg-type]
                parts, size = [], 0
            if ts is None:
                linktype = None
                yield rec
                continue
            linktype = lt
        parts.append(pack(ts, len(frame), wirelen))
        parts.append(frame)
        size += 16 + len(frame)
    if parts:
        yield Block(b"".join(parts), 0, linktype, _FLOAT_UNPACK, 0.0)  # type: ignore[arg-type]


def is_capture(head: bytes) -> bool:
    """True when the first bytes are a pcap or pcapng header."""
    return head[:4] in PCAP_MAGICS or (
        head[:4] == PCAPNG_MAGIC and head[8:12] in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d")
    )


class CaptureReader:
    """Streams raw records from an open pcap/pcapng file, starting at ``offset`` (0 = file start)."""

    def __init__(self, fh: BinaryIO, *, offset: int = 0, index: int = 0) -> None:
        self.fh = fh
        self.offset = offset  # end of the last complete record (or header)
        self.index = index  # records read so far (packets, problems included)
        self.linktype = -1
        self.incomplete = False  # the file ended inside a record (a live file may still grow)

    def __iter__(self) -> Iterator[Record]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Record]]:
        """The records in lists, one per buffer read; a problem alone in its list."""
        for item in self.blocks():
            yield records_in(item) if isinstance(item, Block) else [item]

    def blocks(self) -> Iterator[Block | Record]:
        """Blocks of records (see :class:`Block`) and problem records, in file order.

        ``offset`` and ``index`` move when a block has been walked and the next item is asked for,
        so a reader abandoned half-way resumes at the start of that block rather than past records
        never seen.
        """
        self.fh.seek(0)
        head = self.fh.read(28)
        if head[:4] in PCAP_MAGICS:
            return self._pcap(head)
        if head[:4] == PCAPNG_MAGIC:
            return self._pcapng()
        return iter([(None, "not_a_capture", head, 0)])

    def _pcap(self, head: bytes) -> Iterator[Block | Record]:
        if len(head) < 24:
            self.incomplete = True
            yield (None, "truncated_file", head, 0)
            return
        order, scale = PCAP_MAGICS[head[:4]]
        linktype = struct.unpack_from(order + "I", head, 20)[0] & 0xFFFF
        self.linktype = linktype
        hdr = PCAP_HEADERS[order]
        pos_base = max(self.offset, 24)
        fh = self.fh
        fh.seek(pos_base)
        buf = fh.read(CHUNK)
        nbuf = len(buf)
        pos = 0
        while True:
            if pos + 16 <= nbuf:
                # The consumer walks the whole records in place and says how far it got.
                block = Block(buf, pos, linktype, hdr, scale)
                yield block
                if block.count:
                    pos = block.used
                    self.index += block.count
                    self.offset = pos_base + pos
            if pos + 16 <= nbuf:
                incl = hdr(buf, pos)[2]
                if incl > MAX_RECORD:
                    self.index += 1
                    yield (None, "bogus_length", buf[pos : pos + 16], pos_base + pos)
                    # No way to find the next record boundary in pcap: the rest of the file is lost.
                    self.offset = pos_base + nbuf + len(fh.read())
                    return
                more = fh.read(max(CHUNK, pos + 16 + incl - nbuf))
            else:
                more = fh.read(CHUNK)
            if not more:
                break
            pos_base += pos
            rest = buf[pos:]
            pos = 0
            if rest:
                # The record cut by the chunk's end goes alone into a small block of its own, and the
                # new chunk is walked as read: joining the rest to the new chunk copied a megabyte
                # per megabyte read. When that record cannot be completed from the new chunk (or
                # was not walked) the two are joined as before.
                end = _record_end(rest, more, hdr)
                if end:
                    bridge = rest + more[:end]
                    block = Block(bridge, 0, linktype, hdr, scale)
                    yield block
                    if block.count:
                        self.index += block.count
                        self.offset = pos_base + block.used
                        pos_base += len(rest)
                        rest = b""
                        pos = end
            buf = rest + more if rest else more
            nbuf = len(buf)
        if pos < nbuf:
            self.incomplete = True
            yield (None, "truncated_file", buf[pos : pos + 64], pos_base + pos)

    def _pcapng(self) -> Iterator[Block | Record]:
        """Blocks of the packets of a pcapng file (their own record headers: see FLOAT_HEADER).

        ``offset`` and ``index`` move as packets are read, up to a block ahead of the consumer.
        """
        fh = self.fh
        fh.seek(self.offset)
        buf = fh.read(CHUNK)
        view = memoryview(buf)  # frames are joined into the block from views: one copy, not two
        pos = 0
        pos_base = self.offset
        order = "<"
        u32, head, epb, opb = _pcapng_structs(order)
        pack = FLOAT_HEADER.pack
        parts: list[bytes | memoryview] = []
        size = 0
        block_lt = -1
        ifaces: list[tuple[int, float, float]] = []  # (linktype, ts unit, ts offset)
        if self.offset:
            # Resuming inside a file: the section and interface blocks are before offset; read them again.
            ifaces, order = _pcapng_headers(fh, self.offset)
            u32, head, epb, opb = _pcapng_structs(order)
            fh.seek(self.offset)
        while True:
            if pos + 12 > len(buf):
                more = fh.read(CHUNK)
                if not more:
                    break
                pos_base += pos
                buf = buf[pos:] + more
                view = memoryview(buf)
                pos = 0
                continue
            if buf[pos : pos + 4] == PCAPNG_MAGIC:
                bom = buf[pos + 8 : pos + 12]
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
                if not order:
                    if parts:
                        yield Block(b"".join(parts), 0, block_lt, _FLOAT_UNPACK, 0.0)
                        parts, size = [], 0
                    self.index += 1
                    yield (None, "bad_section", buf[pos : pos + 16], pos_base + pos)
                    return
                u32, head, epb, opb = _pcapng_structs(order)
                ifaces = []
            btype, blen = head(buf, pos)
            if blen < 12 or blen % 4 or blen > MAX_RECORD + 64:
                if parts:
                    yield Block(b"".join(parts), 0, block_lt, _FLOAT_UNPACK, 0.0)
                    parts, size = [], 0
                self.index += 1
                yield (None, "bogus_length", buf[pos : pos + 16], pos_base + pos)
                self.offset = pos_base + len(buf) + len(fh.read())
                return
            end = pos + blen
            if end > len(buf):
                more = fh.read(max(CHUNK, end - len(buf)))
                if not more:
                    break
                pos_base += pos
                buf = buf[pos:] + more
                view = memoryview(buf)
                pos = 0
                continue
            problem: Record | None = None
            start = caplen = lt = -1
            if btype == 6 or btype == 2:  # enhanced packet block / obsolete packet block
                if btype == 6:
                    iface, hi, lo, caplen, wirelen = epb(buf, pos + 8)
                else:
                    iface, _drops, hi, lo, caplen, wirelen = opb(buf, pos + 8)
                if iface >= len(ifaces) or 28 + caplen > blen:
                    problem = (None, "bad_block", buf[pos : pos + 32], pos_base + pos)
                else:
                    lt, unit, tsoff = ifaces[iface]
                    ts = ((hi << 32) | lo) * unit + tsoff
                    start = pos + 28
            elif btype == 3:  # simple packet block: interface 0, no timestamp
                if not ifaces:
                    problem = (None, "bad_block", buf[pos : pos + 32], pos_base + pos)
                else:
                    wirelen = u32(buf, pos + 8)[0]
                    caplen = min(wirelen, blen - 16)
                    lt, ts, start = ifaces[0][0], 0.0, pos + 12
            elif btype == 1:  # interface description block
                ifaces.append(_idb(buf[pos:end], order))
                self.linktype = ifaces[-1][0]
            if start >= 0:
                if lt != block_lt or size >= BLOCK_BYTES:
                    if parts:
                        yield Block(b"".join(parts), 0, block_lt, _FLOAT_UNPACK, 0.0)
                        parts, size = [], 0
                    block_lt = lt
                parts.append(pack(ts, caplen, wirelen))
                parts.append(view[start : start + caplen])
                size += 16 + caplen
                self.index += 1
            elif problem is not None:
                if parts:
                    yield Block(b"".join(parts), 0, block_lt, _FLOAT_UNPACK, 0.0)
                    parts, size = [], 0
                self.index += 1
                self.offset = pos_base + end
                yield problem
                pos = end
                continue
            self.offset = pos_base + end
            pos = end
        if parts:
            yield Block(b"".join(parts), 0, block_lt, _FLOAT_UNPACK, 0.0)
        if pos < len(buf):
            self.incomplete = True
            yield (None, "truncated_file", buf[pos : pos + 64], pos_base + pos)


def _record_end(rest: bytes, more: bytes, hdr: Any) -> int:
    """Where in ``more`` the pcap record that starts ``rest`` ends (0 when it does not end there).

    ``rest`` is shorter than one whole record; a length above MAX_RECORD is left to the caller's
    check, which reports it.
    """
    head = rest if len(rest) >= 16 else rest + more[: 16 - len(rest)]
    if len(head) < 16:
        return 0
    incl = hdr(head, 0)[2]
    end = 16 + incl - len(rest)
    if incl > MAX_RECORD or end <= 0 or end > len(more):
        return 0
    return end


def _pcapng_structs(order: str) -> tuple[Any, Any, Any, Any]:
    """Unpackers in a section's byte order: a 32-bit word, block head, enhanced and obsolete packet blocks."""
    return (
        struct.Struct(order + "I").unpack_from,
        struct.Struct(order + "II").unpack_from,
        struct.Struct(order + "IIIII").unpack_from,
        struct.Struct(order + "HHIIII").unpack_from,
    )


def _idb(block: bytes, order: str) -> tuple[int, float, float]:
    """(linktype, seconds per timestamp unit, timestamp offset) from an interface description block."""
    linktype = struct.unpack_from(order + "H", block, 8)[0]
    unit, tsoff = 1e-6, 0.0
    pos, end = 16, len(block) - 4
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", block, pos)
        if code == 0:
            break
        value = block[pos + 4 : pos + 4 + length]
        if code == 9 and length >= 1:  # if_tsresol
            v = value[0]
            unit = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0**-v
        elif code == 14 and length >= 8:  # if_tsoffset
            tsoff = float(struct.unpack_from(order + "q", value)[0])
        pos += 4 + ((length + 3) & ~3)
    return linktype, unit, tsoff


def _pcapng_headers(fh: BinaryIO, upto: int) -> tuple[list[tuple[int, float, float]], str]:
    """Interfaces and byte order in force at ``upto``, by walking block headers from the start."""
    fh.seek(0)
    ifaces: list[tuple[int, float, float]] = []
    order = "<"
    pos = 0
    while pos < upto:
        head = fh.read(12)
        if len(head) < 12:
            break
        if head[:4] == PCAPNG_MAGIC:
            order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(order + "II", head)
        if blen < 12:
            break
        if btype == 1:
            ifaces.append(_idb(head + fh.read(blen - 12), order))
        else:
            fh.seek(pos + blen)
        pos += blen
    return ifaces, order
