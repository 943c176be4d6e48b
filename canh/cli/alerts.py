"""``canh alerts list``: the alert queue."""

from __future__ import annotations

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.clock import parse_since
from canh.events import get
from canh.i18n import t


@click.group("alerts")
def alerts_group() -> None:
    """Look at alerts raised by the detection rules."""


@alerts_group.command("list")
@click.argument("query", default="*")
@click.option("--since", default="7d", show_default=True, help="Duration back from now or ISO time.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON alert per line.")
@pass_ctx
def list_cmd(ctx: Ctx, query: str, since: str, limit: int, as_json: bool) -> None:
    """Newest alerts first; QUERY filters them (e.g. 'rule.level:high')."""
    rt = ctx.runtime
    rows = rt.store.search("alerts", query, since=parse_since(since, rt.clock), limit=limit)
    if as_json:
        emit_json(rows)
        return
    cols = [ctx.time_header(), t("col.level"), t("col.rule"), t("col.host"), t("col.source"), t("col.count")]
    ctx.out.print(
        table(
            None,
            cols,
            (
                (
                    ctx.when(a.get("@timestamp")),
                    get(a, "rule.level") or get(a, "event.severity_label"),
                    get(a, "rule.name") or get(a, "rule.title"),
                    get(a, "host.name"),
                    get(a, "source.ip"),
                    get(a, "canh.events_count") or len(get(a, "canh.event_ids") or []) or "",
                )
                for a in rows
            ),
            one_line=True,
            flex=(2,),
        )
    )
    ctx.out.print(t("alerts.shown", n=len(rows)))


COMMANDS = [alerts_group]
