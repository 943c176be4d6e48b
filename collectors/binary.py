"""Telling a text log from a binary file by its first bytes (for readers that follow folders and globs)."""

from __future__ import annotations


def looks_binary(block: bytes) -> bool:
    """Whether a file's first bytes (decompressed) are not text: over 5% NUL or control bytes, or
    mostly invalid UTF-8 (legacy 8-bit encodings of Vietnamese stay below that).

    A few are allowed: attack payloads logged as they came (a TLS handshake sent to a plain HTTP
    port puts NUL and control bytes in an access log line).
    """
    if not block:
        return False
    controls = sum(block.count(c) for c in _CONTROLS)
    if controls * 20 > len(block):
        return True
    text = block[: len(block) - 3] if len(block) > 3 else block  # a character cut at the block's end
    invalid = text.decode("utf-8", "replace").count("\ufffd")
    return invalid * 10 > len(text) * 3


_CONTROLS = [bytes([c]) for c in range(32) if c not in (9, 10, 11, 12, 13, 27)] + [b"\x7f"]


__all__ = ["looks_binary"]
