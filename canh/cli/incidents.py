"""``canh incidents``: list, show, create and work on incidents from the shell."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.errors import ConflictError, InputError
from canh.events import get
from canh.i18n import t
from canh.incidents.desk import IncidentDesk
from canh.incidents.model import (
    STATUSES,
    Incident,
    is_serious,
    remaining,
    valid_category,
    valid_level,
    valid_technique,
)
from canh.incidents.regulation import use_register_config
from canh.incidents.systems import Register
from canh.incidents.timeline import action_name, detail_text
from canh.timefmt import short_delta


def actor() -> str:
    """Who is acting: CANH_USER, else the login name."""
    return os.environ.get("CANH_USER") or getpass.getuser()


def register_for(ctx: Ctx) -> Register:
    """The register, with canh.yml's inspection cadence in force for due dates."""
    rt = ctx.runtime
    use_register_config(rt.config.register)
    return Register(rt.store, rt.clock, actor())


def open_desk(ctx: Ctx) -> IncidentDesk:
    rt = ctx.runtime
    systems = register_for(ctx).all()
    return IncidentDesk(
        rt.store, rt.clock, rt.config.incidents, actor=actor(), systems=systems, zone=rt.config.timezone
    )


def _json_doc(inc: Incident, version: int | None = None) -> dict[str, Any]:
    doc = inc.doc()
    if version is not None:
        doc["version"] = version
    return doc


def _do(ctx: Ctx, as_json: bool, action: Callable[[], Incident]) -> None:
    """Run a change; on a lost race show the fresh incident, then report the conflict."""
    desk_ctx = ctx
    try:
        inc = action()
    except ConflictError as exc:
        if exc.current is not None:
            fresh = Incident.model_validate(exc.current.doc)
            if as_json:
                emit_json(
                    [{"conflict": True, "message": exc.render(), **_json_doc(fresh, exc.current.version)}]
                )
            else:
                desk_ctx.err.print(t("incident.fresh_state"))
                _print_incident(desk_ctx, fresh, exc.current.version, stderr=True)
        raise
    _, v = open_desk(ctx).get(inc.id)
    if as_json:
        emit_json([_json_doc(inc, v.version)])
    else:
        ctx.out.print(
            t("incident.saved", id=inc.id, status=inc.status, priority=inc.priority, version=v.version)
        )


def _print_incident(ctx: Ctx, inc: Incident, version: int, *, stderr: bool = False) -> None:
    out = ctx.err if stderr else ctx.out
    now = ctx.runtime.clock.now()
    out.print(f"[bold]{inc.id}[/] {inc.title}  (v{version})", markup=True, highlight=False)
    rows = [
        (t("incident.col.status"), inc.status),
        (t("incident.col.priority"), inc.priority),
        (t("incident.col.level"), inc.alert_level),
        (t("incident.col.category"), inc.category),
        (t("incident.col.assignee"), f"{inc.assignee} {inc.team}".strip()),
        (t("incident.col.systems"), ", ".join(inc.systems)),
        (t("incident.col.max_level"), inc.max_level or ""),
        (t("incident.col.serious"), _serious_cell(inc)),
        (t("incident.col.detected"), ctx.when(inc.detected_at)),
        (t("incident.col.alerts"), len(inc.alerts)),
        (t("incident.col.techniques"), ", ".join(inc.techniques)),
    ]
    if inc.related:
        rows.append((t("incident.col.related"), ", ".join(inc.related)))
    left = remaining(inc, now)
    for name, clock in inc.sla.items():
        if clock.met_at:
            state = t("sla.met", at=ctx.when(clock.met_at))
        elif clock.breached_at:
            state = t("sla.breached_at", at=ctx.when(clock.breached_at))
        else:
            state = _countdown(left[name])
        rows.append((f"SLA {t(f'sla.{name}')}", f"{ctx.when(clock.due)}  {state}"))
    out.print(table(None, [t("incident.col.field"), t("incident.col.value")], rows))
    if inc.observables:
        out.print(
            table(
                t("incident.observables"),
                [t("incident.col.type"), t("incident.col.value"), t("incident.col.seen")],
                ((o.type, o.value, len(o.seen_in)) for o in inc.observables[:50]),
            )
        )
    if inc.tasks:
        out.print(
            table(
                t("incident.tasks"),
                [
                    "#",
                    t("incident.col.task"),
                    t("incident.col.owner"),
                    t("incident.col.due"),
                    t("incident.col.done"),
                ],
                ((k.id, k.title, k.owner, k.due, "x" if k.done else "") for k in inc.tasks),
            )
        )
    out.print(
        table(
            t("incident.timeline"),
            [
                t("incident.col.time"),
                t("incident.col.by"),
                t("incident.col.action"),
                t("incident.col.detail"),
            ],
            (
                (ctx.when(e.at), e.by, action_name(e.action), detail_text(e, ctx.when))
                for e in inc.timeline[-30:]
            ),
        )
    )


