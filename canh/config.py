"""Configuration: one YAML file (``canh.yml``) validated on load, errors naming file, line and key.

Where things live: ``--home``/``CANH_HOME`` puts the config, data and state under one folder (tests
and scripts use it to stay isolated); otherwise ``--config``/``CANH_CONFIG`` names the file and data
goes under the platform's data folder. Each part of Canh has its own section model here.
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from canh.errors import ConfigError
from canh.i18n import t

# The collector source types (their factories are in canh.collectors.source, checked by a test): a
# misspelt type is reported by `canh config check`, not when `canh collect` starts.
SOURCE_TYPES = ("capture", "evtx", "file", "pcap", "syslog")
PRIORITY_NAMES = ("P1", "P2", "P3", "P4")
REGIME_NAMES = ("ND85", "ND331")  # canh.incidents.regulation.REGIMES (a test keeps them equal)


def _zone(value: str | None) -> str | None:
    from zoneinfo import ZoneInfoNotFoundError

    from canh.events import local_zone

    if value is None:
        return None
    try:
        local_zone(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(t("config.bad_zone", value=value)) from exc
    return value


def _duration(value: str) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"\s*\d+(?:\.\d+)?\s*(ms|s|m|h|d|w)\s*", value, re.I):
        raise ValueError(t("config.bad_duration", value=value))
    return value


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
    # One events index per day, or per month for clusters fed years of backfill (a shard per index:
    # a node takes 1,000). Fixed per cluster: a changed period re-stores re-ingested events.
    index_period: Literal["day", "month"] = "day"


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

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SOURCE_TYPES:
            close = difflib.get_close_matches(value, SOURCE_TYPES, n=1)
            hint = t("config.did_you_mean", key=close[0]) if close else ""
            raise ValueError(t("config.bad_source_type", value=value, known=", ".join(SOURCE_TYPES)) + hint)
        return value

    _zone_ok = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))


class RulesConfig(Section):
    paths: list[str] = Field(default_factory=list)
    include_pack: bool = True
    placeholders: dict[str, list[str]] = Field(default_factory=dict)
    placeholder_files: dict[str, str] = Field(default_factory=dict)  # name -> file of values, one a line
    validators: list[str] | None = (
        None  # pySigma/Canh rule validators for `canh rules check` (None: defaults)
    )
    suppress: str = "10m"
    allowed_lateness: str = "5m"
    stream: bool = True  # detect in canh ingest/collect as events are stored (off: only `canh detect run`)
    schedule: str = "1m"
    lookback: str = "5m"

    _durations = field_validator("suppress", "allowed_lateness", "schedule", "lookback")(
        classmethod(lambda cls, v: _duration(v))
    )


class SlaTargets(Section):
    acknowledge: str
    contain: str
    resolve: str

    _durations = field_validator("acknowledge", "contain", "resolve")(
        classmethod(lambda cls, v: _duration(v))
    )


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
    auto_group: bool = True  # canh ingest/collect group new alerts into incidents as they are raised
    shift_hours: int = Field(default=8, ge=1, le=24)
    reporting_unit: str | None = None

    _window = field_validator("group_window")(classmethod(lambda cls, v: _duration(v)))

    @field_validator("sla", mode="before")
    @classmethod
    def _sla_over_defaults(cls, value: Any) -> Any:
        """Targets given for some priorities (or some clocks) keep the defaults of the others: a
        config that only tightens P1 must not leave P2-P4 incidents with no SLA at all."""
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = {p: s.model_dump() for p, s in _default_sla().items()}
        for prio, targets in value.items():
            if prio not in PRIORITY_NAMES:
                raise ValueError(t("config.bad_priority", value=prio, known=", ".join(PRIORITY_NAMES)))
            merged[prio] = {**merged[prio], **targets} if isinstance(targets, dict) else targets
        return merged


def _levels(value: Any) -> Any:
    """Level keys as text (YAML reads ``3:`` as a number) so errors find their line; 1-5 only."""
    if not isinstance(value, dict):
        return value
    for level in value:
        if str(level) not in ("1", "2", "3", "4", "5"):
            raise ValueError(t("register.bad_config_level", value=level))
    return {str(k): v for k, v in value.items()}


class RegisterConfig(Section):
    """The register: inspection cadence per regime and level over the regulation's defaults (ND331
    sets it by level and risk), e.g. ``inspection_every: {ND331: {3: 180d}}``."""

    inspection_every: dict[
        str, Annotated[dict[str, Annotated[str, AfterValidator(_duration)]], BeforeValidator(_levels)]
    ] = Field(default_factory=dict)

    @field_validator("inspection_every", mode="before")
    @classmethod
    def _regimes(cls, value: Any) -> Any:
        for regime in value if isinstance(value, dict) else ():
            if regime not in REGIME_NAMES:
                raise ValueError(t("register.bad_config_regime", value=regime, known=", ".join(REGIME_NAMES)))
        return value


# The section is called ``register`` in canh.yml; pydantic warns that the name shadows ABCMeta.register
# on the model class, which instances (the only users of the field) never see.
warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


class CanhConfig(Section):
    """The whole configuration file."""

    language: Literal["vi", "en"] | None = None
    timezone: str = "Asia/Ho_Chi_Minh"

    _zone_ok = field_validator("timezone")(classmethod(lambda cls, v: _zone(v)))
    host_name: str | None = None
    store: StoreConfig = StoreConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: RulesConfig = RulesConfig()
    incidents: IncidentsConfig = IncidentsConfig()
    register: RegisterConfig = RegisterConfig()


class Paths(BaseModel):
    """Where the config file, data and state live for this run."""

    config: Path
    data: Path
    state: Path


def resolve_paths(
    home: str | os.PathLike[str] | None = None, config: str | os.PathLike[str] | None = None
) -> Paths:
    """Locate config/data/state from the options, then CANH_HOME/CANH_CONFIG, then platform folders."""
    home = home or os.environ.get("CANH_HOME") or None
    config = config or os.environ.get("CANH_CONFIG") or None
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(
            config=Path(config) if config else root / "canh.yml", data=root / "data", state=root / "state"
        )
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
            hint = t("config.did_you_mean", key=close[0]) if close else ""
            raise ConfigError(
                "config.unknown_key", where=f"{source}:{line}", key=dotted, suggestion=hint
            ) from exc
        if err["type"] == "missing":
            raise ConfigError("config.missing_key", where=f"{source}:{line}", key=dotted) from exc
        raise ConfigError(
            "config.bad_value", where=f"{source}:{line}", key=dotted, reason=_reason(err)
        ) from exc


def _reason(err: Any) -> str:
    """A validation problem in the user's language (pydantic's own messages are English only)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error") or err["msg"])  # our validators' messages, already translated
    if kind == "literal_error":
        return t(
            "config.one_of", expected=str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        )
    if kind in _TYPE_NAMES:
        return t("config.wrong_type", expected=t(_TYPE_NAMES[kind]), got=repr(err.get("input"))[:60])
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return t("config.out_of_range", value=repr(err.get("input")), limit=err["msg"].rsplit(" ", 1)[-1])
    return str(err["msg"])


