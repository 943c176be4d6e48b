"""``canh report incident|register`` and ``canh shift report``: documents for the national centre,
managers and the next shift."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.cli.incidents import open_desk, register_for
from canh.i18n import language, t
from canh.incidents.pdf import render_pdf
from canh.incidents.reports import (
    Doc,
    incident_doc,
    incident_report,
    register_doc,
    register_report,
    to_markdown,
)
from canh.incidents.shift import shift_doc, shift_summary


def _emit(ctx: Ctx, data: Any, doc: Doc, fmt: str, out: Path | None, default_name: str, lang: str) -> None:
    if fmt == "json":
        payload = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    elif fmt == "md":
        payload = to_markdown(doc).encode("utf-8")
    else:
        payload, warning = render_pdf(doc, lang)
        if warning:
            ctx.err.print(warning, markup=False)
        out = out or Path(default_name)
    if out is None:
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(payload)
    ctx.err.print(t("report.written", path=str(out)), markup=False)


_fmt = click.option(
    "--format", "fmt", type=click.Choice(["md", "pdf", "json"]), default="md", show_default=True
)
_out = click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (PDF default: ./<name>.pdf).",
)


@click.group("report")
def report_group() -> None:
    """Reports: an incident to the national coordinating body, the register's compliance."""


@report_group.command("incident")
@click.argument("incident_id")
@click.option(
    "--kind",
    type=click.Choice(["initial", "final"]),
    default="initial",
    show_default=True,
    help="Initial report (form BM03) or closing report (form BM04).",
)
@click.option("--number", help="Record this report's number (e.g. 12/BC-TTGS) on the incident's timeline.")
@_fmt
@_out
@pass_ctx
def incident_cmd(
    ctx: Ctx, incident_id: str, kind: str, fmt: str, out: Path | None, number: str | None
) -> None:
    """The incident report with the fields and deadlines the regulation sets."""
    desk = open_desk(ctx)
    rt = ctx.runtime
    if number:
        desk.record_report(incident_id, kind, number)
    inc, _ = desk.get(incident_id)
    data = incident_report(inc, desk.systems, rt.config.incidents, rt.clock.now(), kind)
    lang = language()
    _emit(ctx, data, incident_doc(data, lang, ctx.zone), fmt, out, f"{incident_id}-{kind}.pdf", lang)


@report_group.command("register")
@_fmt
@_out
@pass_ctx
def register_cmd(ctx: Ctx, fmt: str, out: Path | None) -> None:
    """Approved dossiers by level and agency, overdue inspections, four-layer coverage."""
    rt = ctx.runtime
    reg = register_for(ctx)
    systems = reg.all()
    data = register_report(systems, reg.monitored(reg.index(systems)), rt.clock.now().date())
    lang = language()
    _emit(ctx, data, register_doc(data, lang, ctx.zone), fmt, out, "register-report.pdf", lang)


@click.group("shift")
def shift_group() -> None:
    """Shift handover."""


@shift_group.command("report")
@click.option(
    "--hours", type=click.IntRange(1, 168), help="Length of the shift (default: incidents.shift_hours)."
)
@click.option("--both", is_flag=True, help="Vietnamese and English one after the other.")
@click.option("--json", "as_json", is_flag=True)
@_out
@pass_ctx
def shift_cmd(ctx: Ctx, hours: int | None, both: bool, as_json: bool, out: Path | None) -> None:
    """What happened in the last shift: new, open, breached, closed incidents; alerts; silent sources."""
    rt = ctx.runtime
    desk = open_desk(ctx)
    desk.check_slas()
    data = shift_summary(
        rt.store, desk.incidents(limit=100_000), rt.clock.now(), hours or rt.config.incidents.shift_hours
    )
    if as_json:
        emit_json([data])
        return
    langs = ["vi", "en"] if both else [language()]
    text = "\n\n".join(to_markdown(shift_doc(data, lang, ctx.zone)) for lang in langs)
    if out:
        out.write_text(text, encoding="utf-8")
        ctx.err.print(t("report.written", path=str(out)), markup=False)
    else:
        sys.stdout.write(text + "\n")


COMMANDS = [report_group, shift_group]