@click.group("incidents")
def incidents_group() -> None:
    """Handle incidents: triage, assign, comment, close (SLA clocks run from the priority)."""


@incidents_group.command("list")
@click.argument("query", default="*")
@click.option("--open", "open_only", is_flag=True, help="Only open incidents.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON incident per line.")
@pass_ctx
def list_cmd(ctx: Ctx, query: str, open_only: bool, status: str | None, limit: int, as_json: bool) -> None:
    """Newest incidents first; QUERY filters them (e.g. 'priority:P1')."""
    desk = open_desk(ctx)
    rows = desk.incidents(query, open_only=open_only, limit=100_000)
    if status:
        rows = [i for i in rows if i.status == status]
    rows = rows[:limit]
    if as_json:
        emit_json(i.doc() for i in rows)
        return
    now = ctx.runtime.clock.now()
    # Title last: in a narrow terminal it is the column that gives way, ending in an ellipsis.
    ctx.out.print(
        table(
            None,
            [
                "ID",
                t("incident.col.priority"),
                t("incident.col.status"),
                t("incident.col.sla"),
                t("incident.col.alerts"),
                t("incident.col.assignee"),
                t("incident.col.systems"),
                t("incident.col.title"),
            ],
            (
                (
                    i.id,
                    i.priority,
                    i.status,
                    _sla_cell(i, now),
                    len(i.alerts),
                    i.assignee,
                    ", ".join(i.systems),
                    i.title,
                )
                for i in rows
            ),
            one_line=True,
            flex=(6, 7),
        )
    )
    ctx.out.print(t("incident.shown", n=len(rows)))


def _serious_cell(inc: Incident) -> str:
    answer = t("timeline.yes") if is_serious(inc) else t("timeline.no")
    if inc.serious_override is None:
        return f"{answer} ({t('incident.serious_rule')})"
    return f"{answer} ({t('incident.serious_analyst', reason=inc.serious_reason)})"


def _countdown(left: timedelta) -> str:
    if left < timedelta(0):
        return t("sla.overdue", late=short_delta(-left))
    return t("sla.left", left=short_delta(left))


def _short_countdown(left: timedelta) -> str:
    """For one-line lists: ``12m``, or ``-2h05m!`` when overdue."""
    return short_delta(left) + ("!" if left < timedelta(0) else "")


def _sla_cell(inc: Incident, now: Any) -> str:
    """The most urgent running clock: ``ack 12m``, ``contain -2h05m!`` when overdue."""
    left = remaining(inc, now)
    if not left:
        gone = [t(f"sla.{n}") for n, c in inc.sla.items() if c.breached_at]
        return t("sla.breached", targets=", ".join(gone)) if gone else ""
    name, delta = min(left.items(), key=lambda kv: kv[1])
    return f"{t(f'sla.{name}')} {_short_countdown(delta)}"


