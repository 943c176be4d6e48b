"""The ``canh`` command line: each command group lives in its own module and is added here."""

from canh.cli import (
    alerts,
    collect,
    configcmd,
    console,
    demo,
    detect,
    events,
    incidents,
    ingest,
    report,
    rules,
    status,
    systems,
)
from canh.cli.app import cli, main

for _module in (
    ingest,
    collect,
    events,
    alerts,
    status,
    demo,
    configcmd,
    console,
    incidents,
    systems,
    report,
    rules,
    detect,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)

__all__ = ["cli", "main"]
