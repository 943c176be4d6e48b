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
    ctx.out.print(
        t(
            "status.config",
            path=rt.paths.config,
            state=t("status.found") if info["config_exists"] else t("status.defaults"),
        )
    )
    ctx.out.print(t("status.store", store=stats.get("store"), location=stats.get("location")))
    for stream, n in (stats.get("records") or {}).items():
        ctx.out.print(f"  {t('stream.' + stream)}: {n:,}")
    for kind, n in (stats.get("documents") or {}).items():
        ctx.out.print(f"  {t('doc.' + kind)}: {n:,}")
    if "bytes" in stats:
        ctx.out.print(t("status.size", mb=f"{stats['bytes'] / 1e6:,.1f}"))
    _print_cluster(ctx, stats)
    for key, value in stats.items():
        if key not in {"store", "location", "records", "documents", "bytes", "cluster", "spool", "indices"}:
            ctx.out.print(f"  {key}: {value}")


def _print_cluster(ctx: Ctx, stats: dict[str, object]) -> None:
    """Elasticsearch only: cluster health, the size of each index, what waits in the spool."""
    cluster = stats.get("cluster")
    if isinstance(cluster, dict):
        if cluster.get("status") == "unreachable":
            ctx.out.print(t("es.status.unreachable", reason=cluster.get("reason", "")))
        else:
            ctx.out.print(
                t("es.status.cluster", **{k: cluster.get(k, "?") for k in ("cluster", "status", "nodes")})
            )
    indices = stats.get("indices")
    if isinstance(indices, dict):
        for index, row in sorted(indices.items()):
            ctx.out.print(
                t("es.status.index", index=index, docs=f"{row['docs']:,}", mb=f"{row['bytes'] / 1e6:,.1f}")
            )
    spool = stats.get("spool")
    if isinstance(spool, dict):
        size = int(spool["bytes"])
        text = f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.1f} kB"
        ctx.out.print(t("es.status.spool", size=text, path=spool["path"]))


COMMANDS = [status_cmd]
