"""The committed list of SigmaHQ rules whose query and engine differ over the corpus stays readable
and names real rules (bench/rule_differential.py writes it; the run takes minutes, too long here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS

LIST = Path(__file__).parent / "data" / "sigmahq_query_limitations.txt"
SIGMA = CORPUS / "sigma"
CAUSES = {"keyword case", "value over the keyword copy", "elasticsearch differs from the matcher",
          "cidr on a non-ip field", "field-less keyword", "query refused"}  # fmt: skip


def _lines() -> list[tuple[str, str, str]]:
    out = []
    for line in LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, store, reason = line.split(None, 2)
            out.append((name, store, reason))
    return out


def test_every_listed_difference_has_a_known_cause_and_no_unexplained_one() -> None:
    lines = _lines()
    assert lines
    for name, store, reason in lines:
        assert store == "elasticsearch", name
        assert reason.split(":")[0] in CAUSES, (name, reason)
    assert len({n for n, _, _ in lines}) == len(lines)


def test_every_listed_rule_is_a_rule_of_the_corpus() -> None:
    if not SIGMA.is_dir():
        pytest.skip(f"no SigmaHQ rules at {SIGMA} (set CANH_CORPUS to the shared corpus folder)")
    names = {f"{p.parent.name}/{p.name}" for d in ("rules", "rules-emerging-threats", "rules-threat-hunting")
             for p in (SIGMA / d).rglob("*.yml")}  # fmt: skip
    assert [n for n, _, _ in _lines() if n not in names] == []
