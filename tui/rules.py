"""The rules pane: every detection the collectors run (the pack and configured folders), how often each
fired in the last 7 days, problems that kept a rule out, and the highlighted rule whole (its YAML), for
the analyst asking "why did this fire?" and the rule author checking what is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from canh.clock import Clock, parse_since
from canh.config import RulesConfig
from canh.errors import CanhError
from canh.i18n import t
from canh.store.base import Store
from canh.tui.messages import Changed
from canh.tui.panes import LEVEL_STYLE, TITLE_WIDTH, Pane

LEVEL_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "informational": 4}
WINDOW = "7d"


@dataclass
class RuleRow:
    """What the pane shows of one rule (plain data, built in a worker thread)."""

    id: str
    title: str
    level: str
    kind: str  # "rule", "correlation", or "feeds" (a rule that only feeds a correlation)
    logsource: str
    techniques: list[str]
    status: str
    author: str
    description: str
    path: str | None
    fired: int = 0


@dataclass
class RulesLoaded(Message):
    """The loaded rules and the problems that kept others out."""

    rows: list[RuleRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)
    error: str | None = None


def rule_rows(cfg: RulesConfig, fired: dict[str, int]) -> tuple[list[RuleRow], list[str], list[str]]:
    """Rows for every configured rule and correlation, most alerting first, then by level."""
    from canh.detection import build_engine
    from canh.rules.engine import inactive_notes

    engine, (loaded, unsupported) = build_engine(cfg)
    rows = []
    for r in engine.rules:
        rows.append(RuleRow(
            r.id, r.title, r.level, "rule" if r.alert else "feeds",
            "/".join(x for x in (r.product, r.category, r.service) if x), r.techniques, r.status, r.author,
            r.description, r.path, fired.get(r.id, 0),
        ))  # fmt: skip
    for c in loaded.correlations:
        cid = str(c.id or c.name or c.title)
        level = str(c.level.name).lower() if c.level else "medium"
        tags = [str(x) for x in c.tags or []]
        techniques = [x.split(".", 1)[1].upper() for x in tags if x.lower().startswith("attack.t")]
        kind = str(getattr(c.type, "name", c.type) or "correlation").lower()  # event_count, temporal...
        rows.append(RuleRow(
            cid, c.title, level, "correlation", kind, techniques, str(c.status.name).lower() if c.status else "",
            c.author or "", c.description or "", str(c.source.path) if c.source and c.source.path else None,
            fired.get(cid, 0),
        ))  # fmt: skip
    rows.sort(key=lambda r: (-r.fired, LEVEL_ORDER.get(r.level, 9), r.title))
    problems = [f"{p.where}: {p.reason}" for p in loaded.problems]
    problems += [f"{u.path or u.id}: {u.reason}" for u in unsupported if not u.placeholder]
    # A rule waiting for a deployment's values (a threat-intel list) is not a problem: one line says so.
    return rows, problems, inactive_notes(unsupported)


def rule_detail(row: RuleRow) -> Group:
    """The rule's facts, then its YAML as the author wrote it."""
    head = Table(box=None, show_header=False, padding=(0, 1))
    head.add_column(style="bold")
    head.add_column()
    head.add_row(Text(row.level, style=LEVEL_STYLE.get(row.level, "")), Text(row.title, style="bold"))
    facts = (
        ("console.rule_kind", t(f"console.rule_kind_{row.kind}") if row.kind in ("rule", "feeds") else row.logsource),
        ("console.col_logsource", row.logsource if row.kind != "correlation" else ""),
        ("ATT&CK", ", ".join(row.techniques)),
        ("console.rule_author", row.author),
        ("console.rule_status", row.status),
        ("console.detail_description", " ".join(row.description.split())),
        ("console.rule_fired", t("console.rule_fired_n", n=row.fired, since=WINDOW)),
        ("console.rule_file", row.path or ""),
        ("id", row.id),
    )  # fmt: skip
    for key, value in facts:
        if value:
            head.add_row(t(key) if key.startswith("console.") else key, str(value))
    parts: list[Any] = [head]
    text = _rule_text(row)
    if text:
        parts += [Text(""), Syntax(text, "yaml", theme="ansi_dark", word_wrap=True)]
    return Group(*parts)


def _rule_text(row: RuleRow) -> str:
    """The document of this rule in its file (a file may hold several, separated by ---)."""
    if not row.path:
        return ""
    try:
        docs = Path(row.path).read_text(encoding="utf-8").split("\n---")
    except OSError:
        return ""
    return next((d.strip("-\n") for d in docs if row.id in d), docs[0].strip("-\n"))


class RulesPane(Pane):
    """The detections in force: what fired this week first; the highlighted one shown whole below."""

    def __init__(self, store: Store, clock: Clock, config: RulesConfig) -> None:
        super().__init__(classes="pane-body")
        self.store, self.clock, self.config = store, clock, config
        self.rows: list[RuleRow] = []
        self.problems: list[str] = []

    def compose(self) -> ComposeResult:
        yield DataTable(id="rules-table", cursor_type="row", zebra_stripes=True)
        yield Static(t("console.rules_loading"), id="rules-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("col_level", "col_rule", "col_fired", "col_logsource", "col_attack", "col_status"):
            width = TITLE_WIDTH if label == "col_rule" else None
            table.add_column(t(f"console.{label}", since=WINDOW), key=label, width=width)
        self.reload()

    @work(thread=True, exclusive=True, group="rules")
    def reload(self) -> None:
        try:
            since = parse_since(WINDOW, self.clock)
            fired = {
                str(b.key): b.count for b in self.store.terms("alerts", "rule.id", since=since, size=5000)
            }
            rows, problems, inactive = rule_rows(self.config, fired)
            self.post_message(RulesLoaded(rows, problems, inactive))
        except CanhError as exc:
            self.post_message(RulesLoaded(error=exc.render()))

    def on_rules_loaded(self, message: RulesLoaded) -> None:
        message.stop()
        if message.error:
            self._status(message.error, error=True)
            return
        self.rows, self.problems = message.rows, message.problems
        fired = sum(1 for r in self.rows if r.fired)
        self._status(t("console.rules_count", n=len(self.rows), fired=fired, since=WINDOW,
                       problems=len(self.problems)), error=False)  # fmt: skip
        table = self.query_one(DataTable)
        table.clear()
        for i, r in enumerate(self.rows):
            table.add_row(
                Text(r.level, style=LEVEL_STYLE.get(r.level, "")), r.title, str(r.fired or ""),
                r.logsource, ", ".join(r.techniques), r.status, key=str(i),
            )  # fmt: skip
        if not self.rows:
            self.query_one("#rules-detail", Static).update(t("console.rules_none"))
        elif self.problems:
            self.query_one("#rules-detail", Static).update(
                Group(
                    Text(t("console.rules_problems", n=len(self.problems)), style="bold red"),
                    *(Text(p) for p in self.problems[:20]),
                    *(Text(i, style="dim") for i in message.inactive),
                )
            )
        elif message.inactive:
            self.query_one("#rules-detail", Static).update(
                Group(*(Text(i, style="dim") for i in message.inactive))
            )

    @on(DataTable.RowHighlighted, "#rules-table")
    def show(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and int(event.row_key.value) < len(self.rows):
            self.query_one("#rules-detail", Static).update(rule_detail(self.rows[int(event.row_key.value)]))

    def on_changed(self, message: Changed) -> None:
        message.stop()
        self._status(message.text, error=message.error)
