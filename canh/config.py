"""Configuration: one YAML file (``canh.yml``) validated on load, errors naming file, line and key.

Where things live: ``--home``/``CANH_HOME`` puts the config, data and state under one folder (tests
and scripts use it to stay isolated); otherwise ``--config``/``CANH_CONFIG`` names the file and data
goes under the platform's data folder. Each part of Canh has its own section model here.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from canh.errors import ConfigError


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, values are checked by type."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SQLiteConfig(Section):
    path: str | None = None  # default: <data>/canh.db
    index_entities: bool = False  # IP/user indexes: faster hunting by address, ~40% slower ingest


class ElasticsearchConfig(Section):
    url: str = "http://127.0.0.1:9200"
    index_prefix: str = "canh"
    api_key: str | None = None
    api_key_file: str | None = None
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    bulk_max_bytes: int = 5_000_000
    spool_dir: str | None = None  # default: <state>/spool
    spool_max_bytes: int = 2_000_000_000
    replicas: int = 0  # index replicas: 0 on a single node, 1 on a cluster
    bulk_threads: int = 4  # bulk requests in flight at once


class StoreConfig(Section):
    type: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite: SQLiteConfig = SQLiteConfig()
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()


class SourceConfig(Section):
    """One collector source (files, syslog, evtx, packets); each type reads the options it knows."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    name: str | None = None
    timezone: str | None = None
    format: str | None = None


class RulesConfig(Section):
    paths: list[str] = Field(default_factory=list)
    include_pack: bool = True
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    suppress: str = "10m"
    allowed_lateness: str = "5m"
    schedule: str = "1m"
    lookback: str = "5m"


class SlaTargets(Section):
    acknowledge: str
    contain: str
    resolve: str


def _default_sla() -> dict[str, SlaTargets]:
    return {
        "P1": SlaTargets(acknowledge="15m", contain="4h", resolve="24h"),
        "P2": SlaTargets(acknowledge="30m", contain="8h", resolve="72h"),
        "P3": SlaTargets(acknowledge="2h", contain="24h", resolve="7d"),
        "P4": SlaTargets(acknowledge="8h", contain="72h", resolve="30d"),
    }


class IncidentsConfig(Section):
    sla: dict[str, SlaTargets] = Field(default_factory=_default_sla)
    group_window: str = "24h"
    shift_hours: int = 8
    reporting_unit: str | None = None


class CanhConfig(Section):
    """The whole configuration file."""

    language: Literal["vi", "en"] | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    host_name: str | None = None
    store: StoreConfig = StoreConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: RulesConfig = RulesConfig()
    incidents: IncidentsConfig = IncidentsConfig()


class Paths(BaseModel):
    """Where the config file, data and state live for this run."""

    config: Path
    data: Path
    state: Path


def resolve_paths(home: str | os.PathLike[str] | None = None, config: str | os.PathLike[str] | None = None) -> Paths:
    """Locate config/data/state from the options, then CANH_HOME/CANH_CONFIG, then platform folders."""
    home = home or os.environ.get("CANH_HOME") or None
    config = config or os.environ.get("CANH_CONFIG") or None
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(config=Path(config) if config else root / "canh.yml", data=root / "data", state=root / "state")
    import platformdirs

    data = Path(platformdirs.user_data_dir("canh"))
    cfg = Path(config) if config else Path(platformdirs.user_config_dir("canh")) / "canh.yml"
    return Paths(config=cfg, data=data, state=Path(platformdirs.user_state_dir("canh")))


def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path in a composed YAML document to its 1-based line."""
    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = key.value
            out[(*path, k)] = key.start_mark.line + 1
            for sub, line in _line_index(value, (*path, k)).items():
                out.setdefault(sub, line)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_line_index(item, (*path, i)))
    return out


def parse_config(text: str, source: str = "canh.yml") -> CanhConfig:
    """Validate config text; the first problem raises ConfigError ``source:line: key: reason``."""
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader)
        data = yaml.load(text, Loader=yaml.CSafeLoader) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        reason = getattr(exc, "problem", None) or str(exc)
        context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and cmark is not None and (mark is None or cmark.line != mark.line):
            reason += f" ({context} on line {cmark.line + 1})"
        raise ConfigError("config.yaml", where=where, reason=reason) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("config.invalid", where=f"{source}:1", reason="the file must be a mapping of keys")
    try:
        return CanhConfig.model_validate(data)
    except ValidationError as exc:
        lines = _line_index(node) if node is not None else {}
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), 1)
        dotted = ".".join(str(p) for p in loc)
        if err["type"] == "extra_forbidden":
            model_keys = _known_keys(loc[:-1])
            close = difflib.get_close_matches(str(loc[-1]), model_keys, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError("config.unknown_key", where=f"{source}:{line}", key=dotted, suggestion=hint) from exc
        if err["type"] == "missing":
            raise ConfigError("config.missing_key", where=f"{source}:{line}", key=dotted) from exc
        raise ConfigError("config.bad_value", where=f"{source}:{line}", key=dotted, reason=err["msg"]) from exc


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = CanhConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def load_config(paths: Paths, *, required: bool = False) -> CanhConfig:
    """Read and validate the config file; a missing file means defaults unless ``required``."""
    if not paths.config.exists():
        if required:
            raise ConfigError("config.not_found", where=str(paths.config))
        return CanhConfig()
    try:
        text = paths.config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config.invalid", where=str(paths.config), reason=str(exc)) from exc
    return parse_config(text, str(paths.config))
