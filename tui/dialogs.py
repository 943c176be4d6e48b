"""Small modal dialogs the panes use to ask the analyst one thing: a line of text, or one choice."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from canh.i18n import t


class AskText(ModalScreen[str | None]):
    """Ask for one line (a comment, a reason, a name); Enter gives it, Escape cancels with None."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel", show=False)
    ]

    def __init__(self, prompt: str, value: str = "", *, allow_empty: bool = False) -> None:
        super().__init__()
        self.prompt, self.value, self.allow_empty = prompt, value, allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt)
            yield Input(value=self.value, id="dialog-input")
            yield Label(t("console.dialog_hint"), classes="dialog-hint")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() or self.allow_empty:
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskChoice(ModalScreen[str | None]):
    """Ask for one of a few choices (e.g. the statuses an incident may move to); Escape cancels."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel", show=False)
    ]

    def __init__(self, prompt: str, choices: list[tuple[str, str]]) -> None:
        """``choices`` are (value, label) pairs; the label is what the analyst reads."""
        super().__init__()
        self.prompt, self.choices = prompt, choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.prompt)
            yield OptionList(*(Option(label, id=value) for value, label in self.choices), id="dialog-options")
            yield Label(t("console.dialog_hint"), classes="dialog-hint")

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
