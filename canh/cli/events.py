"""``canh events search``: hunting over stored events with Lucene query syntax."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.clock import parse_since
from canh.events import get
from canh.i18n import t


@click.group("events")
def events_group() -> None:
    """Search and count stored events."""


@events_group.command("search")
@click.argument("query", default="*")
@click.option(
    "--since", default="24h", show_default=True, help="Duration back from now (15m, 24h, 7d) or ISO time."
)
@click.option("--until", default=None, help="End time (ISO) or duration back from now.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--asc", is_flag=True, help="Oldest first.")
@click.option("--count", "count_only", is_flag=True, help="Print only how many events match.")
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
@pass_ctx
def search_cmd(
    ctx: Ctx,
    query: str,
    since: str,
    until: str | None,
    limit: int,
    asc: bool,
    count_only: bool,
    as_json: bool,
) -> None:
    """Find events: QUERY is Lucene syntax, e.g. 'event.action:ssh_login AND NOT source.ip:10.0.0.0/8'."""
    rt = ctx.runtime
    start = parse_since(since, rt.clock)
    end = parse_since(until, rt.clock)
    if count_only:
        n = rt.store.count("events", query, since=start, until=end)
        emit_json([{"count": n}]) if as_json else ctx.out.print(str(n))
        return
    rows = rt.store.search(
        "events", query, since=start, until=end, limit=limit, order="asc" if asc else "desc"
    )
    if as_json:
        emit_json(rows)
        return
    print_events(ctx, rows)
    ctx.out.print(t("events.shown", n=len(rows)))


def print_events(ctx: Ctx, events: Iterable[Mapping[str, Any]]) -> None:
    """Events as one table (time, host, dataset, source, message), as searches and backtests show them."""
    cols = [ctx.time_header(), t("col.host"), t("col.dataset"), t("col.source"), t("col.message")]
    ctx.out.print(
        table(
            None,
            cols,
            (
                (
                    ctx.when(e.get("@timestamp")),
                    get(e, "host.name"),
                    get(e, "event.dataset"),
                    get(e, "source.ip"),
                    (get(e, "message") or get(e, "event.original") or "")[:200],
                )
                for e in events
            ),
            flex=(4,),
        )
    )


COMMANDS = [events_group]
