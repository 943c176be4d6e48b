"""``canh collect``: run the sources in the config (or files named on the command line) until stopped."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.cli.ingest import _detection_hooks
from canh.collectors.runner import Runner
from canh.collectors.source import Source, build_source
from canh.config import SourceConfig
from canh.errors import ConfigError
from canh.i18n import t


@click.command("collect")
@click.option(
    "--path",
    "paths",
    multiple=True,
    help="Follow these files or globs (a file source) instead of the config's sources.",
)
@click.option("--format", "fmt", help="Format of the --path files (default: detect per file).")
@click.option("--source", "only", multiple=True, help="Run only the config sources with these names.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary at exit as JSON.")
@pass_ctx
def collect_cmd(
    ctx: Ctx, paths: tuple[str, ...], fmt: str | None, only: tuple[str, ...], as_json: bool
) -> None:
    """Collect continuously from files, syslog, EVTX folders and captures until SIGINT/SIGTERM."""
    rt = ctx.runtime
    configs: list[Any]
    if paths:
        extra: dict[str, Any] = {"paths": list(paths), "name": "cli:" + ",".join(paths)}
        if fmt:
            extra["format"] = fmt
        configs = [SourceConfig(type="file", **extra)]
    else:
        configs = [c for c in rt.config.sources if not only or (c.name or c.type) in only]
    if not configs:
        raise ConfigError("collect.no_sources", where=str(rt.paths.config))
    sources: list[Source] = [build_source(c, rt) for c in configs]
    runner = Runner(rt.store, sources, hooks=_detection_hooks(rt))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    if not as_json:
        ctx.err.print(t("collect.started", n=len(sources), names=", ".join(s.name for s in sources)))
    try:
        runner.run(until=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stats = runner.stats
    per_source = {s.name: s.stats() for s in sources}
    if as_json:
        emit_json(
            [
                {
                    "events": stats.events,
                    "written": stats.written,
                    "duplicates": stats.duplicates,
                    "store_retries": stats.store_retries,
                    "failures": stats.failures,
                    "sources": per_source,
                }
            ]
        )
    else:
        for failure in stats.failures:
            ctx.err.print(t("collect.source_failed", error=failure), markup=False)
        ctx.out.print(
            t("collect.summary", events=stats.events, written=stats.written, duplicates=stats.duplicates)
        )
        for name, counters in per_source.items():
            ctx.out.print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in counters.items()), markup=False)
    if stats.failures and len(stats.failures) == len(sources):
        sys.exit(1)


COMMANDS = [collect_cmd]
