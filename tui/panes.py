"""The console's panes: the alert queue and the hunting view. Each loads through the store interface
in a thread worker and renders what comes back; nothing here knows which store is in use."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any, ClassVar

from rich.console import Group
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from canh.clock import Clock, parse_since
from canh.config import IncidentsConfig
from canh.errors import CanhError
from canh.events import get
from canh.i18n import t
from canh.store.base import Store
from canh.timefmt import local_time
from canh.tui.messages import AlertEvents, Changed, Loaded

LEVEL_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow", "low": "cyan"}


MAX_SHOWN_EVENTS = 10
TITLE_WIDTH = 40


def alert_detail(alert: dict[str, Any], events: list[dict[str, Any]], zone: tzinfo) -> Group:
    """What an analyst needs to judge an alert: the rule (with its author and link, as the Sigma
    licence asks), who and what it is about, and the log lines it was raised on."""
    head = Table(box=None, show_header=False, padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    level = str(get(alert, "rule.level") or get(alert, "event.severity_label") or "")
    head.add_row(
        Text(level, style=LEVEL_STYLE.get(level, "")), Text(str(get(alert, "rule.name") or ""), style="bold")
    )
    rows = (
        ("console.col_rule", " ".join(str(x) for x in (get(alert, "rule.id"), get(alert, "rule.author")) if x)),
        ("console.detail_link", get(alert, "rule.reference")),
        ("console.detail_description", get(alert, "rule.description")),
        ("ATT&CK", ", ".join(get(alert, "threat.technique.id") or get(alert, "canh.techniques") or [])),
        ("console.col_host", get(alert, "host.name")),
        ("console.col_source", get(alert, "source.ip")),
        ("console.col_user", get(alert, "user.name")),
        ("URL", get(alert, "url.original")),
        ("console.detail_window", " → ".join(local_time(get(alert, p), zone) for p in ("event.start", "event.end")
                                             if get(alert, p))),
        ("console.detail_suppressed", get(alert, "canh.suppressed")),
    )  # fmt: skip
    for key, value in rows:
        if value:  # YAML folded text keeps its line breaks: one paragraph reads better
            head.add_row(t(key) if key.startswith("console.") else key, " ".join(str(value).split()))
    lines = Table(box=None, show_header=False, padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column()
    for ev in events:
        text = str(get(ev, "event.original") or ev.get("message") or "")
        lines.add_row(local_time(ev.get("@timestamp"), zone), Text(text[:400]))
    total = len(get(alert, "canh.event_ids") or [])
    title = Text(t("console.detail_events", shown=len(events), total=total), style="bold")
    return Group(head, Text(""), title, lines) if total else Group(head)


class Pane(Vertical):
    """A pane that reports counts and errors on the app's status line while its tab is the one shown."""

    last_status: tuple[str, bool] = ("", False)

    def _status(self, text: str, *, error: bool = False) -> None:
        self.last_status = (text, error)
        if self._shown():
            self.publish()

    def _shown(self) -> bool:
        tab = next((a for a in self.ancestors if isinstance(a, TabPane)), None)
        tabs = next((a for a in self.ancestors if isinstance(a, TabbedContent)), None)
        return tab is None or tabs is None or tabs.active == tab.id

    def publish(self) -> None:
        """Put this pane's last status on the status line (when its tab becomes the one shown)."""
        set_status = getattr(self.app, "set_status", None)  # CanhApp's; absent when a pane runs alone
        if set_status is not None:
            set_status(self.last_status[0], error=self.last_status[1])


