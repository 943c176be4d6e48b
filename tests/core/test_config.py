"""Config validation names the file, line and key of the first problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from canh.config import load_config, parse_config, resolve_paths
from canh.errors import ConfigError


def test_defaults_when_empty() -> None:
    cfg = parse_config("")
    assert cfg.store.type == "sqlite"
    assert cfg.timezone == "Asia/Ho_Chi_Minh"


def test_unknown_key_names_line_and_suggests() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("timezone: UTC\nstore:\n  type: sqlite\n  sqllite:\n    path: x\n", "/etc/canh.yml")
    assert err.value.render("en") == "/etc/canh.yml:4: unknown key 'store.sqllite' (did you mean 'sqlite'?)"


def test_wrong_value_and_broken_yaml_name_the_line() -> None:
    with pytest.raises(ConfigError, match=r"^c.yml:3: 'store.type'"):
        parse_config("language: vi\nstore:\n  type: mongodb\n", "c.yml")
    with pytest.raises(ConfigError, match=r"^c.yml:3: not valid YAML: .* \(while parsing a flow sequence on line 2\)"):
        parse_config("rules:\n  paths: [a, b\n", "c.yml")


def test_home_puts_everything_under_one_folder(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path)
    assert paths.config == tmp_path / "canh.yml"
    assert paths.data == tmp_path / "data" and paths.state == tmp_path / "state"
    assert load_config(paths).store.type == "sqlite"


def test_config_check_command(home: Path, canh) -> None:  # type: ignore[no-untyped-def]
    (home / "canh.yml").write_text("store:\n  typ: sqlite\n", encoding="utf-8")
    bad = canh("config", "check")
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"canh: {home / 'canh.yml'}:2: unknown key 'store.typ' (did you mean 'type'?)"
    (home / "canh.yml").write_text("store:\n  type: sqlite\n", encoding="utf-8")
    ok = canh("config", "check", check=True)
    assert "configuration is valid" in ok.stdout
