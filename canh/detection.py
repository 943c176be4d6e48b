"""Detection wired into ingestion: ``hooks_for(runtime)`` gives the ingest/collect runners a hook that
runs the Sigma engine over each stored batch, writes the alerts through the store interface and
hands them to the incident desk, which groups them into incidents and keeps the SLA clocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from canh.clock import parse_duration
from canh.config import RulesConfig
from canh.events import Event
from canh.store.base import Store

TICK = timedelta(seconds=10)  # how often a live runner's quiet stream closes its correlation windows


class DetectionHook:
    """Called with each stored batch: match, make alerts (suppression applied), write them. At the
    end of the input (:meth:`finish`) and, in a live stream, as time passes (:meth:`tick`) the
    correlation windows still open are closed, so conditions judged at window close (lt, eq...) fire."""

    def __init__(
        self,
        engine: Any,
        store: Store,
        now: Callable[[], datetime],
        suppress: timedelta,
        on_alerts: Callable[[list[dict[str, Any]]], None] | None = None,
        every: timedelta = TICK,
    ) -> None:
        from canh.rules.alerts import AlertMaker

        self.engine = engine
        self.store = store
        self.now = now
        self.maker = AlertMaker(suppress)
        self.on_alerts = on_alerts
        self.alerts_written = 0
        self.every = every
        self._last_batch: datetime | None = None
        self._last_tick: datetime | None = None

    def __call__(self, batch: list[Event]) -> None:
        matches = []
        for event in batch:
            matches.extend(self.engine.match(event))
        self._last_batch = self.now()
        self._raise(matches)

    def finish(self) -> None:
        """The input ended (a ``canh ingest`` run): close every correlation window still open."""
        self._raise(self.engine.flush())

    def tick(self) -> None:
        """Called now and then by a live runner between batches: once no batch has come for a while,
        the idle time counts as event time and the windows it closes raise their alerts."""
        now = self.now()
        if self._last_tick is not None and now - self._last_tick < self.every:
            return
        self._last_tick = now
        if self._last_batch is not None:
            self._raise(self.engine.idle((now - self._last_batch).total_seconds()))

    def _raise(self, matches: list[Any]) -> None:
        if not matches:
            return
        alerts, updates = self.maker.alerts(matches, self.now())
        if alerts:
            self.alerts_written += self.store.write("alerts", alerts).written
        for aid, fields in updates.items():
            self.store.update_alerts([aid], fields)
        if alerts and self.on_alerts is not None:
            self.on_alerts(alerts)


def finish(hooks: Sequence[Any]) -> None:
    """Tell the hooks the input has ended (``canh ingest`` after its last file)."""
    for hook in hooks:
        end = getattr(hook, "finish", None)
        if end is not None:
            end()


class IncidentHook:
    """Alerts become incidents as they are raised: grouped onto the open incident they belong to (or
    a new one), and the SLA clocks of open incidents checked at most once a minute."""

    def __init__(self, runtime: Any, every: timedelta = timedelta(minutes=1)) -> None:
        self.runtime = runtime
        self.every = every
        self.last_check: datetime | None = None
        self.grouped = 0

    def _desk(self) -> Any:
        from canh.incidents.desk import IncidentDesk
        from canh.incidents.systems import Register

        rt = self.runtime
        systems = Register(rt.store, rt.clock, "canh").all()
        return IncidentDesk(
            rt.store, rt.clock, rt.config.incidents, actor="canh", systems=systems, zone=rt.config.timezone
        )

    def alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Group freshly written alerts (the detection hook calls this)."""
        self.runtime.store.refresh()
        linked = self._desk().group_alerts(alerts)
        self.grouped += sum(len(ids) for ids in linked.values())

    def __call__(self, batch: list[Event]) -> None:
        now = self.runtime.clock.now()
        if self.last_check is None or now - self.last_check >= self.every:
            self.last_check = now
            self._desk().check_slas()


def build_engine(cfg: RulesConfig) -> tuple[Any, Any]:
    """The engine for a configuration: the pack plus configured folders (problems returned, not raised)."""
    from canh.rules.engine import engine_from_loaded
    from canh.rules.loader import load_config_rules
    from canh.rules.placeholders import of_config

    loaded = load_config_rules(cfg.paths, cfg.include_pack)
    engine, unsupported = engine_from_loaded(
        loaded.rules,
        loaded.correlations,
        placeholders=of_config(cfg),
        lateness=parse_duration(cfg.allowed_lateness),
    )
    return engine, (loaded, unsupported)


def hooks_for_store(
    store: Store, now: Callable[[], datetime], cfg: RulesConfig | None = None
) -> list[DetectionHook]:
    """Detection hooks over ``store`` (no hook when no rule is loaded)."""
    cfg = cfg or RulesConfig()
    if not cfg.stream:
        return []  # detection runs elsewhere (`canh detect run` over the shared store)
    engine, _ = build_engine(cfg)
    if not engine.rules:
        return []
    return [DetectionHook(engine, store, now, parse_duration(cfg.suppress))]


