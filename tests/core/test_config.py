"""Config validation names the file, line and key of the first problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from canh.config import check_sources, load_config, parse_config, resolve_paths
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
    with pytest.raises(
        ConfigError, match=r"^c.yml:3: not valid YAML: .* \(while parsing a flow sequence on line 2\)"
    ):
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
    assert (
        bad.stderr.strip() == f"canh: {home / 'canh.yml'}:2: unknown key 'store.typ' (did you mean 'type'?)"
    )
    (home / "canh.yml").write_text("store:\n  type: sqlite\n", encoding="utf-8")
    ok = canh("config", "check", check=True)
    assert "configuration is valid" in ok.stdout


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("timezone: Mars/Phobos\n", "c.yml:1: 'timezone'", "is not a time zone"),
        ("rules:\n  suppress: banana\n", "c.yml:2: 'rules.suppress'", "is not a duration"),
        (
            "incidents:\n  sla:\n    P1: {acknowledge: soon}\n",
            "c.yml:3: 'incidents.sla.P1.acknowledge'",
            "not a duration",
        ),
        (
            "incidents:\n  sla:\n    P7: {acknowledge: 1m}\n",
            "c.yml:2: 'incidents.sla'",
            "'P7' is not a priority",
        ),
        ("sources:\n  - type: filez\n", "c.yml:2: 'sources.0.type'", "(did you mean 'file'?)"),
        (
            "sources:\n  - type: file\n    timezone: UTC+7\n",
            "c.yml:3: 'sources.0.timezone'",
            "not a time zone",
        ),
        ("incidents:\n  shift_hours: 30\n", "c.yml:2: 'incidents.shift_hours'", "out of range"),
    ],
)
def test_values_that_would_fail_later_are_refused_at_load(text: str, where: str, says: str) -> None:
    # `canh config check` must catch what would otherwise only fail when `canh collect` starts.
    with pytest.raises(ConfigError) as err:
        parse_config(text, "c.yml")
    message = err.value.render("en")
    assert message.startswith(where) and says in message


def test_tightening_one_sla_keeps_the_other_targets() -> None:
    cfg = parse_config("incidents:\n  sla:\n    P1: {acknowledge: 5m}\n")
    assert cfg.incidents.sla["P1"].acknowledge == "5m" and cfg.incidents.sla["P1"].contain == "4h"
    assert set(cfg.incidents.sla) == {"P1", "P2", "P3", "P4"}
    assert cfg.incidents.sla["P3"].resolve == "7d"


def test_config_source_types_are_the_collectors_types() -> None:
    from canh.collectors.source import SOURCE_TYPES as built
    from canh.config import SOURCE_TYPES

    assert set(SOURCE_TYPES) == set(built)


def test_messages_follow_the_language() -> None:
    from canh.i18n import set_language

    set_language("vi")
    try:
        with pytest.raises(ConfigError) as err:
            parse_config("store:\n  type: mongodb\n", "c.yml")
        assert err.value.render("vi") == "c.yml:2: 'store.type': phải là một trong sqlite, elasticsearch"
    finally:
        set_language(None)


def test_config_show_never_prints_secrets(canh, home: Path) -> None:  # type: ignore[no-untyped-def]
    (home / "canh.yml").write_text(
        "store:\n  elasticsearch:\n    username: canh\n    password: S3cretPassw0rd\n    api_key: APIKEYSECRET\n",
        encoding="utf-8",
    )
    shown = canh("config", "show", check=True).stdout
    assert "S3cretPassw0rd" not in shown and "APIKEYSECRET" not in shown
    assert "username: canh" in shown and "password: '********'" in shown


def test_config_check_reads_each_sources_options(home: Path, canh) -> None:  # type: ignore[no-untyped-def]
    # An unknown key inside a source entry passed the config model (each type reads its own options).
    text = "timezone: UTC\nsources:\n  - type: syslog\n    udp_port: 5514\n  - type: file\n    name: auth\n"
    (home / "canh.yml").write_text(text + "    pathz: [/var/log/auth.log]\n", encoding="utf-8")
    bad = canh("config", "check")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        f"canh: {home / 'canh.yml'}:7: unknown key 'sources.1.pathz' (did you mean 'path'?)"
    )
    (home / "canh.yml").write_text(text + "    paths: [/var/log/auth.log]\n", encoding="utf-8")
    assert "configuration is valid" in canh("config", "check", check=True).stdout


@pytest.mark.parametrize(
    ("entry", "where", "says"),
    [
        (
            "  - type: file\n    paths: /x\n    multiline:\n      start: '('\n",
            "c.yml:5:",
            "'sources.0.multiline.start'",
        ),
        ("  - type: file\n    paths: /x\n    poll: soon\n", "c.yml:4:", "'sources.0.poll': must be a number"),
        ("  - type: file\n    name: web\n", "c.yml:2:", "the source needs the option 'paths'"),
        ("  - type: syslog\n    tcp_port: 99999\n", "c.yml:3:", "'tcp_port' is invalid"),
        ("  - type: evtx\n    path: /x\n    poll: never\n", "c.yml:4:", "'sources.0.poll'"),
    ],
)
def test_source_problems_name_their_line(entry: str, where: str, says: str) -> None:
    text = "sources:\n" + entry
    with pytest.raises(ConfigError) as err:
        check_sources(parse_config(text, "c.yml"), text, "c.yml")
    message = err.value.render("en")
    assert message.startswith(where) and says in message, message


@pytest.mark.parametrize(
    ("entry", "key", "hint", "fixed"),
    [
        ("type: evtx\n    name: dc01\n    path: {tmp}\n    pol: 5", "pol", " (did you mean 'poll'?)", "poll"),
        ("type: pcap\n    name: dmz\n    path: {tmp}\n    idle_timout: 30", "idle_timout",
         " (did you mean 'idle_timeout'?)", "idle_timeout"),
        ("type: capture\n    name: lan\n    interface: lo\n    filtre: udp", "filtre", " (did you mean 'filter'?)",
         "filter"),
        ("type: evtx\n    name: dc01\n    path: {tmp}\n    timezone: UTC", "timezone", "", None),  # stamps are UTC
    ],
)  # fmt: skip
def test_config_check_and_collect_refuse_an_unknown_evtx_or_packet_option(  # type: ignore[no-untyped-def]
    home: Path, canh, tmp_path: Path, entry: str, key: str, hint: str, fixed: str | None
) -> None:
    # Before, evtx and packet entries read their options inside build() and ignored any other key.
    head = "sources:\n  - type: syslog\n    udp_port: 5514\n  - "
    config = home / "canh.yml"
    config.write_text(head + entry.format(tmp=tmp_path) + "\n", encoding="utf-8")
    bad = canh("config", "check")
    assert bad.returncode == 1
    assert bad.stderr.strip() == f"canh: {config}:7: unknown key 'sources.1.{key}'{hint}"
    # canh collect builds the same entry, and stops before listening or reading anything.
    name = entry.split("name: ")[1].split("\n")[0]
    run = canh("collect", timeout=60)
    assert (run.returncode, run.stderr.strip()) == (1, f"canh: {name}: unknown key '{key}'{hint}")
    assert not list(home.rglob("*.json"))  # no checkpoint written
    # Corrected (or the key left out), the same file is valid.
    good = entry.replace(f"{key}:", f"{fixed}:") if fixed else entry.rsplit("\n", 1)[0]
    config.write_text(head + good.format(tmp=tmp_path) + "\n", encoding="utf-8")
    assert "configuration is valid" in canh("config", "check", check=True).stdout
