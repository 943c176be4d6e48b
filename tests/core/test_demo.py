"""`canh demo` shows yesterday: the sample day moved to the real date, with the same findings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from canh.clock import ManualClock
from canh.demo import DEMO_NOW, demo_day, demo_files, relocate, run_demo
from canh.events import parse_ts
from canh.store.sqlite import SQLiteStore


def test_demo_day_is_yesterday_in_vietnam() -> None:
    # 23:30 UTC on 5 January is already 6 January in Hanoi: yesterday there is the 5th.
    assert demo_day(datetime(2027, 1, 5, 23, 30, tzinfo=UTC)) == date(2027, 1, 5)
    assert demo_day(datetime(2027, 1, 5, 12, 0, tzinfo=UTC)) == date(2027, 1, 4)


def test_relocate_rewrites_only_the_dates(tmp_path: Path) -> None:
    files = relocate(demo_files(), date(2027, 1, 5), tmp_path)
    assert [f.name for f in files] == [f.name for f in demo_files()]
    for moved, original in zip(files, demo_files(), strict=True):
        new = moved.read_text(encoding="utf-8").splitlines()
        old = original.read_text(encoding="utf-8").splitlines()
        assert len(new) == len(old)
        for a, b in zip(new, old, strict=True):
            undone = a.replace("Jan  5 ", "Nov 21 ", 1).replace("05/Jan/2027:", "21/Nov/2026:")
            assert undone.replace("date=2027-01-05 ", "date=2026-11-21 ") == b
    auth = (tmp_path / "auth.log").read_text(encoding="utf-8")
    assert auth.startswith("Jan  5 00:00:00 ")  # RFC 3164 pads a one-digit day with a space


def test_demo_on_the_real_clock_finds_what_the_pinned_replay_finds(tmp_path: Path) -> None:
    pinned = run_demo(str(tmp_path / "pinned"), None, ManualClock(DEMO_NOW))
    live = run_demo(str(tmp_path / "live"), None, ManualClock("2027-01-06T03:00:00Z"))
    assert live["events"] == pinned["events"] and live["problems"] == pinned["problems"] == 0
    assert live["alerts"] == pinned["alerts"] > 0
    assert live["top_rules"] == pinned["top_rules"]
    assert live["incidents"]["incidents"] == pinned["incidents"]["incidents"]
    assert live["incidents"]["by_priority"] == pinned["incidents"]["by_priority"]
    store = SQLiteStore(tmp_path / "live" / "data" / "canh.db")
    try:
        newest = store.search("events", "*", limit=1)[0]["@timestamp"]
        oldest = store.search("events", "*", limit=1, order="asc")[0]["@timestamp"]
        # The whole day lies on 5 January in Vietnam (UTC+7), before the clock's "now".
        assert parse_ts(oldest) >= datetime(2027, 1, 4, 17, 0, tzinfo=UTC)
        assert parse_ts(newest) < datetime(2027, 1, 5, 17, 0, tzinfo=UTC)
        assert store.count("alerts", since=datetime(2027, 1, 4, 3, 0, tzinfo=UTC)) == live["alerts"]
    finally:
        store.close()
