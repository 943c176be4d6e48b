"""``canh detect run``: query-time detection, the rules as scheduled queries over newly stored events.

For stores that collectors fill from many machines (Elasticsearch): instead of (or beside) detecting
in each collector, one `canh detect run` per cluster queries the new events on a schedule. Several
may run at once: a lease lets one work while the others stand by, and alert ids are deterministic,
so nothing is doubled.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx
from canh.clock import parse_duration
from canh.i18n import t


@click.group("detect")
def detect_group() -> None:
    """Query-time detection over stored events (scheduled, with a lease for standby instances)."""


@detect_group.command("run")
@click.option("--once", is_flag=True, help="One pass, then exit (for cron or a test).")
@click.option(
    "--name", default="default", show_default=True, help="Schedule name (one lease and checkpoint each)."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per pass.")
@pass_ctx
def run_cmd(ctx: Ctx, once: bool, name: str, as_json: bool) -> None:
    """Run the configured rules every rules.schedule over events stored since the last pass."""
    from canh.detection import IncidentHook, scheduled_alert_maker, scheduled_rules
    from canh.store.scheduled import ScheduledDetection

    rt = ctx.runtime
    rules, skipped = scheduled_rules(rt.config.rules)
    if not as_json:
        ctx.out.print(t("detect.loaded", rules=len(rules), skipped=len(skipped)))
    incidents = IncidentHook(rt) if rt.config.incidents.auto_group else None
    # Elasticsearch makes writes searchable about a second later; SQLite at once.
    settle = timedelta(0) if rt.store.name == "sqlite" else timedelta(seconds=2)
    det = ScheduledDetection(
        rt.store, rules, clock=rt.clock, owner=f"{socket.gethostname()}:{os.getpid()}", name=name, settle=settle,
        lookback=parse_duration(rt.config.rules.lookback), on_alerts=incidents.alerts if incidents else None,
        alert_maker=scheduled_alert_maker(parse_duration(rt.config.rules.suppress)),
    )  # fmt: skip
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if not once:
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
    every = parse_duration(rt.config.rules.schedule).total_seconds()
    try:
        while True:
            result = det.run_once()
            if incidents is not None:
                incidents([])  # SLA clocks of open incidents, at most once a minute
            _report(ctx, result, as_json)
            if once or stop.wait(every):
                break
    finally:
        det.release()


def _report(ctx: Ctx, result: Any, as_json: bool) -> None:
    if as_json:
        emit_json([{
            "status": result.status, "since": result.since, "until": result.until,
            "matched": result.matched, "alerts": result.alerts_written,
            "per_rule": {k: v for k, v in result.per_rule.items() if v},
        }])  # fmt: skip
        return
    if result.status == "standby":
        ctx.out.print(t("detect.standby"))
    else:
        ctx.out.print(t("detect.pass", status=result.status, since=ctx.when(result.since),
                        until=ctx.when(result.until), matched=result.matched, alerts=result.alerts_written))  # fmt: skip


COMMANDS = [detect_group]
