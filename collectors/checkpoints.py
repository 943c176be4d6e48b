"""Where each followed file was read up to: a small JSON registry in the data folder.

A file is known by device + inode, checked against a fingerprint of its first line (inodes are
reused after deletion). The offset stored is the end of the last batch the store acknowledged, so a
crash re-reads at most one batch, and deterministic event ids make that re-read a no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import orjson

FINGERPRINT_MAX = 1024


@dataclass
class FileState:
    """One file's identity and progress."""

    path: str  # where it was last seen
    dev: int
    ino: int
    fingerprint: str  # blake2b of the first line(s), see fingerprint()
    offset: int = 0  # bytes read and acknowledged (decompressed bytes for .gz)
    done: bool = False  # gzip backfill read to its end
    seen: float = 0.0  # last time the file was matched or read (epoch seconds)
    # Content replaced at the path starting with the same first line (a fixed banner): counted, so
    # the new content's event ids differ from the old content's at the same offsets.
    generation: int = 0

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"


def fingerprint(head: bytes) -> str | None:
    """Identity of a file's content: its first line, plus following ``#`` header lines (W3C, Zeek TSV).

    None until the first line is complete, so a file being written is not fingerprinted half-way.
    Headers are included because IIS/Zeek files of one folder all start with the same first line.
    """
    pos = 0
    while True:
        end = head.find(b"\n", pos)
        if end < 0 or end >= FINGERPRINT_MAX:
            return head_hash(head[:FINGERPRINT_MAX]) if len(head) >= FINGERPRINT_MAX else None
        if head[pos : pos + 1] != b"#":
            return head_hash(head[: end + 1])
        pos = end + 1


def head_hash(data: bytes) -> str:
    """The 16-hex-digit hash fingerprints are made of."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def read_head(fh: IO[bytes]) -> bytes:
    """The first bytes of an open file (position restored), enough for :func:`fingerprint`."""
    pos = fh.tell()
    fh.seek(0)
    head = fh.read(FINGERPRINT_MAX)
    fh.seek(pos)
    return head


class Checkpoints:
    """The registry of one source, saved atomically (write to a temporary file, then rename)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.files: dict[str, FileState] = {}
        # Generations ended by truncation (copytruncate): fingerprint -> (folder, offset reached), so
        # the copy made just before the truncation resumes where the original stopped.
        self.retired: dict[str, tuple[str, int]] = {}
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = orjson.loads(self.path.read_bytes())
            for item in data.get("files", []):
                state = FileState(**item)
                self.files[state.key] = state
            for fp, (folder, offset) in data.get("retired", {}).items():
                self.retired[fp] = (str(folder), int(offset))
        except (orjson.JSONDecodeError, TypeError, ValueError, OSError):
            # A damaged registry means re-reading from the start; event ids make that safe.
            self.files = {}

    def get(self, dev: int, ino: int) -> FileState | None:
        return self.files.get(f"{dev}:{ino}")

    def put(self, state: FileState) -> None:
        self.files[state.key] = state

    def forget(self, key: str) -> None:
        self.files.pop(key, None)

    def prune(self, keep: set[str], older_than: float = 7 * 86400) -> None:
        """Drop files neither matched now nor seen for a while (rotated away and deleted)."""
        cutoff = time.time() - older_than
        for key in [k for k, s in self.files.items() if k not in keep and s.seen < cutoff]:
            del self.files[key]

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        if len(self.retired) > 1000:
            for fp in list(self.retired)[: len(self.retired) - 1000]:
                del self.retired[fp]
        payload = orjson.dumps(
            {"version": 1, "files": [asdict(s) for s in self.files.values()], "retired": self.retired}
        )
        with tmp.open("wb") as fh:
            fh.write(payload)
        os.replace(tmp, self.path)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.save()


def registry_path(data_dir: Path, source_name: str) -> Path:
    """The registry file of a source under ``<data>/checkpoints``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in source_name)[:100] or "files"
    return data_dir / "checkpoints" / f"{safe}.json"


__all__ = ["Checkpoints", "FileState", "fingerprint", "head_hash", "read_head", "registry_path"]
