"""``canh systems``: the security-level register (Decree 85 / Decree 331) from the shell."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.cli.incidents import actor
from canh.clock import parse_duration
from canh.i18n import t
from canh.incidents.register import (
    Assets,
    Decision,
    System,
    dossier_due,
    independent_inspection_ok,
    is_overdue,
    next_inspection_due,
)
from canh.incidents.register_io import read_file, write_csv, write_yaml
from canh.incidents.regulation import DOSSIER_STATUSES
from canh.incidents.systems import Register


def _register(ctx: Ctx) -> Register:
    rt = ctx.runtime
    return Register(rt.store, rt.clock, actor())


def _row(s: System, today: date) -> dict[str, object]:
    due = next_inspection_due(s)
    return {
        **s.doc(),
        "level": s.level,
        "next_inspection_due": due.isoformat() if due else None,
        "inspection_overdue": is_overdue(s, today),
    }


@click.group("systems")
def systems_group() -> None:
    """The register of information systems: levels, dossiers, inspections, assets."""


@systems_group.command("list")
@click.option("--level", type=click.IntRange(1, 5), help="Only systems of this level.")
@click.option("--agency", help="Only systems whose owner agency contains this text.")
@click.option("--json", "as_json", is_flag=True, help="One JSON system per line.")
@pass_ctx
def list_cmd(ctx: Ctx, level: int | None, agency: str | None, as_json: bool) -> None:
    """Every system of the register."""
    today = ctx.runtime.clock.now().date()
    rows = [
        s
        for s in _register(ctx).all()
        if (level is None or s.level == level) and (not agency or agency.lower() in s.owner_org.lower())
    ]
    if as_json:
        emit_json(_row(s, today) for s in rows)
        return
    ctx.out.print(
        table(
            None,
            [
                t("incident.col.code"),
                t("incident.col.name"),
                t("incident.col.agency"),
                t("incident.col.reg_level"),
                t("incident.col.dossier"),
                t("incident.col.next_due"),
            ],
            (
                (s.code, s.name_vi, s.owner_org, s.level or "", s.dossier.status, _due_cell(s, today))
                for s in rows
            ),
            one_line=True,
            flex=(1, 2),
        )
    )
    ctx.out.print(t("register.shown", n=len(rows)))


def _due_cell(s: System, today: date) -> str:
    due = next_inspection_due(s)
    text = due.isoformat() if due else (t("register.never") if s.level else "")
    return f"{text} ({t('register.overdue')})" if is_overdue(s, today) else text


@systems_group.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show_cmd(ctx: Ctx, code: str, as_json: bool) -> None:
    """One system with its dossier history, inspections, contacts and assets."""
    reg = _register(ctx)
    s, v = reg.get_versioned(code)
    today = ctx.runtime.clock.now().date()
    if as_json:
        emit_json([{**_row(s, today), "version": v.version}])
        return
    rows: list[tuple[str, object]] = [
        (t("incident.col.name"), f"{s.name_vi} / {s.name_en}"),
        (t("incident.col.agency"), s.owner_org),
        ("operator", s.operator_unit),
        (t("incident.col.reg_level"), f"{s.proposed_level} → {s.approved_level}"),
        (t("incident.col.dossier"), f"{s.dossier.status} ({DOSSIER_STATUSES[s.dossier.status]})"),
        (
            "decision",
            f"{s.dossier.decision.number} {s.dossier.decision.date or ''} {s.dossier.decision.authority}",
        ),
        (t("incident.col.next_due"), _due_cell(s, today)),
        (t("report.due"), " ".join(str(x) for x in (dossier_due(s) or ("",)))),
        (t("incident.col.assets"), ", ".join(s.assets.hosts + s.assets.cidrs + s.assets.urls)),
    ]
    monitored = s.code in reg.monitored(reg.index([s]))
    layers = [
        s.coverage.onsite_team,
        monitored,
        independent_inspection_ok(s, today),
        s.coverage.national_connection,
    ]
    rows.append(
        (t("report.coverage"), "  ".join(f"{i + 1}:{'✓' if ok else '×'}" for i, ok in enumerate(layers)))
    )
    rows += [("contact", f"{c.name} {c.role} {c.phone} {c.email}") for c in s.contacts]
    rows += [
        ("inspection", f"{i.date} {i.assessor} {'external' if i.external else 'internal'}")
        for i in s.inspections
    ]
    rows += [("dossier step", f"{h.at:%Y-%m-%d} {h.status} {h.by} {h.reasons}") for h in s.dossier.history]
    ctx.out.print(f"[bold]{s.code}[/] (v{v.version})", markup=True)
    ctx.out.print(table(None, [t("incident.col.field"), t("incident.col.value")], rows))


@systems_group.command("add")
@click.argument("code")
@click.argument("name_vi")
@click.option("--name-en", default="")
@click.option("--owner", default="", help="Owner agency (chủ quản).")
@click.option("--operator", default="", help="Operating unit.")
@click.option("--level", type=click.IntRange(1, 5), help="Proposed security level.")
@click.option("--regime", type=click.Choice(["ND85", "ND331"]), default="ND85", show_default=True)
@click.option("--host", "hosts", multiple=True, help="Host name (globs allowed; repeatable).")
@click.option("--cidr", "cidrs", multiple=True, help="IP range (repeatable).")
@click.option("--url", "urls", multiple=True, help="URL (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def add_cmd(
    ctx: Ctx,
    code: str,
    name_vi: str,
    name_en: str,
    owner: str,
    operator: str,
    level: int | None,
    regime: str,
    hosts: tuple[str, ...],
    cidrs: tuple[str, ...],
    urls: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a system (its dossier starts as a draft)."""
    from canh.incidents.systems import system_from_doc

    s = system_from_doc(
        {
            "code": code,
            "name_vi": name_vi,
            "name_en": name_en,
            "owner_org": owner,
            "operator_unit": operator,
            "proposed_level": level,
            "regime": regime,
            "assets": Assets(hosts=list(hosts), cidrs=list(cidrs), urls=list(urls)).model_dump(),
        }
    )
    v = _register(ctx).save(s)
    if as_json:
        emit_json([{**s.doc(), "version": v.version}])
    else:
        ctx.out.print(t("register.saved", code=code, version=v.version))


