"""``canh ingest capture.pcap``: the pcap/pcapng FileReader (collectors/registry.py FILE_READERS)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from canh.collectors.packets.capfile import CaptureReader, is_capture
from canh.collectors.packets.flows import FlowSettings, PacketAnalyzer
from canh.collectors.registry import LineContext, ReadProblem
from canh.events import Event


def open_capture(path: Path) -> BinaryIO:
    """The capture's bytes, un-gzipping ``.pcap.gz`` (as ``canh ingest`` does for text logs)."""
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    raw.seek(0)
    return raw


def read_capture(
    path: Path,
    *,
    source: str,
    host: str | None = None,
    settings: FlowSettings | None = None,
    analyzer: PacketAnalyzer | None = None,
) -> Iterator[list[Event] | ReadProblem]:
    """Batches of events (and problems) from one capture file; flows still open at its end are emitted."""
    an = analyzer or PacketAnalyzer(source=source, host=host, settings=settings)
    with open_capture(path) as fh:
        reader = CaptureReader(fh)
        yield from an.run(reader, where=str(path))
    if analyzer is None:
        rest = an.finish()
        if rest:
            yield rest


class PcapFileReader:
    """Reads pcap and pcapng files (claimed by their magic numbers) into ECS network events."""

    name = "pcap"

    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.settings = settings
        self.last: PacketAnalyzer | None = None

    def claims(self, head: bytes, path: Path) -> bool:
        return is_capture(head)

    def read(self, path: Path, ctx: LineContext) -> Iterator[Event | ReadProblem]:
        self.last = PacketAnalyzer(source=ctx.source, host=ctx.host, settings=self.settings)
        for item in read_capture(path, source=ctx.source, analyzer=self.last):
            if isinstance(item, list):
                yield from item
            else:
                yield item
        yield from self.last.finish()
