"""``canh status``: what the store holds and where."""

from __future__ import annotations

import click

from canh import __version__
from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.i18n import t


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
def status_cmd(ctx: Ctx, as_json: bool) -> None:
    """Show the store in use, record counts, sizes and where config and data live."""
    rt = ctx.runtime
    stats = rt.store.stats()
    info = {
        "version": __version__,
        "config": str(rt.paths.config),
        "config_exists": rt.paths.config.exists(),
        "data": str(rt.paths.data),
        **stats,
    }
    if as_json:
        emit_json([info])
        return
    ctx.out.print(t("status.header", version=__version__))
    ctx.out.print(t("status.config", path=rt.paths.config, state=t("status.found") if info["config_exists"] else t("status.defaults")))
    ctx.out.print(t("status.store", store=stats.get("store"), location=stats.get("location")))
    for stream, n in (stats.get("records") or {}).items():
        ctx.out.print(f"  {t('stream.' + stream)}: {n:,}")
    for kind, n in (stats.get("documents") or {}).items():
        ctx.out.print(f"  {t('doc.' + kind)}: {n:,}")
    if "bytes" in stats:
        ctx.out.print(t("status.size", mb=f"{stats['bytes'] / 1e6:,.1f}"))
    for key, value in stats.items():
        if key not in {"store", "location", "records", "documents", "bytes"}:
            ctx.out.print(f"  {key}: {value}")


COMMANDS = [status_cmd]
