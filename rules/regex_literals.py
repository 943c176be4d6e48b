"""Literals a regular expression cannot match without: what the prefilter indexes a ``|re`` test by.

``required_literals(pattern, flags)`` reads the pattern with the ``re`` module's own parser and
returns alternatives: each is a set of strings of which one must occur (lower-cased) in any value
the pattern finds a match in. Only ASCII characters are kept, because lower-casing an ASCII
character does not depend on its neighbours (it does for the Greek capital sigma), so a literal
found in the raw value is found, lower-cased, in the lower-cased value the prefilter looks at.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Any

try:  # the parser behind re.compile (Python 3.11+); without it no literal is extracted
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Pythons
    _p = None
    _c = None

# Under re.IGNORECASE these ASCII letters also match characters that do not lower-case to them
# (İ and ı match i, ſ matches s); found with tests/rules/test_regex_literals.py.
ICASE_UNSAFE = frozenset("iIsS")


def required_literals(pattern: str, flags: int = 0) -> list[frozenset[str]]:
    """Alternatives of literal sets, one literal of each set occurring in every match; [] if none."""
    if _p is None:
        return []
    try:
        parsed = _p.parse(pattern, flags)
    except (re.error, RecursionError, TypeError, ValueError):
        return []
    icase = bool(parsed.state.flags & re.IGNORECASE)
    return [s for s in _sequence(list(parsed.data), icase, 0) if s]


def _usable(code: int, icase: bool) -> str | None:
    if code >= 128:
        return None
    ch = chr(code)
    if icase and ch in ICASE_UNSAFE:
        return None
    return ch.lower()


def _sequence(items: list[tuple[Any, Any]], icase: bool, depth: int) -> list[frozenset[str]]:
    """Required literal sets of a sequence of parsed items (all of them must match, in order)."""
    out: list[frozenset[str]] = []
    if depth > 20:
        return out
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(frozenset({"".join(run)}))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            ch = _usable(av, icase)
            if ch is None:
                flush()
            else:
                run.append(ch)
            continue
        flush()
        if op is _c.SUBPATTERN:
            _group, add, remove, sub = av
            inner = icase
            if add & re.IGNORECASE:
                inner = True
            if remove & re.IGNORECASE:
                inner = False
            out.extend(_sequence(list(sub.data), inner, depth + 1))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            low, _high, sub = av
            if low >= 1:
                out.extend(_sequence(list(sub.data), icase, depth + 1))
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.extend(_sequence(list(av.data), icase, depth + 1))
        elif op is _c.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                alts = _sequence(list(branch.data), icase, depth + 1)
                if not alts:
                    union = set()
                    break
                union |= max(alts, key=_strength)
            if union:
                out.append(frozenset(union))
        # anything else (classes, anchors, look-arounds, back-references) just ends the run
    flush()
    return out


def _strength(lits: AbstractSet[str]) -> tuple[int, int]:
    """Prefer the alternative whose shortest literal is longest (rarer), then fewer literals."""
    return (min(len(s) for s in lits), -len(lits))
