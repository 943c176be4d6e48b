"""build_source: config entries become sources by type; unknown types are config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from canh.collectors.source import build_source, source_options
from canh.config import SourceConfig, parse_config
from canh.errors import ConfigError
from canh.runtime import Runtime


def test_unknown_type_is_a_config_error(home: Path) -> None:
    # canh.yml is refused when it is read, naming the line...
    with pytest.raises(
        ConfigError, match=r"^c.yml:2: 'sources.0.type': 'carrier-pigeon' is not a source type"
    ):
        parse_config("sources:\n  - type: carrier-pigeon\n", "c.yml")
    # ...and a source built from options that skipped the config (a dict) is refused when built.
    rt = Runtime.load(str(home))
    with pytest.raises(ConfigError) as err:
        build_source({"type": "carrier-pigeon"}, rt)
    assert "carrier-pigeon" in str(err.value)


def test_options_merge_declared_and_extra_fields() -> None:
    cfg = parse_config(
        "sources:\n  - type: file\n    paths: [/var/log/auth.log]\n    timezone: '+07:00'\n"
    ).sources[0]
    opts = source_options(cfg)
    assert opts == {"type": "file", "paths": ["/var/log/auth.log"], "timezone": "+07:00"}


def test_pcap_type_dispatches_to_the_packet_source(home: Path, tmp_path: Path) -> None:
    rt = Runtime.load(str(home))
    src = build_source(SourceConfig(type="pcap", path=str(tmp_path), name="caps"), rt)
    assert src.name == "caps"
    assert set(src.stats()) >= {"read", "emitted"}