_TYPE_NAMES = {
    "int_parsing": "config.type_int", "int_type": "config.type_int", "int_from_float": "config.type_int",
    "float_parsing": "config.type_number", "float_type": "config.type_number",
    "bool_parsing": "config.type_bool", "bool_type": "config.type_bool",
    "string_type": "config.type_text", "dict_type": "config.type_mapping", "list_type": "config.type_list",
    "model_type": "config.type_mapping",
}  # fmt: skip


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


def check_sources(cfg: CanhConfig, text: str, source: str = "canh.yml") -> None:
    """Check every source's own options the way ``canh collect`` reads them; the first problem raises
    ConfigError at the file:line of the option (or of the source entry) with its ``sources.N`` key."""
    from canh.collectors.source import check_source  # late: the collectors load parsers

    lines: dict[tuple[Any, ...], int] | None = None
    for index, entry in enumerate(cfg.sources):
        try:
            check_source(entry)
        except ConfigError as exc:
            if lines is None:
                node = yaml.compose(text, Loader=yaml.CSafeLoader)
                lines = _line_index(node) if node is not None else {}
            key = str(exc.params.get("key") or "")
            option = str(exc.params.get("option") or ("" if key.startswith("sources.") else key))
            path = ("sources", index, *option.split(".")) if option else ("sources", index)
            line = lines.get(path) or lines.get(("sources", index)) or 1
            params = dict(exc.params)
            if option and "key" in params:
                params["key"] = f"sources.{index}.{option}"
            raise ConfigError(exc.key, where=f"{source}:{line}", **params) from exc


def load_config(paths: Paths, *, required: bool = False) -> CanhConfig:
    """Read and validate the config file; a missing file means defaults unless ``required``."""
    if not paths.config.exists():
        if required:
            raise ConfigError("config.not_found", where=str(paths.config))
        return CanhConfig()
    return parse_config(read_config_text(paths), str(paths.config))


def read_config_text(paths: Paths) -> str:
    """The config file's text (for checks that need its lines after load_config accepted it)."""
    try:
        return paths.config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config.invalid", where=str(paths.config), reason=str(exc)) from exc
