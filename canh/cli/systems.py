"""``canh systems``: the security-level register (Decree 85 / Decree 331) from the shell."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.cli.incidents import register_for
from canh.clock import parse_duration
from canh.errors import ConflictError, InputError
from canh.i18n import language, t
from canh.incidents.register import (
    Assets,
    Decision,
    Inspection,
    System,
    dossier_deadlines,
    independent_inspection_ok,
    is_overdue,
    needs_external_assessor,
    next_inspection_due,
)
from canh.incidents.register_edit import Edit, apply_edits, editable_fields
from canh.incidents.register_io import read_file, write_csv, write_yaml
from canh.incidents.regulation import DOSSIER_STATUSES, TEST_CLASSES, term
from canh.incidents.systems import Register, system_from_doc


def _register(ctx: Ctx) -> Register:
    return register_for(ctx)


def _row(s: System, today: date) -> dict[str, object]:
    due = next_inspection_due(s)
    return {
        **s.doc(),
        "level": s.level,
        "next_inspection_due": due.isoformat() if due else None,
        "inspection_overdue": is_overdue(s, today),
        "dossier_deadlines": {kind: d.isoformat() for kind, d in dossier_deadlines(s)},
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
    _print_system(ctx, reg, s, v.version)


def _print_system(ctx: Ctx, reg: Register, s: System, version: int, *, stderr: bool = False) -> None:
    out = ctx.err if stderr else ctx.out
    today = ctx.runtime.clock.now().date()
    lang = language()
    monitored = s.code in reg.monitored(reg.index([s]))
    out.print(f"[bold]{s.code}[/] (v{version})", markup=True, highlight=False)
    out.print(
        table(None, [t("incident.col.field"), t("incident.col.value")], _show_rows(s, today, monitored, lang))
    )


def _show_rows(s: System, today: date, monitored: bool, lang: str) -> list[tuple[str, object]]:
    """The lines of ``systems show``: every label and coded value in the reader's language."""

    def names(vocabulary: str, codes: list[str]) -> str:
        return ", ".join(term(vocabulary, c, lang) for c in codes)

    def when(d: date | None) -> str:
        return d.isoformat() if d else "—"

    status = s.dossier.status
    status_text = f"{status} ({DOSSIER_STATUSES[status]})" if lang == "vi" else status
    decision = s.dossier.decision
    deadlines = "; ".join(
        t(f"register.deadline.{kind}", date=d.isoformat()) for kind, d in dossier_deadlines(s)
    )
    pd = s.personal_data
    rows: list[tuple[str, object]] = [
        (t("incident.col.name"), " / ".join(n for n in (s.name_vi, s.name_en) if n)),
        (t("incident.col.agency"), s.owner_org),
        (t("register.col.operator"), s.operator_unit),
        (t("register.col.security_unit"), s.security_unit),
        (t("register.col.type"), t(f"report.system_type.{s.system_type}")),
        (t("report.regime"), s.regime),
        (
            t("incident.col.reg_level"),
            t("register.level_cell", proposed=s.proposed_level or "—", approved=s.approved_level or "—"),
        ),
        (t("incident.col.dossier"), status_text),
        (
            t("register.col.decision"),
            " ".join(str(x) for x in (decision.number, decision.date, decision.authority) if x),
        ),
        (t("report.due"), deadlines),
        (t("incident.col.next_due"), _due_cell(s, today)),
        (t("register.col.info_classes"), names("info_class", s.info_classes)),
        (
            t("register.col.secret_grade"),
            term("secret_grade", s.secret_grade, lang) if s.secret_grade else "",
        ),
        (
            t("register.col.personal_data"),
            t("register.personal_cell", basic=_count(pd.basic), sensitive=_count(pd.sensitive)),
        ),
        (t("register.col.national_security"), t("timeline.yes") if s.national_security else t("timeline.no")),
        (t("register.col.hosting"), term("hosting", s.hosting, lang) if s.hosting else ""),
        (t("report.public_ips"), ", ".join(s.public_ips)),
        (t("report.domains"), ", ".join(s.domains)),
        (t("report.services"), names("service", s.services)),
        (t("report.os"), ", ".join(s.os)),
        (
            t("register.col.regulation"),
            " ".join(str(x) for x in (s.security_regulation.number, s.security_regulation.date) if x),
        ),
        (
            t("register.col.plan"),
            term("plan_status", s.plan.status, lang) + (f" ({when(s.plan.eta)})" if s.plan.eta else ""),
        ),
        (t("register.col.risk_assessment"), when(s.last_risk_assessment)),
        (t("incident.col.assets"), ", ".join(s.assets.hosts + s.assets.cidrs + s.assets.urls)),
    ]
    layers = [
        s.coverage.onsite_team,
        monitored,
        independent_inspection_ok(s, today),
        s.coverage.national_connection,
    ]
    rows.append(
        (t("report.coverage"), "  ".join(f"{i + 1}:{'✓' if ok else '×'}" for i, ok in enumerate(layers)))
    )
    rows += [
        (
            t("register.col.trust_label"),
            f"{term('trust_label_kind', lb.kind, lang)} {lb.asset}: "
            f"{term('trust_label_status', lb.state(today), lang)} ({when(lb.expires)})",
        )
        for lb in s.trust_labels
    ]
    rows += [
        (t("register.col.contact"), " ".join(x for x in (c.name, c.role, c.phone, c.email) if x))
        for c in s.contacts
    ]
    rows += [
        (
            t("register.col.inspection"),
            f"{i.date} {i.assessor} ("
            + ", ".join(
                x
                for x in (
                    t("register.external") if i.external else t("register.internal"),
                    term("test_class", i.test_class, lang) if i.test_class else "",
                )
                if x
            )
            + (f"): {i.result}" if i.result else ")"),
        )
        for i in s.inspections
    ]
    rows += [
        (
            t("register.col.dossier_step"),
            " ".join(x for x in (f"{h.at:%Y-%m-%d}", h.status, h.by, h.reasons) if x),
        )
        for h in s.dossier.history
    ]
    return rows


