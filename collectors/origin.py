"""The content origin of a log file: the identity its event ids are made from, however it is read.

A file's lines get ``event.id = hash(origin) + byte offset``, where the offset is counted in the
decompressed stream and the origin is made of what does not change when logrotate renames or
compresses the file:

- the host the logs belong to (``host:`` of the source, ``canh ingest --host``, else this machine);
- the file's base name without rotation suffixes (``auth.log.1.gz``, ``auth.log-20261122`` ->
  ``auth.log``), so two files of one folder that happen to start with the same line stay apart;
- a fingerprint of the first line (plus the ``#`` header lines before it: W3C, Zeek TSV), which
  only changes when the content is replaced (copytruncate, a new file at the path).

So ``auth.log``, then ``auth.log.1``, then ``auth.log.1.gz``, read by ``canh ingest`` or by ``canh
collect``, give each line one id. The first line is all that is hashed because a longer prefix
would change while a short file grows; the host and base name are what keep files apart.
"""

from __future__ import annotations

import os
import re
import socket
from functools import lru_cache

from canh.collectors.checkpoints import fingerprint, head_hash

# Rotation and compression suffixes, taken off the end one at a time: .gz/.bz2/.xz/.zst, .1, .old,
# -20261122 / -2026112201 (dateext), .2026-11-22 (date-stamped copies).
_SUFFIX = re.compile(
    r"(?:\.(?:gz|bz2|xz|zst|z|old|bak)|\.\d{1,4}|-\d{8}(?:\d{2})?|[._-]\d{4}-\d{2}-\d{2}(?:[T_-]\d{2,6})?)$",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def machine_name() -> str:
    """This machine's host name (the observer of what it reads, and the default host of its logs)."""
    return socket.gethostname() or "localhost"


def base_name(path: str) -> str:
    """A file's name with rotation and compression suffixes taken off (``auth.log.2.gz`` -> ``auth.log``)."""
    name = os.path.basename(path)
    while True:
        stripped = _SUFFIX.sub("", name)
        if stripped == name or not stripped:
            return name
        name = stripped


def head_fingerprint(head: bytes, *, complete: bool) -> str | None:
    """The fingerprint of a file's first bytes (decompressed); ``complete`` when the file will not grow.

    A file still being written has no fingerprint until its first line ends; a finished file shorter
    than one line (no newline at all) is fingerprinted whole.
    """
    fp = fingerprint(head)
    if fp is None and complete and head:
        fp = fingerprint(head + b"\n") or head_hash(head)  # e.g. nothing but '#' header lines
    return fp


def file_origin(host: str | None, path: str, fp: str) -> str:
    """The origin string of a file whose first bytes have fingerprint ``fp`` (see the module docstring)."""
    return f"file://{host or machine_name()}/{base_name(path)}#{fp}"


__all__ = ["base_name", "file_origin", "head_fingerprint", "machine_name"]