@incidents_group.command("show")
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="The incident as one JSON document.")
@pass_ctx
def show_cmd(ctx: Ctx, incident_id: str, as_json: bool) -> None:
    """Everything about one incident, with its timeline."""
    inc, v = open_desk(ctx).get(incident_id)
    if as_json:
        emit_json([_json_doc(inc, v.version)])
        return
    _print_incident(ctx, inc, v.version)


@incidents_group.command("create")
@click.argument("title")
@click.option(
    "--level", default="medium", show_default=True, help="Alert level: low, medium, high, critical."
)
@click.option("--system", "systems", multiple=True, help="Code of an affected system (repeatable).")
@click.option("--category", default="other", show_default=True)
@click.option("--description", default="")
@click.option(
    "--priority", type=click.Choice(["P1", "P2", "P3", "P4"]), help="Override the computed priority."
)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def create_cmd(
    ctx: Ctx,
    title: str,
    level: str,
    systems: tuple[str, ...],
    category: str,
    description: str,
    priority: str | None,
    as_json: bool,
) -> None:
    """Open an incident by hand."""
    level = valid_level(level, "--level")
    category = valid_category(category, "--category")
    desk = open_desk(ctx)
    _do(
        ctx,
        as_json,
        lambda: desk.create(
            title,
            alert_level_=level,
            systems=systems,
            category=category,
            description=description,
            priority=priority,
        ),
    )


_expect = click.option(
    "--expect-version", type=int, help="The version you looked at; refused if someone changed it since."
)


@incidents_group.command("update")
@click.argument("incident_id")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--reason", default="")
@click.option("--title")
@click.option("--description")
@click.option("--category")
@click.option("--priority", type=click.Choice(["P1", "P2", "P3", "P4"]))
@click.option("--escalate", is_flag=True, help="Raise the priority one step.")
@click.option("--technique", help="ATT&CK technique id, e.g. T1110.")
@click.option(
    "--serious",
    type=click.Choice(["yes", "no", "auto"]),
    help="The analyst's say on 'serious' (Decision 05/2017; needs --reason); auto: back to the rule.",
)
@click.option("--task", help="Add a task with this title.")
@click.option("--task-owner", default="")
@click.option("--task-due", help="Due in, e.g. 4h.")
@click.option("--task-done", type=int, help="Mark task N done.")
@click.option("--observable", help="TYPE:VALUE, e.g. ip:45.95.147.236.")
@click.option("--system", help="Add an affected system by code.")
@click.option("--attach", multiple=True, help="Alert id to link (repeatable).")
@click.option("--detach", multiple=True, help="Alert id to unlink (repeatable).")
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def update_cmd(
    ctx: Ctx,
    incident_id: str,
    status: str | None,
    reason: str,
    title: str | None,
    description: str | None,
    category: str | None,
    priority: str | None,
    escalate: bool,
    technique: str | None,
    serious: str | None,
    task: str | None,
    task_owner: str,
    task_due: str | None,
    task_done: int | None,
    observable: str | None,
    system: str | None,
    attach: tuple[str, ...],
    detach: tuple[str, ...],
    expect_version: int | None,
    as_json: bool,
) -> None:
    """Change an incident: status, fields, tasks, observables, linked alerts."""
    if category is not None:
        category = valid_category(category, "--category")
    if technique is not None:
        technique = valid_technique(technique, "--technique")
    if serious is not None and serious != "auto" and not reason.strip():
        raise InputError("incident.serious_reason", where="--serious")
    desk = open_desk(ctx)
    obs = None
    if observable:
        if ":" not in observable:
            raise InputError("incident.bad_observable", where=observable)
        obs = tuple(observable.split(":", 1))

    def run() -> Incident:
        expect: int | None = expect_version
        inc = None
        fields = dict(
            title=title,
            description=description,
            category=category,
            priority=priority,
            technique=technique,
            serious=({"yes": True, "no": False, "auto": None}[serious], reason) if serious else None,
            task=(task, task_owner, task_due) if task else None,
            task_done=task_done,
            observable=obs,
            system=system,
        )
        if any(v is not None for v in fields.values()):
            inc = desk.update(incident_id, expect=expect, **fields)
            expect = None
        if escalate:
            inc = desk.escalate(incident_id, reason=reason, expect=expect)
            expect = None
        if status:
            inc = desk.move(incident_id, status, reason=reason, expect=expect)
            expect = None
        if attach:
            inc = desk.attach(incident_id, list(attach))
        if detach:
            inc = desk.detach(incident_id, list(detach))
        return inc or desk.get(incident_id)[0]

    _do(ctx, as_json, run)


