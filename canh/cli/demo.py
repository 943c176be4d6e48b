"""``canh demo``: load the bundled sample day into a fresh embedded store and show what it found."""

from __future__ import annotations

import click

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.demo import run_demo


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def demo_cmd(ctx: Ctx, as_json: bool) -> None:
    """Ingest a realistic day at a government data centre (offline, into <home>/demo) and summarise it."""
    summary = run_demo(ctx.home, out=None if as_json else ctx.out)
    if as_json:
        emit_json([summary])


COMMANDS = [demo_cmd]