@systems_group.command("dossier")
@click.argument("code")
@click.argument("status", type=click.Choice(list(DOSSIER_STATUSES)))
@click.option(
    "--reasons", default="", help="Why the dossier is returned (needed for needs_supplement/rejected)."
)
@click.option("--decision-number", default="")
@click.option("--decision-date", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--authority", default="")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def dossier_cmd(
    ctx: Ctx,
    code: str,
    status: str,
    reasons: str,
    decision_number: str,
    decision_date: datetime | None,
    authority: str,
    as_json: bool,
) -> None:
    """Move a system's level dossier along its workflow (audited)."""
    decision = None
    if decision_number:
        decision = Decision(
            number=decision_number, authority=authority, date=decision_date.date() if decision_date else None
        )
    s = _register(ctx).move(code, status, reasons=reasons, decision=decision)
    if as_json:
        emit_json([s.doc()])
    else:
        ctx.out.print(f"{code}: {status} ({DOSSIER_STATUSES[status]})")


@systems_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_cmd(ctx: Ctx, path: Path, as_json: bool) -> None:
    """Import a spreadsheet (CSV) or YAML register; bad rows are reported, good rows imported."""
    result = read_file(path)
    reg = _register(ctx)
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for s in result.systems:
        counts[reg.upsert(s)] += 1
    errors = [e.render() for e in result.errors]
    if as_json:
        emit_json([{**counts, "errors": errors}])
    else:
        for e in errors:
            ctx.err.print(e, markup=False)
        ctx.out.print(
            t(
                "register.imported",
                errors=len(errors),
                created=counts["created"],
                updated=counts["updated"],
                unchanged=counts["unchanged"],
            )
        )
    if errors:
        sys.exit(1)


@systems_group.command("export")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "yaml"]), help="Default: from the file name, else CSV."
)
@pass_ctx
def export_cmd(ctx: Ctx, path: Path | None, fmt: str | None) -> None:
    """Write the register as CSV (spreadsheet) or YAML, to PATH or stdout."""
    fmt = fmt or ("yaml" if path and path.suffix.lower() in (".yml", ".yaml") else "csv")
    systems = _register(ctx).all()
    text = write_yaml(systems) if fmt == "yaml" else write_csv(systems)
    if path is None:
        sys.stdout.write(text)
        return
    path.write_text(text, encoding="utf-8")
    ctx.err.print(t("register.exported", n=len(systems), path=str(path)), markup=False)


@systems_group.command("due")
@click.option("--within", default="90d", show_default=True, help="Due within this time from today.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def due_cmd(ctx: Ctx, within: str, as_json: bool) -> None:
    """Systems whose inspection is overdue or due soon, soonest first."""
    today = ctx.runtime.clock.now().date()
    horizon = today + timedelta(days=parse_duration(within).days)
    rows = []
    for s in _register(ctx).all():
        if s.level is None:
            continue
        due = next_inspection_due(s)
        if due is None or due <= horizon:
            rows.append((due or date.min, s))
    rows.sort(key=lambda r: r[0])
    if as_json:
        emit_json(_row(s, today) for _, s in rows)
        return
    ctx.out.print(
        table(
            None,
            [
                t("incident.col.code"),
                t("incident.col.name"),
                t("incident.col.reg_level"),
                t("incident.col.next_due"),
            ],
            ((s.code, s.name_vi, s.level, _due_cell(s, today)) for _, s in rows),
        )
    )
    ctx.out.print(t("register.shown", n=len(rows)))


COMMANDS = [systems_group]
