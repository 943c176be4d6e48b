"""The Canh console: the analysts' screen on shift (alerts queue, incidents, hunting, the register, the
rules in force), in Vietnamese or English."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from canh.clock import Clock
from canh.config import CanhConfig
from canh.events import local_zone
from canh.i18n import t
from canh.store.base import Store
from canh.timefmt import zone_label
from canh.tui.incidents import IncidentsPane
from canh.tui.panes import AlertsPane, HuntPane, Pane
from canh.tui.register import RegisterPane
from canh.tui.rules import RulesPane


class CanhApp(App[None]):
    """The console; build it with :func:`canh.tui.factory.make_app`."""

    CSS_PATH = "canh.tcss"
    TITLE = "Canh"

    def __init__(self, store: Store, config: CanhConfig, clock: Clock, actor: str = "analyst") -> None:
        super().__init__()
        self.store, self.config, self.clock, self.actor = store, config, clock, actor
        self.zone = local_zone(config.timezone)
        self.zone_name = zone_label(self.zone, clock.now())  # "+07": column headers stay narrow
        self.title = t("console.title")

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("f1", "tab('alerts')", "Alerts", show=False),
        Binding("f2", "tab('incidents')", "Incidents", show=False),
        Binding("f3", "tab('hunt')", "Hunt", show=False),
        Binding("f4", "tab('register')", "Register", show=False),
        Binding("f5", "tab('rules')", "Rules", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with TabbedContent(initial="alerts"):
            with TabPane(f"{t('console.tab_alerts')} [F1]", id="alerts"):
                yield AlertsPane(
                    self.store, self.clock, self.zone, self.zone_name,
                    config=self.config.incidents, actor=self.actor,
                )  # fmt: skip
            with TabPane(f"{t('console.tab_incidents')} [F2]", id="incidents"):
                yield IncidentsPane(
                    self.store, self.clock, self.zone, self.zone_name, self.config.incidents, self.actor
                )
            with TabPane(f"{t('console.tab_hunt')} [F3]", id="hunt"):
                yield HuntPane(self.store, self.clock, self.zone, self.zone_name)
            with TabPane(f"{t('console.tab_register')} [F4]", id="register"):
                yield RegisterPane(self.store, self.clock, self.zone, self.actor)
            with TabPane(f"{t('console.tab_rules')} [F5]", id="rules"):
                yield RulesPane(self.store, self.clock, self.config.rules)
        yield Static("", id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        # Footer labels come from the catalogue, so the key hints speak the analyst's language.
        self.bind("r", "refresh", description=t("console.refresh"))
        self.bind("slash", "focus_query", description=t("console.focus_query"))
        self.bind("q", "quit", description=t("console.quit"))

    def set_status(self, text: str, *, error: bool = False) -> None:
        """One line at the bottom: counts, or an error in red (never a traceback)."""
        line = self.query_one("#status-line", Static)
        line.update(text)
        line.set_class(error, "error")

    @on(TabbedContent.TabActivated)
    def tab_shown(self, event: TabbedContent.TabActivated) -> None:
        # The status line belongs to the pane on screen: show its counts (or its error) again.
        for pane in event.pane.query(Pane):
            pane.publish()
            break

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_refresh(self) -> None:
        self.query_one(AlertsPane).reload()
        self.query_one(IncidentsPane).reload()
        self.query_one(RegisterPane).reload()
        self.query_one(RulesPane).reload()

    def show_incident(self, inc_id: str) -> None:
        """Switch to the incidents pane with ``inc_id`` selected (after an alert was escalated)."""
        pane = self.query_one(IncidentsPane)
        pane.selected = inc_id
        pane.reload()
        self.action_tab("incidents")

    def action_focus_query(self) -> None:
        self.action_tab("hunt")
        self.query_one("#hunt-query").focus()