def _count(n: int | None) -> str:
    return f"{n:,}".replace(",", ".") if n is not None else "—"


def _changed(ctx: Ctx, as_json: bool, reg: Register, action: Callable[[], System]) -> System:
    """Run a change; on a lost race show the fresh system, then report the conflict (as incidents do)."""
    try:
        return action()
    except ConflictError as exc:
        current = getattr(exc, "current", None)
        if current is not None:
            fresh = system_from_doc(current.doc, current.id)
            if as_json:
                today = ctx.runtime.clock.now().date()
                emit_json(
                    [
                        {
                            "conflict": True,
                            "message": exc.render(),
                            **_row(fresh, today),
                            "version": current.version,
                        }
                    ]
                )
            else:
                ctx.err.print(t("register.fresh_state"))
                _print_system(ctx, reg, fresh, current.version, stderr=True)
        raise


def _saved(ctx: Ctx, as_json: bool, reg: Register, s: System, extra: dict[str, Any] | None = None) -> None:
    _, v = reg.get_versioned(s.code)
    if as_json:
        emit_json([{**_row(s, ctx.runtime.clock.now().date()), "version": v.version, **(extra or {})}])
    else:
        ctx.out.print(t("register.saved", code=s.code, version=v.version))


_expect = click.option(
    "--expect-version", type=int, help="The version you looked at; refused if someone changed it since."
)


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
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Any other field (see update).")
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
    sets: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a system (its dossier starts as a draft)."""
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
    reg = _register(ctx)
    if sets:
        s = apply_edits(s, _edits(set_=sets), by=reg.actor, at=reg.clock.now())
    v = reg.save(s)
    if as_json:
        emit_json([{**s.doc(), "version": v.version}])
    else:
        ctx.out.print(t("register.saved", code=code, version=v.version))


def _edits(set_: tuple[str, ...] = (), add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> list[Edit]:
    """``FIELD=VALUE`` options as edits (sets first, then additions, then removals)."""
    out: list[Edit] = []
    for op, given in (("set", set_), ("add", add), ("remove", remove)):
        for text in given:
            name, eq, value = text.partition("=")
            if not eq or not name.strip():
                raise InputError("register.edit_syntax", where=f"--{op} {text}")
            out.append((op, name.strip(), value))
    return out


@systems_group.command("update")
@click.argument("code")
@click.option(
    "--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Set a field (a list: ;-separated)."
)
@click.option("--add", "adds", multiple=True, metavar="FIELD=VALUE", help="Add an item to a list field.")
@click.option(
    "--remove", "removes", multiple=True, metavar="FIELD=VALUE", help="Remove an item from a list field."
)
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def update_cmd(
    ctx: Ctx,
    code: str,
    sets: tuple[str, ...],
    adds: tuple[str, ...],
    removes: tuple[str, ...],
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Edit a system's fields, assets, contacts, layers 1 and 4 (audited).

    FIELD is a spreadsheet column: e.g. --set plan_status=partial --set plan_eta=2027-06-30
    --add hosts=web-03 --remove cidrs=10.0.0.0/24 --add contacts='Lan|ATTT|0912 000 000|lan@x.vn'
    --add trust_labels='website|https://x.gov.vn|valid|2027-05-01' --set onsite_team=yes.
    Setting proposed_level on an approved dossier supersedes it (the level is re-determined).
    """
    edits = _edits(sets, adds, removes)
    if not edits:
        raise InputError("register.edit_nothing", known=", ".join(editable_fields()))
    reg = _register(ctx)

    def run() -> System:
        def fn(system: System, now: datetime) -> System:
            return apply_edits(system, edits, by=reg.actor, at=now)

        return reg.change(code, fn, expect=expect_version, action="update")[0]

    _saved(ctx, as_json, reg, _changed(ctx, as_json, reg, run))


