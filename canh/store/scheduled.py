"""Query-time detection: rules as scheduled queries over newly ingested events, on any store.

Each run searches the window ``[checkpoint - lookback, now - settle)`` by **ingest time**
(``event.ingested``), not event time: an event that arrives late (a collector was offline, a spool
was replayed) is still evaluated once, in the run after it was stored. The overlap catches events
that became searchable after the previous run looked (refresh lag); alert ids are derived from
(rule, event) so the overlap, a retry or a second instance never doubles an alert. A lease document
in ``state`` (optimistic concurrency) lets one instance run while another stands by; the
checkpoint is only advanced by the lease holder.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canh.clock import Clock
from canh.errors import ConflictError
from canh.events import format_ts, parse_ts
from canh.store.base import NEW, Store, Versioned


@dataclass(frozen=True)
class ScheduledRule:
    """A rule as a query: Lucene text (what pySigma's Elasticsearch backend emits, or a hunting query)."""

    id: str
    title: str
    query: str
    level: str = "medium"
    tags: tuple[str, ...] = ()
    meta: Mapping[str, Any] | None = None  # the alert's whole ``rule`` object (author, link...) when known
    path: str | None = None  # the rule file


@dataclass
class RunResult:
    """What one run did: ``ran`` or ``standby`` (another instance holds the lease)."""

    status: str
    since: datetime | None = None
    until: datetime | None = None
    matched: int = 0
    alerts_written: int = 0
    per_rule: dict[str, int] = field(default_factory=dict)


def alert_id(rule_id: str, event_id: str) -> str:
    """The same rule on the same event always makes the same alert id."""
    return hashlib.blake2b(f"{rule_id}\x00{event_id}".encode(), digest_size=16).hexdigest()


def make_alert(rule: ScheduledRule, event: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """An ECS alert for one matching event."""
    ev = event.get("event") if isinstance(event.get("event"), Mapping) else {}
    eid = str(ev.get("id")) if ev else ""
    alert: dict[str, Any] = {
        "id": alert_id(rule.id, eid),
        "@timestamp": event.get("@timestamp") or format_ts(now),
        "event": {"kind": "signal", "severity_label": rule.level, "ingested": format_ts(now)},
        "rule": dict(rule.meta) if rule.meta else {"id": rule.id, "name": rule.title, "level": rule.level},
        "related": {"event_ids": [eid]},
        "detection": {"mode": "scheduled"},
    }
    if rule.tags:
        alert["tags"] = list(rule.tags)
    if ev and ev.get("dataset"):
        alert["event"]["dataset"] = ev["dataset"]
    for key in ("host", "source", "destination", "user", "process"):
        if isinstance(event.get(key), Mapping):
            alert[key] = event[key]
    return alert


# (rule, matching events, now) -> (new alerts, {alert id: fields} for suppressed repeats)
AlertMakerFn = Callable[
    [ScheduledRule, list[dict[str, Any]], datetime], tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]
]


class ScheduledDetection:
    """Runs rules over new events with a lease and a checkpoint kept in the store's ``state`` docs."""

    def __init__(
        self,
        store: Store,
        rules: Sequence[ScheduledRule],
        *,
        clock: Clock,
        owner: str,
        name: str = "default",
        lookback: timedelta = timedelta(minutes=2),
        lease: timedelta = timedelta(minutes=1),
        settle: timedelta = timedelta(seconds=2),
        first_window: timedelta = timedelta(hours=1),
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
        alert_maker: AlertMakerFn | None = None,
    ) -> None:
        self.store = store
        self.rules = list(rules)
        self.clock = clock
        self.owner = owner
        self.name = name
        self.lookback = lookback
        self.lease_for = lease
        self.settle = settle
        self.first_window = first_window
        self.on_alerts = on_alerts
        self.alert_maker = alert_maker

    @property
    def lease_id(self) -> str:
        return f"detect-lease:{self.name}"

    @property
    def checkpoint_id(self) -> str:
        return f"detect-checkpoint:{self.name}"

    def _acquire(self, now: datetime) -> Versioned | None:
        """Take or renew the lease; None when another live instance holds it."""
        body = {"owner": self.owner, "expires": format_ts(now + self.lease_for)}
        current = self.store.get_doc("state", self.lease_id)
        try:
            if current is None:
                return self.store.put_doc("state", self.lease_id, body, expect=NEW)
            held_by_other = current.doc.get("owner") != self.owner
            if held_by_other and parse_ts(current.doc["expires"]) > now:
                return None
            return self.store.put_doc("state", self.lease_id, body, expect=current)
        except ConflictError:
            return None  # another instance took it a moment ago

    def _alerts(self, rule: ScheduledRule, events: list[dict[str, Any]], now: datetime) -> int:
        if self.alert_maker is None:
            return self._write([make_alert(rule, e, now) for e in events])
        alerts, updates = self.alert_maker(rule, events, now)
        written = self._write(alerts) if alerts else 0
        for aid, fields in updates.items():
            self.store.update_alerts([aid], fields)
        return written

    def _write(self, alerts: list[dict[str, Any]]) -> int:
        written = self.store.write("alerts", alerts).written
        if written and self.on_alerts is not None:
            self.on_alerts(alerts)  # already-present ones are skipped by the incident desk
        return written

    def run_once(self) -> RunResult:
        """One scheduled pass; safe to call from several instances at once."""
        now = self.clock.now()
        lease = self._acquire(now)
        if lease is None:
            return RunResult("standby")
        cp = self.store.get_doc("state", self.checkpoint_id)
        done_until = parse_ts(cp.doc["ingested_until"]) if cp else now - self.first_window
        since = done_until - self.lookback
        until = now - self.settle
        result = RunResult("ran", since, until)
        if until <= since:
            return result
        self.store.refresh()
        for rule in self.rules:
            events: list[dict[str, Any]] = []
            hits = 0
            for event in self.store.scan(
                "events", rule.query, since=since, until=until, time_field="event.ingested"
            ):
                hits += 1
                events.append(event)
                if len(events) >= 1000:
                    result.alerts_written += self._alerts(rule, events, now)
                    events = []
            if events:
                result.alerts_written += self._alerts(rule, events, now)
            result.per_rule[rule.id] = hits
            result.matched += hits
        # Only the lease holder moves the checkpoint: renewing first proves we still hold it.
        try:
            self.store.put_doc(
                "state",
                self.lease_id,
                {"owner": self.owner, "expires": format_ts(self.clock.now() + self.lease_for)},
                expect=lease,
            )
        except ConflictError:
            result.status = "lost-lease"
            return result
        body = {"ingested_until": format_ts(until), "owner": self.owner}
        try:
            self.store.put_doc("state", self.checkpoint_id, body, expect=cp if cp else NEW)
        except ConflictError:
            result.status = "lost-lease"
        self.store.refresh()
        return result

    def release(self) -> None:
        """Give the lease up at a clean exit, so a standby (or the next cron run) takes over at once."""
        current = self.store.get_doc("state", self.lease_id)
        if current is not None and current.doc.get("owner") == self.owner:
            with contextlib.suppress(ConflictError):  # someone took it over already
                self.store.put_doc(
                    "state", self.lease_id, {"owner": self.owner, "expires": format_ts(self.clock.now())},
                    expect=current,
                )  # fmt: skip
