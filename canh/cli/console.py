"""``canh console``: the analysts' terminal console (works over SSH)."""

from __future__ import annotations

import click

from canh.cli.app import Ctx, pass_ctx


@click.command("console")
@pass_ctx
def console_cmd(ctx: Ctx) -> None:
    """Open the console: alerts (F1), incidents (F2), hunting (F3), the register (F4); q quits."""
    from canh.tui.factory import make_app  # only the console pays for importing Textual

    rt = ctx.runtime
    make_app(rt.store, rt.config, rt.clock).run()


COMMANDS = [console_cmd]
