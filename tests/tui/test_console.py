"""The console as an analyst drives it, on a real store, through Textual's pilot."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import DataTable, Input, Static

from canh.clock import ManualClock
from canh.config import CanhConfig
from canh.events import new_event, set_many
from canh.i18n import set_language
from canh.store.sqlite import SQLiteStore
from canh.tui.factory import make_app


def _store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "c.db")
    evs = []
    for i, (ip, user, outcome) in enumerate(
        [
            ("185.220.101.47", "root", "failure"),
            ("185.220.101.47", "deploy", "success"),
            ("10.10.20.11", "quantri", "success"),
        ]
    ):
        ev = new_event(timestamp=f"2026-11-21T19:1{i}:00.000Z", dataset="system.auth", module="system", source="/a.log",
                       position=i, message=f"{outcome} login for {user} from {ip}", host="bastion-01")  # fmt: skip
        set_many(ev, {"source.ip": ip, "user.name": user, "event.outcome": outcome})
        evs.append(ev)
    store.write("events", evs)
    store.write("alerts", [{
        "id": "a1", "@timestamp": "2026-11-21T19:11:00.000Z", "event": {"kind": "alert", "severity_label": "high"},
        "rule": {"id": "r1", "name": "SSH login after brute force", "level": "high"}, "host": {"name": "bastion-01"},
        "source": {"ip": "185.220.101.47"}, "user": {"name": "deploy"}, "canh": {"event_ids": [evs[0]["event"]["id"], evs[1]["event"]["id"]]},
    }])  # fmt: skip
    return store


def _text(renderable: object) -> str:
    """What a rich renderable shows, as plain text."""
    console = Console(width=140, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


async def _run(tmp_path: Path, lang: str):  # type: ignore[no-untyped-def]
    set_language(lang)
    store = _store(tmp_path)
    app = make_app(store, CanhConfig(), ManualClock("2026-11-22T00:00:00Z"))
    return app, store


async def test_alert_queue_shows_alerts_in_local_time(tmp_path: Path) -> None:
    app, store = await _run(tmp_path, "en")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#alerts-table", DataTable)
            assert table.row_count == 1
            row = table.get_row_at(0)
            assert row[0] == "2026-11-22 02:11:00"  # 19:11Z is 02:11 in Hanoi
            assert str(row[1]) == "high" and row[2] == "SSH login after brute force"
            assert "1 alert(s) in the last 7d" in str(app.query_one("#status-line", Static).render())
            await app.workers.wait_for_complete()
            await pilot.pause()
            detail = _text(app.query_one("#alerts-detail", Static).content)
            # The detail shows the log lines the alert was raised on, fetched from the store.
            assert "185.220.101.47" in detail and "(2 of 2)" in detail
            assert "failure login for root from 185.220.101.47" in detail
            assert "success login for deploy from 185.220.101.47" in detail
    finally:
        store.close()
        set_language(None)


async def test_hunting_finds_events_and_reports_bad_queries(tmp_path: Path) -> None:
    app, store = await _run(tmp_path, "vi")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("slash")
            query = app.query_one("#hunt-query", Input)
            assert query.has_focus
            app.query_one("#hunt-since", Input).value = "7d"
            query.value = "source.ip:185.220.101.0/24 AND NOT event.outcome:failure"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#hunt-table", DataTable)
            assert table.row_count == 1
            assert "deploy" in table.get_row_at(0)[4]
            assert "1 trên 1 sự kiện khớp" in str(app.query_one("#status-line", Static).render())
            query.value = "user.name:(root"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            status = app.query_one("#status-line", Static)
            assert status.has_class("error")
            assert str(status.render()).startswith("không hiểu câu truy vấn")
    finally:
        store.close()
        set_language(None)


async def test_rules_pane_lists_the_rules_in_force_with_what_fired(tmp_path: Path) -> None:
    app, store = await _run(tmp_path, "en")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.press("f5")
            await app.workers.wait_for_complete()
            await pilot.pause()
            table = app.query_one("#rules-table", DataTable)
            assert table.row_count >= 50  # the shipped pack: rules and correlations
            titles = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
            assert "SSH brute force from one source" in titles
            status = str(app.query_one("#status-line", Static).render())
            assert "rule(s) loaded" in status and "0 problem(s)" in status
            # The highlighted rule is shown whole: its facts and the YAML its author wrote.
            detail = _text(app.query_one("#rules-detail", Static).content)
            assert "Author" in detail and "detection:" in detail and "condition:" in detail
    finally:
        store.close()
        set_language(None)