def hooks_for(runtime: Any) -> Sequence[Callable[[list[Event]], None]]:
    """The hooks ``canh ingest`` (and the collectors' runner) call with each stored batch: detection,
    then (unless ``incidents.auto_group`` is off) incidents from its alerts."""
    hooks: list[Any] = hooks_for_store(runtime.store, runtime.clock.now, runtime.config.rules)
    if hooks and runtime.config.incidents.auto_group:
        incidents = IncidentHook(runtime)
        for hook in hooks:
            hook.on_alerts = incidents.alerts
        hooks.append(incidents)
    return hooks


def summary(hooks: Sequence[Any]) -> Mapping[str, int]:
    """Counters of the detection hooks, for reports."""
    return {
        "alerts": sum(getattr(h, "alerts_written", 0) for h in hooks),
        "grouped": sum(getattr(h, "grouped", 0) for h in hooks),
    }


def scheduled_rules(cfg: RulesConfig) -> tuple[list[Any], list[tuple[str, str]]]:
    """The configured Sigma rules as scheduled queries (Lucene through Canh's pipeline, the mapping the
    in-process engine uses), with the rules that cannot be queried and why (correlations run in-process)."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    from canh.rules.alerts import rule_fields
    from canh.rules.convert import backend_for
    from canh.rules.engine import attack_ids
    from canh.rules.loader import load_config_rules
    from canh.store.scheduled import ScheduledRule

    loaded = load_config_rules(cfg.paths, cfg.include_pack)
    from canh.rules.placeholders import of_config

    backend = backend_for("lucene", of_config(cfg))  # built once: per rule it costs 3x the conversion
    out: list[Any] = []
    skipped: list[tuple[str, str]] = [(str(c.id or c.title), "correlation") for c in loaded.correlations]
    # A rule that only feeds a correlation raises no alert of its own (as in the stream engine),
    # unless the correlation says `generate: true`.
    feeds: set[str] = set()
    generate: set[str] = set()
    for c in loaded.correlations:
        for ref in c.rules or []:
            feeds.add(str(ref.reference))
            if c.generate:
                generate.add(str(ref.reference))
    for rule in loaded.rules:
        keys = {str(rule.id), str(rule.name)} - {"None"}
        if keys & feeds and not keys & generate:
            skipped.append((str(rule.id or rule.title), "feeds a correlation"))
            continue
        try:
            queries = backend.convert(SigmaCollection([rule]))
        except SigmaError as exc:
            skipped.append((str(rule.id or rule.title), str(exc)))
            continue
        tags = tuple(str(tag) for tag in rule.tags)
        info = _Meta.of(rule)
        meta = rule_fields(info)
        if tags:
            meta["tags"] = list(tags)
        techniques = attack_ids(tags)
        for i, query in enumerate(queries):
            rid = str(rule.id) if len(queries) == 1 else f"{rule.id}#{i}"
            out.append(ScheduledRule(rid, rule.title, str(query), str(meta.get("level", "medium")), tags,
                                     {**meta, "id": rid, **({"techniques": techniques} if techniques else {})},
                                     info.path))  # fmt: skip
    return out, skipped


class _Meta:
    """The fields rule_fields reads, from a pySigma rule."""

    path: str | None

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    @classmethod
    def of(cls, rule: Any) -> _Meta:
        level = getattr(rule.level, "name", None)
        status = getattr(rule.status, "name", None)
        return cls(
            id=str(rule.id), title=rule.title, level=level.lower() if level else "medium",
            status=status.lower() if status else None, author=rule.author, description=rule.description,
            references=list(rule.references or ()), path=str(rule.source.path) if rule.source else None,
        )  # fmt: skip


def scheduled_alert_maker(suppress: timedelta) -> Any:
    """Alerts for scheduled matches made the way the stream engine makes them: the rule's author and
    link, the same ids, and the same per-rule suppression window with its counts."""
    from canh.rules.alerts import AlertMaker, RuleMeta
    from canh.rules.engine import Match

    maker = AlertMaker(suppress)
    metas: dict[str, Any] = {}

    def make(rule: Any, events: list[Event], now: datetime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        meta = metas.get(rule.id)
        if meta is None:
            m = dict(rule.meta or {})
            meta = RuleMeta(
                id=rule.id, title=rule.title, level=rule.level, status=str(m.get("status") or ""),
                author=str(m.get("author") or ""), description=str(m.get("description") or ""),
                references=list(m.get("references") or []), tags=list(rule.tags), path=rule.path,
            )  # fmt: skip
            meta.alert = True  # type: ignore[attr-defined,unused-ignore]
            metas[rule.id] = meta
        alerts, updates = maker.alerts([Match(meta, e) for e in events], now)
        for alert in alerts:
            alert["detection"]["mode"] = "scheduled"
        return alerts, updates

    return make
