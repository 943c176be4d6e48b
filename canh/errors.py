"""The one exception hierarchy of Canh.

Every error carries a message-catalogue key and its parameters, plus an optional location
(``file:line``, a field, a row), so the CLI and the console can render it in the user's language.
"""

from __future__ import annotations

from typing import Any


class CanhError(Exception):
    """Root of every error Canh raises on purpose; rendered for people by the CLI and the console."""

    key = "error.generic"

    def __init__(self, msg_key: str | None = None, /, *, where: str | None = None, **params: Any) -> None:
        self.key = msg_key or self.key
        self.where = where
        self.params = params
        super().__init__(self.render("en"))

    def render(self, lang: str | None = None) -> str:
        """One line: ``where: message``, in ``lang`` (default: the configured language)."""
        from canh.i18n import t  # late: i18n loads catalogues, errors must import cheaply

        text = t(self.key, lang=lang, **self.params)
        return f"{self.where}: {text}" if self.where else text

    def __str__(self) -> str:
        return self.render()


class ConfigError(CanhError):
    """The configuration file or an option is wrong."""

    key = "config.invalid"


class InputError(CanhError):
    """Input data (a log line, a file, a packet, a spreadsheet row) could not be read."""

    key = "input.invalid"


class StoreError(CanhError):
    """The store failed or cannot be reached."""

    key = "store.failed"


class NotFoundError(StoreError):
    """A document asked for by id does not exist."""

    key = "store.not_found"


class ConflictError(StoreError):
    """An optimistic-concurrency update lost: someone else changed the document first."""

    key = "store.conflict"

    def __init__(self, msg_key: str | None = None, /, *, current: Any = None, **kw: Any) -> None:
        self.current = current  # the fresh state, so the loser can retry on it
        super().__init__(msg_key, **kw)


class QueryError(CanhError):
    """A hunting query (Lucene syntax) could not be parsed or translated."""

    key = "query.invalid"


class RuleError(CanhError):
    """A detection rule could not be loaded, compiled or converted."""

    key = "rule.invalid"


class CollectorError(CanhError):
    """A collector source could not start or run."""

    key = "collector.failed"


class WorkflowError(CanhError):
    """An incident or register change breaks the workflow (a forbidden transition, a missing field)."""

    key = "workflow.invalid"
