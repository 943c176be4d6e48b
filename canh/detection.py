"""Detection wired into ingestion: ``hooks_for(runtime)`` gives the ingest/collect runners a hook that
runs the Sigma engine over each stored batch and writes the alerts through the store interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from canh.clock import parse_duration
from canh.config import RulesConfig
from canh.events import Event
from canh.store.base import Store


class DetectionHook:
    """Called with each stored batch: match, make alerts (suppression applied), write them."""

    def __init__(self, engine: Any, store: Store, now: Callable[[], datetime], suppress: timedelta) -> None:
        from canh.rules.alerts import AlertMaker

        self.engine = engine
        self.store = store
        self.now = now
        self.maker = AlertMaker(suppress)
        self.alerts_written = 0

    def __call__(self, batch: list[Event]) -> None:
        matches = []
        for event in batch:
            matches.extend(self.engine.match(event))
        if not matches:
            return
        alerts, updates = self.maker.alerts(matches, self.now())
        if alerts:
            self.alerts_written += self.store.write("alerts", alerts).written
        for aid, fields in updates.items():
            self.store.update_alerts([aid], fields)


def build_engine(cfg: RulesConfig) -> tuple[Any, Any]:
    """The engine for a configuration: the pack plus configured folders (problems returned, not raised)."""
    from canh.rules.engine import engine_from_loaded
    from canh.rules.loader import load_config_rules

    loaded = load_config_rules(cfg.paths, cfg.include_pack)
    engine, unsupported = engine_from_loaded(
        loaded.rules,
        loaded.correlations,
        placeholders=cfg.placeholders,
        lateness=parse_duration(cfg.allowed_lateness),
    )
    return engine, (loaded, unsupported)


def hooks_for_store(
    store: Store, now: Callable[[], datetime], cfg: RulesConfig | None = None
) -> list[DetectionHook]:
    """Detection hooks over ``store`` (no hook when no rule is loaded)."""
    cfg = cfg or RulesConfig()
    engine, _ = build_engine(cfg)
    if not engine.rules:
        return []
    return [DetectionHook(engine, store, now, parse_duration(cfg.suppress))]


def hooks_for(runtime: Any) -> Sequence[Callable[[list[Event]], None]]:
    """The hooks ``canh ingest`` (and the collectors' runner) call with each stored batch."""
    return hooks_for_store(runtime.store, runtime.clock.now, runtime.config.rules)


def summary(hooks: Sequence[Any]) -> Mapping[str, int]:
    """Counters of the detection hooks, for reports."""
    return {"alerts": sum(getattr(h, "alerts_written", 0) for h in hooks)}
