"""Inspection cadence from canh.yml (``register.inspection_every``) over the regime's table: validated
with file:line errors, used by next_inspection_due wherever due dates are computed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest

from canh.config import REGIME_NAMES, parse_config
from canh.errors import ConfigError
from canh.incidents.register import (
    Inspection,
    System,
    independent_inspection_ok,
    is_overdue,
    next_inspection_due,
)
from canh.incidents.regulation import REGIMES, inspection_every, use_cadence, use_register_config

SAMPLE = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))


@pytest.fixture(autouse=True)
def _table_cadence() -> Iterator[None]:
    use_cadence({})
    yield
    use_cadence({})  # the override is process-wide: leave the regulation's table for other tests


def test_the_config_knows_the_regimes_of_the_regulation_table() -> None:
    assert REGIME_NAMES == REGIMES


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("register:\n  inspection_every:\n    ND86:\n      3: 180d\n", "canh.yml:2", "ND86"),
        ("register:\n  inspection_every:\n    ND331:\n      3: 180d\n      7: 30d\n", "canh.yml:3", "7"),
        (
            "register:\n  inspection_every:\n    ND331:\n      1: 2y\n      3: half a year\n",
            "canh.yml:4",
            "2y",
        ),
        (
            "register:\n  inspection_every:\n    ND331:\n      3: 180d\n      5: nửa năm\n",
            "canh.yml:5",
            "nửa năm",
        ),
        ("register:\n  inspection_every:\n    ND85: 180d\n", "canh.yml:3", "180d"),
        ("register:\n  cadence: {}\n", "canh.yml:2", "register.cadence"),
    ],
)
def test_bad_cadence_config_names_file_line_and_key(text: str, where: str, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    assert e.value.where == where and says in e.value.render("en"), e.value.render("en")


def test_configured_cadence_overrides_the_regimes_table_for_due_dates_and_layer_3() -> None:
    cfg = parse_config("register:\n  inspection_every:\n    ND331:\n      3: 180d\n      5: 13w\n").register
    s = System(code="HT-1", name_vi="Một", regime="ND331", proposed_level=3,
               inspections=[Inspection(date=date(2026, 1, 10), external=True)])  # fmt: skip
    s85 = s.model_copy(update={"regime": "ND85"})
    assert next_inspection_due(s) == date(2027, 1, 10)  # the table: yearly for level 3
    use_register_config(cfg)
    assert inspection_every("ND331", 3) == timedelta(days=180)
    assert inspection_every("ND331", 5) == timedelta(weeks=13)
    assert inspection_every("ND331", 4) == timedelta(days=365)  # levels not given keep the table
    assert next_inspection_due(s) == date(2026, 7, 9)
    assert next_inspection_due(s85) == date(2027, 1, 10)  # the other regime keeps its table
    assert is_overdue(s, date(2026, 8, 1)) and not is_overdue(s85, date(2026, 8, 1))
    assert not independent_inspection_ok(s, date(2026, 8, 1))
    use_register_config(parse_config("").register)
    assert next_inspection_due(s) == date(2027, 1, 10)


def test_the_cli_and_the_register_report_use_the_configured_cadence(canh, home: Path) -> None:  # type: ignore[no-untyped-def]
    canh("systems", "import", str(SAMPLE), check=True)
    # HT-VP-02 (ND85, level 3) was last inspected on 2025-10-02: yearly by the table.
    [before] = canh.json("systems", "show", "HT-VP-02")
    assert before["next_inspection_due"] == "2026-10-02"
    (home / "canh.yml").write_text(
        "register:\n  inspection_every:\n    ND85:\n      3: 90d\n", encoding="utf-8"
    )
    [after] = canh.json("systems", "show", "HT-VP-02")
    assert after["next_inspection_due"] == "2025-12-31" and after["inspection_overdue"]
    listed = {r["code"]: r for r in canh.json("systems", "list", "--level", "3")}
    assert listed["HT-VP-02"]["next_inspection_due"] == "2025-12-31"
    report = canh("report", "register", "--format", "json", check=True).stdout
    assert '"next_inspection_due": "2025-12-31"' in report
    (home / "canh.yml").write_text(
        "register:\n  inspection_every:\n    ND85:\n      9: 90d\n", encoding="utf-8"
    )
    bad = canh("systems", "list")
    assert bad.returncode == 1 and "canh.yml:3" in bad.stderr and "9" in bad.stderr
