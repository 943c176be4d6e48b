"""``canh demo``: load the bundled sample day into a fresh embedded store and show what it found."""

from __future__ import annotations

import click

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.demo import run_demo


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_ctx
def demo_cmd(ctx: Ctx, as_json: bool) -> None:
    """Load yesterday at a provincial data centre (offline, into a fresh store in <home>) and show what it found."""
    summary = run_demo(ctx.home, out=None if as_json else ctx.out, clock=ctx.runtime.clock)
    if as_json:
        emit_json([summary])


COMMANDS = [demo_cmd]
