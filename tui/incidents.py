"""The incidents pane: the team's open work with priorities and SLA clocks, and the analyst's verbs
(take, move, comment, escalate). Changes go through the incident desk, so a lost race with another
analyst shows the conflict and the fresh state instead of overwriting it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from canh.clock import Clock
from canh.config import IncidentsConfig
from canh.errors import CanhError
from canh.i18n import t
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import TRANSITIONS, Incident, breached, remaining
from canh.incidents.systems import Register
from canh.incidents.timeline import action_name, detail_text
from canh.store.base import Store
from canh.timefmt import local_time, short_delta
from canh.tui.dialogs import AskChoice, AskText
from canh.tui.messages import Changed, IncidentsLoaded
from canh.tui.panes import LEVEL_STYLE, TITLE_WIDTH, Pane

PRIORITY_STYLE = {"P1": "bold white on red", "P2": "bold red", "P3": "yellow", "P4": "cyan"}


def sla_cell(inc: Incident, now: datetime) -> Text:
    """The most urgent running SLA clock, red when breached or overdue, yellow when warned."""
    gone = breached(inc)
    left = remaining(inc, now)
    if not left:
        return Text(
            t("sla.breached", targets=",".join(gone)) if gone else "✓",
            style="red" if gone else "green",
        )
    name, d = min(left.items(), key=lambda kv: kv[1])
    clock = inc.sla[name]
    style = "bold red" if d < timedelta(0) or gone else "yellow" if clock.warned_at else ""
    return Text(f"{t(f'sla.{name}')} {short_delta(d)}", style=style)


def status_label(status: str) -> str:
    return t(f"console.status_{status}")


class IncidentsPane(Pane):
    """Open incidents, most urgent first (priority, then the nearest SLA due); `o` shows closed ones too."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("t", "take", "Take"),
        Binding("s", "move", "Status"),
        Binding("c", "comment", "Comment"),
        Binding("e", "escalate", "Escalate"),
        Binding("o", "toggle_open", "Open/all"),
    ]

    def __init__(
        self, store: Store, clock: Clock, zone: tzinfo, zone_name: str, config: IncidentsConfig, actor: str
    ) -> None:
        super().__init__(classes="pane-body")
        self.store, self.clock, self.zone, self.zone_name = store, clock, zone, zone_name
        self.config, self.actor = config, actor
        self.rows: list[Incident] = []
        # The version each row was read at: a change made on what the analyst saw becomes a conflict,
        # never a silent overwrite of a colleague's newer change.
        self.versions: dict[str, int] = {}
        self.open_only = True
        self.keep_error = False
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="incidents-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("console.select_hint"), id="incidents-detail", classes="detail")

    def on_mount(self) -> None:
        # Key hints in the analyst's language (class-level bindings can only hold one).
        for key, action, label in (
            ("t", "take", "console.key_take"),
            ("s", "move", "console.key_status"),
            ("c", "comment", "console.key_comment"),
            ("e", "escalate", "console.key_escalate"),
            ("o", "toggle_open", "console.key_open_all"),
        ):
            self._bindings.bind(key, action, t(label))
        table = self.query_one(DataTable)
        # The title has a fixed width (cropped; whole in the detail below) so the SLA countdown and
        # the columns after it stay on screen in a 100-column terminal.
        for label in ("col_id", "col_priority", "col_status", "col_sla", "col_title", "col_alerts",
                      "col_assignee", "col_systems", "col_updated"):  # fmt: skip
            width = TITLE_WIDTH if label == "col_title" else None
            table.add_column(t(f"console.{label}", zone=self.zone_name), key=label, width=width)
        self.reload()

    def desk(self) -> IncidentDesk:
        systems = Register(self.store, self.clock, self.actor).all()
        return IncidentDesk(
            self.store, self.clock, self.config, actor=self.actor, systems=systems, zone=self.zone
        )

    @work(thread=True, exclusive=True, group="incidents")
    def reload(self) -> None:
        try:
            listed = self.desk().listing(open_only=self.open_only, limit=1000)
            now = self.clock.now()
            incs = [i for i, _ in listed]

            def urgency(i: Incident) -> tuple[int, float, str]:
                left = remaining(i, now)
                nearest = min(left.values()).total_seconds() if left else float("inf")
                return (int(i.priority[1:]) if i.priority[1:].isdigit() else 9, nearest, i.id)

            incs.sort(key=urgency)
            self.post_message(IncidentsLoaded(incs, {i.id: v for i, v in listed}))
        except CanhError as exc:
            self.post_message(IncidentsLoaded(error=exc.render()))

    def on_incidents_loaded(self, message: IncidentsLoaded) -> None:
        message.stop()
        if message.error:
            self._status(message.error, error=True)
            return
        self.rows = message.incidents
        self.versions = message.versions
        now = self.clock.now()
        n_breached = sum(1 for i in self.rows if breached(i))
        key = "console.incidents_open" if self.open_only else "console.incidents_all"
        if self.keep_error:  # a refused change stays on the status line while the fresh rows come in
            self.keep_error = False
        else:
            self._status(t(key, n=len(self.rows), breached=n_breached))
        table = self.query_one(DataTable)
        table.clear()
        target_row = 0
        for idx, inc in enumerate(self.rows):
            if inc.id == self.selected:
                target_row = idx
            table.add_row(
                inc.id,
                Text(inc.priority, style=PRIORITY_STYLE.get(inc.priority, "")),
                status_label(inc.status),
                sla_cell(inc, now),
                inc.title,
                str(len(inc.alerts)),
                "/".join(x for x in (inc.assignee, inc.team) if x),
                ", ".join(inc.systems),
                local_time(inc.updated_at.isoformat(), self.zone, seconds=False),
                key=inc.id,
            )
        if self.rows:
            table.move_cursor(row=target_row)
            self._show(self.rows[target_row])
        else:
            self.query_one("#incidents-detail", Static).update(t("console.incidents_none"))

    @on(DataTable.RowHighlighted, "#incidents-table")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        inc = next((i for i in self.rows if i.id == event.row_key.value), None)
        if inc is not None:
            self.selected = inc.id
            self._show(inc)

    def _show(self, inc: Incident) -> None:
        now = self.clock.now()
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        head.add_row(inc.id, Text(f"{inc.priority}  {status_label(inc.status)}  {inc.title}"))
        level = Text(inc.alert_level, style=LEVEL_STYLE.get(inc.alert_level, ""))
        head.add_row(t("console.col_level"), level)
        head.add_row(
            t("console.col_systems"),
            ", ".join(inc.systems) + (f"  (max {inc.max_level})" if inc.max_level else ""),
        )
        if inc.hosts or inc.attacker_ips:
            head.add_row(t("console.col_host"), ", ".join(inc.hosts) + "  ←  " + ", ".join(inc.attacker_ips))
        if inc.techniques:
            head.add_row("ATT&CK", ", ".join(inc.techniques))
        for name, clock in inc.sla.items():
            due = local_time(clock.due.isoformat(), self.zone)
            state = (
                t("sla.met", at=local_time(clock.met_at.isoformat(), self.zone)) if clock.met_at
                else short_delta(clock.due - now)
            )  # fmt: skip
            style = "red" if clock.breached_at else "yellow" if clock.warned_at else ""
            head.add_row(t(f"sla.{name}"), Text(f"{due}  {state}", style=style))
        timeline = Table(box=None, show_header=True, header_style="bold", padding=(0, 1))
        for col in ("col_time", "col_by", "col_action", "col_detail"):
            timeline.add_column(t(f"console.{col}", zone=self.zone_name))
        for entry in inc.timeline[-15:]:
            detail = detail_text(entry, lambda v: local_time(v, self.zone, seconds=False))
            timeline.add_row(
                local_time(entry.at.isoformat(), self.zone), entry.by, action_name(entry.action), detail[:160]
            )
        self.query_one("#incidents-detail", Static).update(Group(head, Text(""), timeline))

    # -- the analyst's verbs -------------------------------------------------------------------------
    def current(self) -> Incident | None:
        return next((i for i in self.rows if i.id == self.selected), None)

    @work(thread=True, group="incident-change")
    def apply(self, inc_id: str, what: str, change: Callable[[IncidentDesk], Incident]) -> None:
        """Run one change in a worker; the version checked is the one the analyst is looking at."""
        try:
            inc = change(self.desk())
            self.post_message(Changed(t("console.incident_saved", id=inc.id, what=what)))
        except CanhError as exc:
            self.post_message(Changed(exc.render(), error=True))

    def on_changed(self, message: Changed) -> None:
        message.stop()
        self._status(message.text, error=message.error)
        self.keep_error = message.error
        self.reload()

    def action_take(self) -> None:
        inc = self.current()
        if inc is None:
            return

        seen = self.versions.get(inc.id)

        def take(desk: IncidentDesk) -> Incident:
            out = desk.assign(inc.id, assignee=self.actor, expect=seen)
            if out.status == "new":
                out = desk.move(inc.id, "triage")
            return out

        self.apply(inc.id, t("console.took"), take)

    def action_move(self) -> None:
        inc = self.current()
        if inc is None:
            return
        choices = [(s, status_label(s)) for s in TRANSITIONS[inc.status]]
        seen = self.versions.get(inc.id)

        def chosen(target: str | None) -> None:
            if not target:
                return
            if target in ("resolved", "false_positive", "closed"):

                def with_reason(reason: str | None) -> None:
                    if reason is not None:
                        self.apply(
                            inc.id,
                            status_label(target),
                            lambda d: d.move(inc.id, target, reason=reason, expect=seen),
                        )

                self.app.push_screen(AskText(t("console.ask_reason")), with_reason)
            else:
                self.apply(inc.id, status_label(target), lambda d: d.move(inc.id, target, expect=seen))

        self.app.push_screen(AskChoice(t("console.ask_status", id=inc.id), choices), chosen)

    def action_comment(self) -> None:
        inc = self.current()
        if inc is None:
            return

        seen = self.versions.get(inc.id)

        def got(text: str | None) -> None:
            if text:
                self.apply(inc.id, t("console.commented"), lambda d: d.comment(inc.id, text, expect=seen))

        self.app.push_screen(AskText(t("console.ask_comment", id=inc.id)), got)

    def action_escalate(self) -> None:
        inc = self.current()
        if inc is None:
            return

        seen = self.versions.get(inc.id)

        def got(reason: str | None) -> None:
            if reason is not None:
                self.apply(
                    inc.id, t("console.escalated"), lambda d: d.escalate(inc.id, reason=reason, expect=seen)
                )

        self.app.push_screen(AskText(t("console.ask_reason"), allow_empty=True), got)

    def action_toggle_open(self) -> None:
        self.open_only = not self.open_only
        self.reload()
