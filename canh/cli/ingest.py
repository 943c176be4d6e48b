"""``canh ingest PATH...``: one-off backfill of log files into the store."""

from __future__ import annotations

import sys

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.collectors.registry import formats
from canh.errors import ConfigError
from canh.i18n import t
from canh.ingest import EventHook, Ingester, IngestReport, expand_paths


def print_report(
    ctx: Ctx, report: IngestReport, *, as_json: bool, detected: dict[str, int] | None = None
) -> None:
    """Summary, then each problem on one line with its file:line (and what detection made of it)."""
    if as_json:
        emit_json(
            [
                {
                    "files": report.files,
                    "lines": report.lines,
                    "events": report.events,
                    "written": report.written,
                    "duplicates": report.duplicates,
                    "problems": [{"where": p.where, "message": p.message} for p in report.problems],
                    "formats": report.formats,
                    "dead_letter": str(report.dead_letter) if report.dead_letter else None,
                    **({"alerts": detected["alerts"], "grouped": detected["grouped"]} if detected else {}),
                }
            ]
        )
        return
    for p in report.problems[:50]:
        ctx.err.print(f"[yellow]{escape(p.where)}[/]: {escape(p.message)}", markup=True, highlight=False)
    if len(report.problems) > 50:
        ctx.err.print(t("ingest.more_problems", n=len(report.problems) - 50))
    ctx.out.print(
        t(
            "ingest.summary",
            files=report.files,
            lines=report.lines,
            written=report.written,
            duplicates=report.duplicates,
            problems=len(report.problems),
        )
    )
    if detected and detected["alerts"]:
        ctx.out.print(t("ingest.detected", alerts=detected["alerts"], grouped=detected["grouped"]))
    if report.dead_letter:
        ctx.out.print(t("ingest.dead_letter", path=report.dead_letter))


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format", "fmt", type=click.Choice(formats()), help="Input format (default: detect per file)."
)
@click.option(
    "--host",
    help="host.name for lines that do not name their host (default: host_name in canh.yml, else this machine).",
)
@click.option(
    "--timezone",
    "zone",
    help="Time zone of lines that carry none (RFC 3164 syslog), for logs from another zone "
    "(IANA name or +HH:MM; default: timezone in canh.yml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def ingest_cmd(
    ctx: Ctx, paths: tuple[str, ...], fmt: str | None, host: str | None, zone: str | None, as_json: bool
) -> None:
    """Read log files (plain or .gz, or folders of them) into the store, once."""
    if zone is not None:
        _check_zone(zone)
    rt = ctx.runtime
    files = expand_paths(paths)
    total = sum(f.stat().st_size for f in files if f.exists())
    hooks = _detection_hooks(rt)
    stamp = rt.clock.now().strftime("%Y%m%dT%H%M%S")
    kwargs = dict(
        dead_letter=rt.paths.state / "dead-letter" / f"ingest-{stamp}.jsonl",
        timezone=zone or rt.config.timezone,
        host=host or rt.config.host_name,
        hooks=hooks,
        now=rt.clock.now,
    )
    if total > 4 << 20 and not as_json and sys.stderr.isatty():
        with Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            console=ctx.err, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task(t("ingest.reading"), total=total)
            ingester = Ingester(rt.store, progress=lambda off: bar.update(task, completed=off), **kwargs)  # type: ignore[arg-type]
            report = ingester.run(paths, fmt)
    else:
        report = Ingester(rt.store, **kwargs).run(paths, fmt)  # type: ignore[arg-type]
    from canh.detection import finish, summary

    finish(hooks)  # correlation windows still open close at the end of the input
    print_report(ctx, report, as_json=as_json, detected=dict(summary(hooks)) if hooks else None)
    if report.events == 0 and report.problems:
        sys.exit(1)


def _check_zone(zone: str) -> None:
    from zoneinfo import ZoneInfoNotFoundError

    from canh.events import local_zone

    try:
        local_zone(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError("config.bad_zone", where="--timezone", value=zone) from exc


def _detection_hooks(rt: object) -> list[EventHook]:
    """Detection on every stored batch, once the rules engine is wired in."""
    try:
        from canh.detection import hooks_for  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return []
    return list(hooks_for(rt))


COMMANDS = [ingest_cmd]
