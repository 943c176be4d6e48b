"""The register pane: every information system with its security level, dossier, next inspection and
four-layer coverage, for the manager on the morning round (overdue and uncovered systems first)."""

from __future__ import annotations

from datetime import date, tzinfo

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from canh.clock import Clock
from canh.errors import CanhError
from canh.i18n import language, t
from canh.incidents.register import (
    System,
    dossier_due,
    independent_inspection_ok,
    is_overdue,
    next_inspection_due,
)
from canh.incidents.regulation import DOSSIER_STATUSES
from canh.incidents.systems import Register
from canh.store.base import Store
from canh.tui.messages import SystemsLoaded
from canh.tui.panes import Pane


def layers(system: System, monitored: set[str], today: date) -> list[bool]:
    """The four protection layers: on-site team, monitoring (events seen), independent inspection, national link."""
    return [
        system.coverage.onsite_team,
        system.code in monitored,
        independent_inspection_ok(system, today),
        system.coverage.national_connection,
    ]


def layers_cell(flags: list[bool]) -> Text:
    out = Text()
    for i, ok in enumerate(flags):
        out.append(f"{i + 1}{'✓' if ok else '✗'} ", style="green" if ok else "red")
    return out


def level_cell(system: System) -> Text:
    # An unapproved (proposed) level is shown with a question mark: it is not yet in force.
    if system.approved_level:
        return Text(str(system.approved_level), style="bold")
    if system.proposed_level:
        return Text(f"{system.proposed_level}?", style="yellow")
    return Text("—", style="red")


class RegisterPane(Pane):
    """Systems that need attention first: overdue inspections, late dossiers, missing layers."""

    def __init__(self, store: Store, clock: Clock, zone: tzinfo, actor: str) -> None:
        super().__init__(classes="pane-body")
        self.store, self.clock, self.zone, self.actor = store, clock, zone, actor
        self.rows: list[System] = []
        self.monitored: set[str] = set()

    def compose(self) -> ComposeResult:
        yield DataTable(id="register-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("console.select_hint"), id="register-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("col_code", "col_name", "col_agency", "col_sec_level", "col_dossier", "col_next_inspection",
                      "col_layers"):  # fmt: skip
            table.add_column(t(f"console.{label}"), key=label)
        self.reload()

    def today(self) -> date:
        return self.clock.now().astimezone(self.zone).date()

    @work(thread=True, exclusive=True, group="register")
    def reload(self) -> None:
        try:
            reg = Register(self.store, self.clock, self.actor)
            systems = reg.all()
            monitored = reg.monitored(reg.index(systems))
            self.post_message(SystemsLoaded(systems, monitored))
        except CanhError as exc:
            self.post_message(SystemsLoaded(error=exc.render()))

    def on_systems_loaded(self, message: SystemsLoaded) -> None:
        message.stop()
        if message.error:
            self._status(message.error, error=True)
            return
        today = self.today()
        self.monitored = message.monitored

        def attention(s: System) -> tuple[int, int, str]:
            late = dossier_due(s)
            return (
                -int(is_overdue(s, today)) - int(bool(late and late[1] < today)),
                sum(layers(s, self.monitored, today)),
                s.code,
            )

        self.rows = sorted(message.systems, key=attention)
        overdue = sum(1 for s in self.rows if is_overdue(s, today))
        self._status(
            t("console.register_count", n=len(self.rows), overdue=overdue, monitored=len(self.monitored))
        )
        table = self.query_one(DataTable)
        table.clear()
        vi = language() == "vi"
        for s in self.rows:
            due = next_inspection_due(s)
            due_text = Text(
                due.isoformat() if due else t("console.never_inspected"),
                style="bold red" if is_overdue(s, today) else "",
            )
            status = DOSSIER_STATUSES.get(s.dossier.status, s.dossier.status) if vi else s.dossier.status
            table.add_row(
                s.code,
                s.name_vi if vi or not s.name_en else s.name_en,
                s.owner_org,
                level_cell(s),
                status,
                due_text,
                layers_cell(layers(s, self.monitored, today)),
                key=s.code,
            )
        if self.rows:
            self._show(self.rows[0])

    @on(DataTable.RowHighlighted, "#register-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        s = next((x for x in self.rows if x.code == event.row_key.value), None)
        if s is not None:
            self._show(s)

    def _show(self, s: System) -> None:
        today = self.today()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row(s.code, f"{s.name_vi}" + (f" / {s.name_en}" if s.name_en else ""))
        grid.add_row(t("console.col_agency"), " · ".join(x for x in (s.owner_org, s.operator_unit) if x))
        d = s.dossier
        decision = " ".join(
            str(x) for x in (d.decision.number, d.decision.date or "", d.decision.authority) if x
        )
        grid.add_row(t("console.col_dossier"), f"{d.status}  {decision}".strip())
        waiting = dossier_due(s)
        if waiting:
            late = waiting[1] < today
            grid.add_row(
                t("console.dossier_due"),
                Text(f"{waiting[0]} ≤ {waiting[1].isoformat()}", style="bold red" if late else "yellow"),
            )
        grid.add_row(t("console.col_layers"), layers_cell(layers(s, self.monitored, today)))
        assets = s.assets.hosts + s.assets.cidrs + s.assets.urls
        grid.add_row(t("console.assets"), ", ".join(assets) or "—")
        for c in s.contacts:
            grid.add_row(t("console.contact"), " ".join(x for x in (c.name, c.role, c.phone, c.email) if x))
        insp = Table(box=None, show_header=True, header_style="bold", padding=(0, 1))
        insp.add_column(t("console.col_inspection_date"))
        insp.add_column(t("console.col_assessor"))
        for i in sorted(s.inspections, key=lambda i: i.date, reverse=True)[:6]:
            insp.add_row(
                i.date.isoformat(),
                f"{i.assessor} ({t('console.external') if i.external else t('console.internal')})",
            )
        self.query_one("#register-detail", Static).update(Group(grid, Text(""), insp))