class AlertsPane(Pane):
    """Newest alerts first; the highlighted one is shown whole below the table; `i` takes it to its incident."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("i", "incident", "Incident"),
    ]

    def __init__(
        self,
        store: Store,
        clock: Clock,
        zone: tzinfo,
        zone_name: str,
        since: str = "7d",
        config: IncidentsConfig | None = None,
        actor: str = "analyst",
    ) -> None:
        super().__init__(classes="pane-body")
        self.store, self.clock, self.zone, self.zone_name, self.since = store, clock, zone, zone_name, since
        self.config, self.actor = config or IncidentsConfig(), actor
        self.rows: list[dict[str, Any]] = []
        self.cursor = 0

    def compose(self) -> ComposeResult:
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("console.select_hint"), id="alerts-detail", classes="detail")

    def on_mount(self) -> None:
        self._bindings.bind("i", "incident", t("console.key_incident"))
        table = self.query_one(DataTable)
        # The rule's title has a fixed width (cropped; whole in the detail below) so the columns
        # after it stay on screen in a 100-column terminal.
        for label in ("col_time", "col_level", "col_rule", "col_source", "col_host", "col_user", "col_events",
                      "col_incident"):  # fmt: skip
            width = TITLE_WIDTH if label == "col_rule" else None
            table.add_column(t(f"console.{label}", zone=self.zone_name), key=label, width=width)
        self.reload()

    @work(thread=True, exclusive=True, group="alerts")
    def reload(self) -> None:
        try:
            since = parse_since(self.since, self.clock)
            rows = self.store.search("alerts", "*", since=since, limit=500)
            total = self.store.count("alerts", "*", since=since)
            self.post_message(Loaded(rows, total))
        except CanhError as exc:
            self.post_message(Loaded(error=exc.render()))

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        self._status(message.error or (
            t("console.alerts_count", n=message.total, since=self.since) if message.total
            else t("console.alerts_empty", since=self.since)), error=bool(message.error))  # fmt: skip
        if message.error:
            return
        self.rows = message.rows
        table = self.query_one(DataTable)
        table.clear()
        for i, a in enumerate(self.rows):
            level = str(get(a, "rule.level") or get(a, "event.severity_label") or "")
            table.add_row(
                local_time(a.get("@timestamp"), self.zone),
                Text(level, style=LEVEL_STYLE.get(level, "")),
                str(get(a, "rule.name") or get(a, "rule.title") or ""),
                str(get(a, "source.ip") or ""),
                str(get(a, "host.name") or ""),
                str(get(a, "user.name") or ""),
                str(get(a, "canh.events_count") or len(get(a, "canh.event_ids") or [])),
                str(get(a, "canh.incident.id") or ""),
                key=str(i),
            )

    @on(DataTable.RowHighlighted, "#alerts-table")
    def show(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and int(event.row_key.value) < len(self.rows):
            self.cursor = int(event.row_key.value)
            alert = self.rows[self.cursor]
            self.query_one("#alerts-detail", Static).update(alert_detail(alert, [], self.zone))
            self.load_events(alert)

    @work(thread=True, exclusive=True, group="alert-events")
    def load_events(self, alert: dict[str, Any]) -> None:
        ids = [str(i) for i in (get(alert, "canh.event_ids") or [])][:MAX_SHOWN_EVENTS]
        try:
            events = self.store.get_records("events", ids) if ids else []
            self.post_message(AlertEvents(str(alert.get("id")), events))
        except CanhError as exc:
            self.post_message(AlertEvents(str(alert.get("id")), error=exc.render()))

    def on_alert_events(self, message: AlertEvents) -> None:
        message.stop()
        if self.cursor < len(self.rows) and str(self.rows[self.cursor].get("id")) == message.alert_id:
            if message.error:
                self._status(message.error, error=True)
            detail = alert_detail(self.rows[self.cursor], message.events, self.zone)
            self.query_one("#alerts-detail", Static).update(detail)

    def action_incident(self) -> None:
        if self.cursor < len(self.rows):
            self.to_incident(self.rows[self.cursor])

    @work(thread=True, group="alert-incident")
    def to_incident(self, alert: dict[str, Any]) -> None:
        """The alert's incident: the one it is linked to, else the open one it groups with, else a new one."""
        from canh.incidents.desk import IncidentDesk
        from canh.incidents.systems import Register

        try:
            inc_id = get(alert, "canh.incident.id")
            if not inc_id:
                systems = Register(self.store, self.clock, self.actor).all()
                desk = IncidentDesk(
                    self.store, self.clock, self.config, actor=self.actor, systems=systems, zone=self.zone
                )
                linked = desk.group_alerts([alert])
                inc_id = next((i for i, ids in linked.items() if alert["id"] in ids), None)
            if inc_id:
                self.post_message(Changed(t("console.alert_incident", id=inc_id), ref=str(inc_id)))
        except CanhError as exc:
            self.post_message(Changed(exc.render(), error=True))

    def on_changed(self, message: Changed) -> None:
        message.stop()
        self._status(message.text, error=message.error)
        if message.ref:
            self.reload()
            show = getattr(self.app, "show_incident", None)
            if show is not None:
                show(message.ref)


class HuntPane(Pane):
    """A Lucene query over events; a new query cancels the one still running."""

    def __init__(self, store: Store, clock: Clock, zone: tzinfo, zone_name: str) -> None:
        super().__init__(classes="pane-body")
        self.store, self.clock, self.zone, self.zone_name = store, clock, zone, zone_name
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="hunt-bar"):
            yield Input(placeholder=t("console.hunt_placeholder"), id="hunt-query")
            yield Input(value="24h", placeholder=t("console.since_placeholder"), id="hunt-since")
        yield DataTable(id="hunt-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("console.select_hint"), id="hunt-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("col_time", "col_host", "col_dataset", "col_source", "col_message"):
            table.add_column(t(f"console.{label}", zone=self.zone_name), key=label)

    @on(Input.Submitted)
    def submitted(self) -> None:
        self._status(t("console.searching"))
        self.search(self.query_one("#hunt-query", Input).value, self.query_one("#hunt-since", Input).value)

    @work(thread=True, exclusive=True, group="hunt")
    def search(self, query: str, since_text: str) -> None:
        try:
            since = parse_since(since_text or None, self.clock)
            rows = self.store.search("events", query or "*", since=since, limit=500)
            total = self.store.count("events", query or "*", since=since)
            self.post_message(Loaded(rows, total))
        except CanhError as exc:
            self.post_message(Loaded(error=exc.render()))

    def on_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.error:
            self._status(message.error, error=True)
            return
        self.rows = message.rows
        self._status(
            t("console.hunt_count", shown=len(self.rows), total=message.total)
            if self.rows
            else t("console.hunt_none")
        )
        table = self.query_one(DataTable)
        table.clear()
        for i, e in enumerate(self.rows):
            text = str(e.get("message") or get(e, "event.original") or "")
            table.add_row(
                local_time(e.get("@timestamp"), self.zone), str(get(e, "host.name") or ""),
                str(get(e, "event.dataset") or ""), str(get(e, "source.ip") or ""), text[:300], key=str(i),
            )  # fmt: skip

    @on(DataTable.RowHighlighted, "#hunt-table")
    def show(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and int(event.row_key.value) < len(self.rows):
            self.query_one("#hunt-detail", Static).update(
                JSON.from_data(self.rows[int(event.row_key.value)], default=str)
            )
