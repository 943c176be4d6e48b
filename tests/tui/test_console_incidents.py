"""The incidents and register panes as an analyst and a manager drive them, on a real store."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path

from rich.console import Console
from textual.widgets import DataTable, Input, OptionList, Static

from canh.clock import ManualClock
from canh.config import CanhConfig
from canh.i18n import set_language
from canh.incidents.desk import IncidentDesk
from canh.incidents.register_io import read_file
from canh.incidents.systems import Register
from canh.store.scheduled import alert_id
from canh.store.sqlite import SQLiteStore
from canh.tui.dialogs import AskChoice, AskText
from canh.tui.factory import make_app

NOW = "2026-11-21T20:00:00Z"


def _store(tmp_path: Path, clock: ManualClock) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "c.db")
    reg = Register(store, clock, "lan")
    csv = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))
    for system in read_file(csv).systems:
        reg.upsert(system)
    store.write("alerts", [{
        "id": alert_id("r-ssh", "e1"), "@timestamp": "2026-11-21T19:11:00.000Z",
        "event": {"kind": "signal", "severity_label": "high", "ingested": "2026-11-21T19:11:00.000Z"},
        "rule": {"id": "r-ssh", "name": "SSH login after brute force", "level": "high"},
        "host": {"name": "bastion-01"}, "source": {"ip": "185.220.101.47"}, "user": {"name": "deploy"},
        "related": {"event_ids": ["e1"]},
    }])  # fmt: skip
    return store


async def _settle(app, pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await app.workers.wait_for_complete()
        await pilot.pause()


def _text(widget: Static) -> str:
    """What the widget shows, as plain text (rich renderables included)."""
    out = Console(width=200, file=io.StringIO(), record=True)
    out.print(widget.content)
    return out.export_text()


def _status(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.query_one("#status-line", Static).render())


async def test_alert_becomes_incident_on_its_system_then_taken_and_commented(tmp_path: Path) -> None:
    set_language("en")
    clock = ManualClock(NOW)
    store = _store(tmp_path, clock)
    app = make_app(store, CanhConfig(), clock, actor="lan")
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await _settle(app, pilot)
            assert app.query_one("#incidents-table", DataTable).row_count == 0
            app.query_one("#alerts-table", DataTable).focus()
            await pilot.press("i")
            await _settle(app, pilot)
            # bastion-01 belongs to HT-KHCN-01 (level 4): a high alert there is P1, per the priority table.
            incidents = app.query_one("#incidents-table", DataTable)
            assert incidents.row_count == 1
            row = incidents.get_row_at(0)
            assert str(row[1]) == "P1" and row[2] == "new" and row[7] == "HT-KHCN-01"
            assert "ack" in str(row[3])
            assert app.query_one("#alerts-table", DataTable).get_row_at(0)[7] == row[0]
            incidents.focus()
            await pilot.press("t")
            await _settle(app, pilot)
            row = incidents.get_row_at(0)
            assert row[2] == "triage" and row[6] == "lan"
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, AskText)
            app.screen.query_one(Input).value = "Đã chặn IP 185.220.101.47 trên tường lửa"
            await pilot.press("enter")
            await _settle(app, pilot)
            inc = IncidentDesk(store, clock).get(str(row[0]))[0]
            assert inc.assignee == "lan" and inc.status == "triage"
            assert inc.comments[-1].text == "Đã chặn IP 185.220.101.47 trên tường lửa"
            assert [e.action for e in inc.timeline][-3:] == ["assigned", "status", "comment"]
            assert "Đã chặn IP" in _text(app.query_one("#incidents-detail", Static))
    finally:
        store.close()
        set_language(None)


async def test_change_on_a_stale_row_is_refused_and_the_fresh_state_shown(tmp_path: Path) -> None:
    set_language("vi")
    clock = ManualClock(NOW)
    store = _store(tmp_path, clock)
    desk = IncidentDesk(store, clock, actor="hung", systems=Register(store, clock).all())
    inc = desk.create("Dò quét cổng từ 45.95.147.236", alert_level_="medium", systems=["HT-VP-02"])
    app = make_app(store, CanhConfig(), clock, actor="lan")
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("f2")
            await _settle(app, pilot)
            table = app.query_one("#incidents-table", DataTable)
            assert table.row_count == 1
            desk.move(inc.id, "in_progress")  # a colleague moves it while lan looks at the old row
            table.focus()
            await pilot.press("s")
            await pilot.pause()
            assert isinstance(app.screen, AskChoice)
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            assert ids == ["triage", "in_progress", "false_positive"]  # the moves allowed from "new"
            options.highlighted = ids.index("triage")
            await pilot.press("enter")
            await _settle(app, pilot)
            assert app.query_one("#status-line", Static).has_class("error")
            assert desk.get(inc.id)[0].status == "in_progress"  # nothing overwritten
            assert table.get_row_at(0)[2] == "đang xử lý"  # the fresh state is on screen
    finally:
        store.close()
        set_language(None)


async def test_register_lists_overdue_systems_first_with_their_layers(tmp_path: Path) -> None:
    set_language("en")
    clock = ManualClock(NOW)
    store = _store(tmp_path, clock)
    app = make_app(store, CanhConfig(), clock, actor="lan")
    try:
        async with app.run_test(size=(180, 50)) as pilot:
            await pilot.press("f4")
            await _settle(app, pilot)
            table = app.query_one("#register-table", DataTable)
            systems = Register(store, clock).all()
            assert table.row_count == len(systems) == 30
            assert "30 system(s)" in _status(app)
            from canh.incidents.register import is_overdue

            today = clock.now().date()
            flags = [is_overdue(next(s for s in systems if s.code == table.get_row_at(i)[0]), today)
                     for i in range(table.row_count)]  # fmt: skip
            assert any(flags) and flags == sorted(flags, reverse=True)  # every overdue system above the rest
            khcn = next(i for i in range(table.row_count) if table.get_row_at(i)[0] == "HT-KHCN-01")
            row = table.get_row_at(khcn)
            assert str(row[3]) == "4" and "3✓" in str(
                row[6]
            )  # level 4, inspected by an external firm in 2026
            table.move_cursor(row=khcn)
            await pilot.pause()
            assert "fw-01" in _text(app.query_one("#register-detail", Static))
    finally:
        store.close()
        set_language(None)