@incidents_group.command("assign")
@click.argument("incident_id")
@click.argument("assignee", default="")
@click.option("--team", default="", help="Shift team.")
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def assign_cmd(
    ctx: Ctx, incident_id: str, assignee: str, team: str, expect_version: int | None, as_json: bool
) -> None:
    """Give the incident to an analyst and/or a shift team."""
    desk = open_desk(ctx)
    _do(ctx, as_json, lambda: desk.assign(incident_id, assignee, team, expect=expect_version))


@incidents_group.command("comment")
@click.argument("incident_id")
@click.argument("text")
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def comment_cmd(ctx: Ctx, incident_id: str, text: str, expect_version: int | None, as_json: bool) -> None:
    """Add a comment to the timeline."""
    desk = open_desk(ctx)
    _do(ctx, as_json, lambda: desk.comment(incident_id, text, expect=expect_version))


@incidents_group.command("close")
@click.argument("incident_id")
@click.option("--reason", default="", help="How it was resolved.")
@click.option("--false-positive", is_flag=True, help="Close as a false positive.")
@_expect
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def close_cmd(
    ctx: Ctx, incident_id: str, reason: str, false_positive: bool, expect_version: int | None, as_json: bool
) -> None:
    """Close (resolving first if needed), or mark as a false positive."""
    desk = open_desk(ctx)
    target = "false_positive" if false_positive else "closed"
    _do(ctx, as_json, lambda: desk.move(incident_id, target, reason=reason, expect=expect_version))


@incidents_group.command("group")
@click.option("--since", default="24h", show_default=True, help="Alerts raised since (duration or ISO time).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def group_cmd(ctx: Ctx, since: str, as_json: bool) -> None:
    """Group alerts not yet in an incident into open incidents (or new ones); record SLA warnings."""
    from canh.clock import parse_since

    rt = ctx.runtime
    desk = open_desk(ctx)
    rt.store.refresh()
    alerts = [
        a
        # "Raised since" means when the alert was made (a backfill of last month raises alerts now).
        for a in rt.store.scan(
            "alerts", since=parse_since(since, rt.clock), until=rt.clock.now(), time_field="event.ingested"
        )
        if not get(a, "canh.incident.id")
    ]
    linked = desk.group_alerts(alerts)
    sla = desk.check_slas()
    if as_json:
        emit_json([{"incident": k, "alerts": len(v)} for k, v in linked.items()])
        return
    ctx.out.print(
        t(
            "incident.grouped",
            alerts=sum(len(v) for v in linked.values()),
            incidents=len(linked),
            sla=sum(len(v) for v in sla.values()),
        )
    )


@incidents_group.command("import-warning")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_warning_cmd(ctx: Ctx, path: Path, as_json: bool) -> None:
    """Open an incident from a national monitoring centre warning (CSV, JSON or STIX 2.1 bundle)."""
    from canh.incidents.warnings import import_warning, read_warning

    desk = open_desk(ctx)
    warning = read_warning(path)
    _do(ctx, as_json, lambda: import_warning(desk, warning))


COMMANDS = [incidents_group]
