"""build_source and check_source: config entries become sources by type; wrong options are config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from canh.collectors.files import parse_settings
from canh.collectors.source import build_source, check_source, source_options
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


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"type": "file", "pathz": ["/var/log/auth.log"]}, "unknown key 'pathz' (did you mean 'path'?)"),
        ({"type": "file"}, "needs the option 'paths'"),
        ({"type": "file", "paths": "/x", "multiline": {"start": "^\\d", "timout": 3}}, "'multiline.timout'"),
        ({"type": "file", "paths": "/x", "multiline": {"start": "("}}, "'multiline.start': missing )"),
        ({"type": "file", "paths": "/x", "poll": "soon"}, "'poll': must be a number, not 'soon'"),
        ({"type": "file", "paths": "/x", "batch": 0}, "'batch': must be a whole number"),
        ({"type": "file", "paths": "/x", "start": "begin"}, "'start': must be one of beginning, end"),
        ({"type": "file", "paths": "/x", "format": "nginxx"}, "'format': 'nginxx': must be one of"),
        ({"type": "file", "paths": {"a": 1}}, "'paths': a path or a list"),
        ({"type": "syslog", "tcp_prot": 6514}, "unknown key 'tcp_prot' (did you mean 'tcp_port'?)"),
        ({"type": "syslog", "udp_port": 70000}, "'udp_port'"),
        ({"type": "syslog", "format": "nope"}, "'format'"),
        ({"type": "evtx"}, "needs 'path'"),
        ({"type": "evtx", "path": "/x", "pol": 5}, "evtx: unknown key 'pol' (did you mean 'poll'?)"),
        ({"type": "evtx", "name": "dc01", "path": "/x", "recursve": False}, "dc01: unknown key 'recursve'"),
        ({"type": "evtx", "path": "/x", "poll": -1}, "'poll': must be a number, not -1"),
        ({"type": "evtx", "path": "/x", "timezone": "UTC"}, "evtx: unknown key 'timezone'"),  # stamps are UTC
        ({"type": "pcap", "path": "/tmp", "idle_timeout": "x"}, "'idle_timeout': must be a number, not 'x'"),
        (
            {"type": "pcap", "path": "/x", "idle_timout": 3},
            "unknown key 'idle_timout' (did you mean 'idle_timeout'?)",
        ),
        ({"type": "pcap", "path": "/x", "filter": "udp"}, "pcap: unknown key 'filter'"),  # a capture's option
        ({"type": "pcap", "path": "/x", "poll": "soon"}, "'poll': must be a number, not 'soon'"),
        ({"type": "pcap", "path": "/x", "max_flows": 2.5}, "'max_flows': must be a whole number"),
        ({"type": "capture"}, "'interface'"),
        (
            {"type": "capture", "name": "lan", "interface": "lo", "filtre": "udp"},
            "lan: unknown key 'filtre' (did you mean 'filter'?)",
        ),
        (
            {"type": "capture", "interface": "lo", "poll": 1},
            "capture: unknown key 'poll'",
        ),  # a folder's option
    ],
)
def test_check_source_refuses_what_collect_would(options: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_source(options)
    assert says in err.value.render("en")


def test_check_source_accepts_good_entries_and_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for options in (
        {"type": "file", "name": "auth", "paths": [str(tmp_path / "*.log")], "multiline": "^\\S", "start": "end",
         "batch": 500, "poll": 0.5, "exclude": "*.gz", "format": "syslog", "timezone": "+07:00"},
        {"type": "syslog", "address": "127.0.0.1", "udp_port": 1, "tcp_port": None, "queue": 10, "workers": 0},
        {"type": "evtx", "path": str(tmp_path), "poll": 2, "name": "dc01"},
        {"type": "pcap", "path": str(tmp_path), "idle_timeout": 30, "active_timeout": 600, "linger": 1,
         "max_flows": 1000, "applications": False, "poll": 0.5, "name": "dmz"},
        {"type": "capture", "interface": "lo", "filter": "udp", "max_flows": "500", "applications": "no"},
    ):  # fmt: skip
        check_source(options)
    assert list(tmp_path.iterdir()) == []  # no checkpoint, state file or socket file made


def test_file_settings_parser_reads_every_option() -> None:
    s = parse_settings(
        {"type": "file", "path": "/var/log/auth.log", "multiline": {"start": "^\\S", "timeout": 5},
         "exclude": "*.gz", "close_inactive": 60, "batch": "100"},
        timezone="UTC", host="collector",
    )  # fmt: skip
    assert (s.paths, s.exclude, s.multiline_start, s.multiline_timeout) == (
        ["/var/log/auth.log"], ["*.gz"], "^\\S", 5.0,
    )  # fmt: skip
    assert (s.timezone, s.host, s.batch, s.close_inactive, s.start) == (
        "UTC",
        "collector",
        100,
        60.0,
        "beginning",
    )
    # The entry's own time zone and host win over the defaults handed in.
    s = parse_settings({"paths": ["a"], "timezone": "+07:00", "host": "web01"}, timezone="UTC", host="x")
    assert (s.timezone, s.host) == ("+07:00", "web01")


def test_collect_refuses_an_unknown_option_too(home: Path) -> None:
    rt = Runtime.load(str(home))
    with pytest.raises(ConfigError, match="unknown key 'pathz'"):
        build_source(SourceConfig(type="file", pathz=["/var/log/auth.log"]), rt)


def test_evtx_and_packet_settings_are_what_the_sources_get(tmp_path: Path) -> None:
    from canh.collectors.evtx import EvtxFolderSource
    from canh.collectors.packets.source import PcapFolderSource

    src = build_source({"type": "evtx", "path": str(tmp_path), "poll": "2.5", "name": "dc01"}, None)
    assert isinstance(src, EvtxFolderSource) and (src.folder, src.name, src.poll) == (tmp_path, "dc01", 2.5)
    assert build_source({"type": "evtx", "path": str(tmp_path)}, None).poll == 5.0
    cap = build_source(
        {"type": "pcap", "path": str(tmp_path), "max_flows": "10", "linger": 2, "poll": 3}, None
    )
    assert isinstance(cap, PcapFolderSource) and (cap.name, cap.poll) == (f"pcap:{tmp_path}", 3.0)
    assert (cap.settings.max_flows, cap.settings.linger, cap.settings.idle_timeout) == (10, 2.0, 60.0)


def test_every_source_option_is_documented() -> None:
    from canh.collectors.evtx import EVTX_OPTIONS
    from canh.collectors.files import FILE_OPTIONS
    from canh.collectors.syslog_server import SYSLOG_OPTIONS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "collectors.md").read_text(encoding="utf-8")
    file_part = doc[doc.index("## Following files") : doc.index("## Windows event logs")]
    evtx_part = doc[doc.index("### Continuous: a folder of .evtx files") : doc.index("## JSON lines")]
    syslog_part = doc[doc.index("## Syslog receiver") :]
    for options, part in (
        (FILE_OPTIONS, file_part),
        (EVTX_OPTIONS, evtx_part),
        (SYSLOG_OPTIONS, syslog_part),
    ):
        missing = [o for o in sorted(options) if f"{o}:" not in part and f"`{o}`" not in part]
        assert not missing, missing