@systems_group.command("inspect")
@click.argument("code")
@click.option(
    "--date", "when", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Day of the inspection."
)
@click.option("--assessor", required=True, help="Who inspected or assessed.")
@click.option("--external", is_flag=True, help="By an external (licensed or appointed) organisation.")
@click.option("--result", default="", help="What it found.")
@click.option(
    "--test-class", type=click.Choice(list(TEST_CLASSES)), help="Technical tests: black, grey or white box."
)
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def inspect_cmd(
    ctx: Ctx,
    code: str,
    when: datetime,
    assessor: str,
    external: bool,
    result: str,
    test_class: str | None,
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Record an inspection or assessment; the next due date follows from it (audited)."""
    reg = _register(ctx)
    today = ctx.runtime.clock.now().date()
    if when.date() > today:
        raise InputError("register.future_inspection", where="--date", date=when.date().isoformat())
    inspection = Inspection(
        date=when.date(), assessor=assessor, external=external, result=result, test_class=test_class
    )
    s = _changed(ctx, as_json, reg, lambda: reg.inspect(code, inspection, expect=expect_version))
    warnings = _inspection_warnings(s, inspection)
    due = next_inspection_due(s)
    if not as_json:
        for w in warnings:
            ctx.err.print(t("register.warning", text=w), markup=False)
        ctx.out.print(t("register.inspected", code=code, date=inspection.date, due=due or "—"))
    _saved(ctx, as_json, reg, s, {"warnings": warnings})


def _inspection_warnings(s: System, i: Inspection) -> list[str]:
    """What the regime says of this inspection: an external assessor needed, or one not independent."""
    out = []
    if not i.external and needs_external_assessor(s):
        out.append(t("register.external_needed", level=s.level or "-", regime=s.regime))
    if not i.external and s.operator_unit and i.assessor.strip().lower() == s.operator_unit.strip().lower():
        out.append(t("register.assessor_not_independent", assessor=i.assessor))
    return out


@systems_group.command("history")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="The audit entries, one JSON document per line.")
@pass_ctx
def history_cmd(ctx: Ctx, code: str, as_json: bool) -> None:
    """Who changed what in this system, and when (the audit trail)."""
    reg = _register(ctx)
    entries = reg.history(code)
    if not entries:
        reg.get(code)  # no trail at all: say so if the system does not exist either
    if as_json:
        emit_json(entries)
        return
    ctx.out.print(
        table(
            None,
            [
                t("incident.col.time"),
                t("incident.col.by"),
                t("incident.col.action"),
                t("register.col.changes"),
            ],
            (
                (
                    ctx.when(e["@timestamp"]),
                    e["user"]["name"],
                    _action(e["action"]),
                    "\n".join(_changes(e["changes"])),
                )
                for e in entries
            ),
        )
    )
    ctx.out.print(t("register.history_shown", n=len(entries)))


def _action(action: str) -> str:
    if action.startswith("dossier."):
        return t("register.action.dossier", status=action.split(".", 1)[1])
    return t(f"register.action.{action}")


def _changes(changes: dict[str, Any]) -> list[str]:
    """An audit entry's changes as short lines: ``field: old → new``, list items as ``+item``/``−item``,
    a created record as its non-empty fields."""
    out = []
    for name, (old, new) in changes.items():
        if old is None:  # a field that came with the record: its value, if it has one
            pairs = _leaves(new, name + ".") if isinstance(new, dict) else [(name, new)]
            out += [f"{k}: {_short(v)}" for k, v in pairs if v not in (None, "", [], False)]
        elif isinstance(old, list) and isinstance(new, list):
            items = [f"+{_short(x)}" for x in new if x not in old] + [
                f"−{_short(x)}" for x in old if x not in new
            ]
            out.append(f"{name}: {' '.join(items)}")
        else:
            out.append(f"{name}: {_short(old)} → {_short(new)}")
    return out


def _leaves(d: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        out += _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]
    return out


def _short(v: Any) -> str:
    """A value in a few words: a record by its non-empty values, a list joined, long text cut."""
    if isinstance(v, dict):
        v = " ".join(str(x) for x in v.values() if x not in (None, "", [], False))
    elif isinstance(v, list):
        v = ", ".join(_short(x) for x in v)
    text = "—" if v in (None, "") else str(v)
    return text if len(text) <= 60 else text[:57] + "..."


@systems_group.command("dossier")
@click.argument("code")
@click.argument("status", type=click.Choice(list(DOSSIER_STATUSES)))
@click.option(
    "--reasons", default="", help="Why the dossier is returned (needed for needs_supplement/rejected)."
)
@click.option("--decision-number", default="")
@click.option("--decision-date", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--authority", default="")
@_expect
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
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Move a system's level dossier along its workflow (audited)."""
    decision = None
    if decision_number:
        decision = Decision(
            number=decision_number, authority=authority, date=decision_date.date() if decision_date else None
        )
    reg = _register(ctx)
    s = _changed(
        ctx,
        as_json,
        reg,
        lambda: reg.move(code, status, reasons=reasons, decision=decision, expect=expect_version),
    )
    if as_json:
        emit_json([s.doc()])
    else:
        name = f" ({DOSSIER_STATUSES[status]})" if language() == "vi" else ""
        ctx.out.print(f"{code}: {status}{name}")


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
