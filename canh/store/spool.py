"""A durable on-disk queue of write batches for when Elasticsearch is down or overloaded.

Batches are appended as frames to numbered segment files (``00000001.seg``...); each frame carries its
length and a CRC32 and is fsynced before ``append`` returns, so a batch the caller was told is safe
survives a crash or ``kill -9``. A torn frame at the tail (the crash happened mid-write) is cut off on
open. Replay reads frames oldest first and the cursor (segment, offset) is saved, fsynced, after
each batch lands, so a restart resumes where it stopped; a replayed batch may be sent twice after
a crash, which is harmless because records are created by id (a second copy is a 409 duplicate).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import orjson

from canh.i18n import t

log = logging.getLogger("canh.store.spool")

_MAGIC = b"CSP1"
_HEADER = struct.Struct(">4sII")  # magic, payload length, crc32
SEGMENT_BYTES = 64 * 1024 * 1024


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Ordered, checksummed, fsynced batches in a folder; processes sharing it take turns (flock)."""

    def __init__(
        self, folder: str | Path, *, max_bytes: int = 2_000_000_000, segment_bytes: int = SEGMENT_BYTES
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._warned = False
        with self._exclusive():
            self._cursor = self._read_cursor()
            self._repair_tail()

    def _exclusive(self) -> AbstractContextManager[None]:
        """Hold the folder's lock file: two collectors on one spool never interleave frames."""

        @contextlib.contextmanager
        def held() -> Iterator[None]:
            with self._lock, open(self.folder / "lock", "a+b") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

        return held()

    # -- layout --------------------------------------------------------------------------------------
    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.seg") if p.stem.isdigit())

    def _seg_path(self, n: int) -> Path:
        return self.folder / f"{n:08d}.seg"

    def _read_cursor(self) -> tuple[int, int]:
        try:
            seg, off = (self.folder / "cursor").read_text().split()
            return int(seg), int(off)
        except (OSError, ValueError):
            segs = self._segments()
            return (segs[0] if segs else 1, 0)

    def _save_cursor(self, seg: int, off: int) -> None:
        tmp = self.folder / "cursor.tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{seg} {off}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / "cursor")
        _fsync_dir(self.folder)
        self._cursor = (seg, off)

    def _repair_tail(self) -> None:
        """Cut a half-written frame off the newest segment (the writer died mid-append)."""
        segs = self._segments()
        if not segs:
            return
        path = self._seg_path(segs[-1])
        good = 0
        with open(path, "rb") as fh:
            for _, end in self._frames(fh, 0):
                good = end
        if good != path.stat().st_size:
            log.warning("spool: cutting a torn batch off %s at byte %d", path, good)
            with open(path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())

    @staticmethod
    def _frames(fh: Any, offset: int) -> Iterator[tuple[bytes, int]]:
        fh.seek(offset)
        pos = offset
        while True:
            head = fh.read(_HEADER.size)
            if len(head) < _HEADER.size:
                return
            magic, length, crc = _HEADER.unpack(head)
            if magic != _MAGIC:
                return
            payload = fh.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            pos += _HEADER.size + length
            yield payload, pos

    # -- API -----------------------------------------------------------------------------------------
    def backlog_bytes(self) -> int:
        """Bytes waiting to be replayed."""
        total = 0
        seg, off = self._cursor
        for n in self._segments():
            if n < seg:
                continue
            size = self._seg_path(n).stat().st_size
            total += size - off if n == seg else size
        return max(total, 0)

    def __len__(self) -> int:
        """Batches waiting (reads the frame headers)."""
        return sum(1 for _ in self._pending())

    def empty(self) -> bool:
        return self.backlog_bytes() == 0

    def append(self, stream: str, records: list[dict[str, Any]]) -> bool:
        """Store one batch durably; False (with a loud warning) when the size cap is reached."""
        payload = orjson.dumps({"stream": stream, "records": records}, default=str)
        with self._exclusive():
            self._cursor = max(self._cursor, self._read_cursor())
            if self.backlog_bytes() + len(payload) > self.max_bytes:
                if not self._warned:
                    log.error(t("es.spool_full", path=str(self.folder), mb=self.max_bytes // 1_000_000))
                    self._warned = True
                return False
            segs = self._segments()
            n = segs[-1] if segs else max(self._cursor[0], 1)
            path = self._seg_path(n)
            if (
                path.exists()
                and path.stat().st_size + len(payload) > self.segment_bytes
                and path.stat().st_size
            ):
                n += 1
                path = self._seg_path(n)
            with open(path, "ab") as fh:
                fh.write(_HEADER.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload)
                fh.flush()
                os.fsync(fh.fileno())
            if not segs or n != segs[-1]:
                _fsync_dir(self.folder)
            self._warned = False
        return True

    def _pending(self) -> Iterator[tuple[int, int, bytes]]:
        seg, off = self._cursor
        for n in self._segments():
            if n < seg:
                continue
            start = off if n == seg else 0
            with open(self._seg_path(n), "rb") as fh:
                for payload, end in self._frames(fh, start):
                    yield n, end, payload

    def replay(self) -> Iterator[tuple[str, list[dict[str, Any]], Any]]:
        """Batches oldest first as ``(stream, records, mark)``; call :meth:`done` with the mark once stored."""
        for n, end, payload in self._pending():
            batch = orjson.loads(payload)
            yield batch["stream"], batch["records"], (n, end)

    def done(self, mark: Any) -> None:
        """The batch up to ``mark`` is stored: move the cursor and drop fully replayed segments."""
        n, end = mark
        with self._exclusive():
            # Another process may have replayed further: the cursor only moves forward.
            if (n, end) <= self._read_cursor():
                self._cursor = self._read_cursor()
                return
            self._save_cursor(n, end)
            for old in self._segments():
                path = self._seg_path(old)
                if old < n or (old == n and end >= path.stat().st_size and old != self._segments()[-1]):
                    path.unlink(missing_ok=True)
