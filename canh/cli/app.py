"""The ``canh`` command group, its shared options, output helpers and error rendering."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

import click
import orjson
from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from canh import __version__
from canh.errors import CanhError
from canh.i18n import set_language, t
from canh.runtime import Runtime
from canh.timefmt import display_zone, local_time, zone_label


class Ctx:
    """Per-invocation state: options, and the runtime opened on first use."""

    def __init__(self, home: str | None, config: str | None, debug: bool) -> None:
        self.home = home
        self.config = config
        self.debug = debug
        self._runtime: Runtime | None = None
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.load(self.home, self.config)
            if self._runtime.config.language and not _lang_forced():
                set_language(self._runtime.config.language)
        return self._runtime

    @property
    def zone(self) -> tzinfo:
        """The zone people read times in (``timezone`` in canh.yml); JSON output stays UTC."""
        return display_zone(self.runtime.config.timezone)

    def when(self, stamp: Any) -> str:
        """A stored time as local wall-clock text."""
        return local_time(stamp, self.zone)

    def time_header(self) -> str:
        return t("col.time", zone=zone_label(self.zone))

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


_forced_lang: list[str] = []


def _lang_forced() -> bool:
    return bool(_forced_lang)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--home",
    envvar="CANH_HOME",
    type=click.Path(file_okay=False),
    help="Folder for config, data and state (env CANH_HOME).",
)
@click.option(
    "--config",
    "config",
    envvar="CANH_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file (env CANH_CONFIG; default <home>/canh.yml).",
)
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    envvar="CANH_LANG",
    help="Language of messages: vi or en (env CANH_LANG).",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(__version__, prog_name="canh")
@click.pass_context
def cli(
    click_ctx: click.Context, home: str | None, config: str | None, lang: str | None, debug: bool
) -> None:
    """Canh: collect logs and packets, detect with Sigma rules, handle incidents, keep the register.

    Start with `canh demo`, then `canh events search`, `canh alerts list`, `canh status`.
    """
    if lang:
        set_language(lang)
        _forced_lang.append(lang)
    state = Ctx(home, config, debug)
    click_ctx.obj = state
    click_ctx.call_on_close(state.close)


def emit_json(rows: Iterable[Mapping[str, Any]]) -> None:
    """One JSON document per line on stdout (for scripts and tests)."""
    out = sys.stdout.buffer
    for row in rows:
        out.write(orjson.dumps(row, default=str) + b"\n")
    out.flush()


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    one_line: bool = False,
    flex: Sequence[int] = (),
    width: int | None = None,
) -> Table:
    """A rich table with the given headers (already translated), readable in an 80-column SSH terminal.

    Short columns (ids, times, levels, counts) keep their natural width; the long text columns (a
    title, a message) share what is left. ``one_line`` keeps each row on one line (queues an analyst
    scans), ending long text with an ellipsis instead of folding it. ``flex`` names the text columns
    by index; without it, columns wider than a code or a time are taken as text.
    """
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    if cells:  # a column empty on every row (no assignee yet, no host) only costs width
        keep = [i for i in range(len(columns)) if any(r[i] for r in cells)]
        flex = [keep.index(i) for i in flex if i in keep]
        columns = [columns[i] for i in keep]
        cells = [[r[i] for i in keep] for r in cells]
    natural = [max([cell_len(col), *(cell_len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    flexible = list(flex) or [i for i, w in enumerate(natural) if w > _SHORT]
    if not flexible and natural:
        flexible = [max(range(len(natural)), key=natural.__getitem__)]
    total = width or Console().width
    fixed = sum(w for i, w in enumerate(natural) if i not in flexible) + 2 * (len(columns) - 1)
    room = max(total - fixed, _MIN_FLEX * len(flexible))
    wanted = sum(natural[i] for i in flexible) or 1
    given = {i: max(_MIN_FLEX, min(natural[i], room * natural[i] // wanted)) for i in flexible}
    tbl = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, show_edge=False)
    for i, col in enumerate(columns):
        if i in given:
            tbl.add_column(col, width=given[i], no_wrap=one_line, overflow="ellipsis" if one_line else "fold")
        else:
            tbl.add_column(col, no_wrap=True, min_width=natural[i])
    for row in cells:
        tbl.add_row(*row)
    return tbl


_MIN_FLEX = 8
# Columns whose widest cell is at most this long hold codes, not prose: they are never folded.
_SHORT = 26


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: runs the group, turns CanhError into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="canh", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("\n")
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CanhError as exc:
        if debug:
            raise
        _error_line(exc.render())
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:
        if debug:
            raise
        _error_line(t("error.unexpected", error=f"{type(exc).__name__}: {exc}"))
        sys.exit(2)


def _error_line(text: str) -> None:
    """One unwrapped line on stderr; the message is never read as rich markup."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]canh:[/] {escape(text)}", markup=True
    )
