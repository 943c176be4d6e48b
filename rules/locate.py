"""Lines in rule files: where each YAML document starts, and where the key or value a problem is
about sits, so ``canh rules check`` points at the offending line rather than at ``detection:``.

The loader reads rules with libyaml into plain dicts (no line marks, for speed); lines are only
looked for when there is something to report, by searching the document's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_SEPARATOR = re.compile(r"^---(?:[ \t]|$)", re.M)
_TOKEN = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"|(%[\w.-]+%)")
_FIELD = re.compile(r"\bfield ([\w.@-]+)")


def where(path: str | None, line: int | None) -> str:
    """``path:line`` as problems are printed (``?`` for a rule read from no file)."""
    base = path or "?"
    return f"{base}:{line}" if line else base


def doc_starts(text: str, raw_docs: Sequence[Any]) -> list[int]:
    """The first line (1-based) of each non-empty document, given every document PyYAML loaded
    from ``text`` (empty ones included): found from the ``---`` separators, or, when those do not
    account for the documents (directives, a separator in an odd place), from the YAML events."""
    marks = [text.count("\n", 0, m.start()) + 1 for m in _SEPARATOR.finditer(text)]
    head = text[: _SEPARATOR.search(text).start()] if marks else text  # type: ignore[union-attr]
    implicit = any(line.strip() and not line.lstrip().startswith("#") for line in head.splitlines())
    starts = ([1] if implicit or not marks else []) + [m + 1 for m in marks]
    if len(starts) != len(raw_docs):
        starts = _composed_starts(text)
        if len(starts) != len(raw_docs):
            return [1 for d in raw_docs if d is not None]
    return [s for s, d in zip(starts, raw_docs, strict=True) if d is not None]


def _composed_starts(text: str) -> list[int]:
    try:
        events = yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        starts = [e for e in events if isinstance(e, yaml.DocumentStartEvent)]
        return [e.start_mark.line + 2 if e.explicit and e.start_mark else 1 for e in starts]
    except yaml.YAMLError:
        return []


def _lines(path: str) -> tuple[str, ...]:
    try:
        st = Path(path).stat()
    except OSError:
        return ()
    return _read(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _read(path: str, mtime: int, size: int) -> tuple[str, ...]:
    # keyed by modification time and size, so a rewritten file is read again
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return ()


def doc_span(lines: Sequence[str], start: int) -> tuple[int, int]:
    """The 0-based line range ``[lo, hi)`` of the document starting at line ``start``."""
    lo = max(start - 1, 0)
    hi = len(lines)
    for i in range(lo + 1, len(lines)):
        if _SEPARATOR.match(lines[i]):
            hi = i
            break
    return lo, hi


def key_line(lines: Sequence[str], lo: int, hi: int, key: str) -> int | None:
    """The line of a top-level ``key:`` inside ``lines[lo:hi]``."""
    rx = re.compile(rf"^{re.escape(key)}\s*:")
    for i in range(lo, hi):
        if rx.match(lines[i]):
            return i + 1
    return None


def tokens(reason: str) -> list[str]:
    """What a problem message quotes (``'bogus'``, ``%name%``, ``field X``), longest first."""
    out = [next(g for g in m.groups() if g) for m in _TOKEN.finditer(reason)]
    out += _FIELD.findall(reason)
    return sorted({t for t in out if t.strip()}, key=len, reverse=True)


def find_line(lines: Sequence[str], lo: int, hi: int, needles: Iterable[str]) -> int | None:
    """The first line of ``lines[lo:hi]`` holding one of ``needles``, tried in order; lines of the
    ``detection:`` block first (where most problems are), then the rest of the document."""
    det = key_line(lines, lo, hi, "detection")
    order = list(range(det - 1, hi)) + list(range(lo, det - 1)) if det else list(range(lo, hi))
    for needle in needles:
        if not needle:
            continue
        for i in order:
            if needle in lines[i]:
                return i + 1
    return None


def detail_line(path: str | None, start: int | None, reason: str, keys: Sequence[str] = ()) -> int | None:
    """The line a problem of the document starting at ``start`` is about: a line holding what the
    message quotes (a modifier after ``|``), else one of ``keys``, else the document's first line."""
    if not path:
        return start
    lines = _lines(path)
    if not lines:
        return start
    lo, hi = doc_span(lines, start or 1)
    needles: list[str] = []
    for tok in tokens(reason):
        if "modifier" in reason.lower():
            needles.append("|" + tok)
        needles.append(tok)
    got = find_line(lines, lo, hi, needles)
    if got is None:
        for key in keys:
            got = key_line(lines, lo, hi, key)
            if got is not None:
                break
    return got if got is not None else (lo + 1 if start else None)
