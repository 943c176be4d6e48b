"""Live capture for real: two network namespaces joined by a veth pair, a TCP exchange and a DNS query
between them, captured on one end with a BPF filter; and the one-line error without CAP_NET_RAW."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from canh.collectors.packets.source import CaptureSource, PcapFolderSource, build
from canh.errors import CollectorError, ConfigError
from canh.events import Event, get
from tests.collectors.packets import traffic

ROOT = Path(__file__).resolve().parents[3]
needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="network namespaces need root and iproute2"
)


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str, str]]:
    """Namespaces A (10.199.x.1) and B (10.199.x.2) joined by a veth pair; removed afterwards."""
    tag = f"{os.getpid() % 100000}"
    a, b = f"canh-a{tag}", f"canh-b{tag}"
    va, vb = f"cva{tag}", f"cvb{tag}"
    net = f"10.199.{os.getpid() % 250}"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", a)
        sh("ip", "link", "set", vb, "netns", b)
        for ns, dev, addr in ((a, va, f"{net}.1/24"), (b, vb, f"{net}.2/24")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield a, b, va, net  # type: ignore[misc]
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def in_ns(ns: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.collectors.packets.netns_programs", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.netns
@needs_netns
def test_capture_between_two_namespaces(namespaces: tuple[str, str, str, str], tmp_path: Path) -> None:
    a, b, va, net = namespaces  # type: ignore[misc]
    out = tmp_path / "events.jsonl"
    responder = in_ns(b, "responder", f"{net}.2")
    cap = in_ns(a, "capture", va, "tcp port 8080 or udp port 53", str(out))
    try:
        assert responder.stdout is not None and responder.stdout.readline().strip() == "ready"
        assert cap.stdout is not None and cap.stdout.readline().strip() == "ready"
        client = in_ns(a, "client", f"{net}.2", "cong-thong-tin.gov.vn")
        stdout, stderr = client.communicate(timeout=30)
        assert "done" in stdout, stderr
    finally:
        cap.terminate()
        _, cap_err = cap.communicate(timeout=30)
        responder.kill()
        responder.communicate()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and "stats" in lines[-1], cap_err
    stats = lines[-1]["stats"]
    events: list[Event] = lines[:-1]
    flows = [e for e in events if e["event"]["dataset"] == "network.flow"]
    (tcp,) = [f for f in flows if get(f, "network.transport") == "tcp"]
    assert get(tcp, "source.ip") == f"{net}.1" and get(tcp, "destination.ip") == f"{net}.2"
    assert get(tcp, "destination.port") == 8080 and get(tcp, "event.outcome") == "success"
    assert get(tcp, "source.packets") >= 4 and get(tcp, "destination.packets") >= 3
    assert {"SYN", "FIN", "ACK", "PSH"} <= set(get(tcp, "flow.tcp_flags"))
    dns = [e for e in events if e["event"]["dataset"] == "network.dns"]
    assert [get(d, "dns.type") for d in dns] == ["answer"]
    assert get(dns[0], "dns.question.name") == "cong-thong-tin.gov.vn"
    assert get(dns[0], "dns.resolved_ip") == ["203.0.113.7"] and get(dns[0], "source.ip") == f"{net}.1"
    # The BPF filter kept ARP and everything else out.
    assert not [e for e in events if e["event"]["dataset"] == "network.arp"]
    assert stats["read"] >= 9 and stats["errors"] == 0
    assert all(e["event"]["id"] for e in events) and len({e["event"]["id"] for e in events}) == len(events)
    # Every event names the sensor's side: the interface it was captured on.
    assert all(e["observer"] == {"type": "sensor", "ingress": {"interface": {"name": va}}} for e in events)


@needs_netns
def test_without_cap_net_raw_the_error_says_how_to_grant_it() -> None:
    code = (
        "from canh.collectors.packets.source import CaptureSource\n"
        "from canh.errors import CanhError\n"
        "try:\n    CaptureSource('lo').open()\n"
        "except CanhError as e:\n    print(e.render('en'))\n"
    )
    proc = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/tmp"},
    )
    line = proc.stdout.strip()
    assert "\n" not in line and "CAP_NET_RAW" in line and "setcap cap_net_raw" in line, proc.stderr
    assert line.startswith("capture:lo: ")


def test_unknown_interface_and_bad_filter_are_clear_errors() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs CAP_NET_RAW")
    with pytest.raises(CollectorError, match="does not exist"):
        CaptureSource("canh-no-such0").open()
    with pytest.raises(CollectorError, match="BPF"):
        CaptureSource("lo", bpf="tcp port banana").open()


def test_build_reads_the_source_config() -> None:
    source = build({"type": "capture", "interface": "eth9", "filter": "udp", "idle_timeout": 30}, None)
    assert isinstance(source, CaptureSource) and source.settings.idle_timeout == 30.0 and source.bpf == "udp"
    assert (
        build({"type": "capture", "interface": "x", "applications": "false"}, None).settings.applications
        is False
    )
    with pytest.raises(ConfigError):
        build({"type": "capture"}, None)
    with pytest.raises(ConfigError):
        build({"type": "pcap", "path": "/x", "max_flows": "lots"}, None)
    # A misspelt switch is refused, not read as "off".
    with pytest.raises(ConfigError, match="applications"):
        build({"type": "pcap", "path": "/x", "applications": "ture"}, None)


def test_rotating_folder_is_followed_and_resumed_from_the_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "rot"
    folder.mkdir()
    pkts = traffic.scenario()
    traffic.write(folder / "cap-0001.pcap", pkts[:10])
    state = tmp_path / "state"
    got: list[Event] = []

    def emit(batch: list[Event], commit: object) -> None:
        got.extend(batch)
        if callable(commit):
            commit()

    src = PcapFolderSource(folder, name="sensor", state_dir=state)
    assert src.poll_once(emit) == 10
    traffic.write(folder / "cap-0002.pcap", pkts[10:])
    assert src.poll_once(emit) == len(pkts) - 10
    assert src.poll_once(emit) == 0
    stop = threading.Event()
    stop.set()
    src.run(emit, stop)  # stopping flushes the flows still open
    datasets = sorted(e["event"]["dataset"] for e in got)
    assert datasets.count("network.flow") == 7 and datasets.count("network.dns") == 1
    # A restart resumes from the committed checkpoint: nothing is read twice.
    again = PcapFolderSource(folder, name="sensor", state_dir=state)
    assert again.poll_once(lambda batch, commit: None) == 0
    # A file still being written stops at its last whole record, and goes on when it grows.
    traffic.write(folder / "cap-0003.pcap", pkts[:3])
    data = (folder / "cap-0003.pcap").read_bytes()
    (folder / "cap-0003.pcap").write_bytes(data[:-20])
    assert again.poll_once(lambda batch, commit: None) == 2
    (folder / "cap-0003.pcap").write_bytes(data)
    assert again.poll_once(lambda batch, commit: None) == 1


def test_checkpoint_forgets_files_rotated_away(tmp_path: Path) -> None:
    folder = tmp_path / "rot"
    folder.mkdir()
    traffic.write(folder / "a.pcap", traffic.scenario()[:4])
    traffic.write(folder / "b.pcap", traffic.scenario()[4:8])
    src = PcapFolderSource(folder, name="s", state_dir=tmp_path / "state")
    src.poll_once(lambda batch, commit: commit() if commit else None)
    assert len(src.position) == 2
    (folder / "a.pcap").unlink()
    src.poll_once(lambda batch, commit: commit() if commit else None)
    assert list(src.position) == [str((folder / "b.pcap").resolve())]


def test_build_from_the_config_model(tmp_path: Path) -> None:
    from canh.config import SourceConfig

    src = build(
        SourceConfig(type="pcap", name="dmz", path=str(tmp_path), idle_timeout=30, applications=False), None
    )
    assert isinstance(src, PcapFolderSource) and src.name == "dmz" and src.path == tmp_path
    assert src.settings.idle_timeout == 30.0 and src.settings.applications is False
    cap = build(SourceConfig(type="capture", interface="lo", filter="udp port 53"), None)
    assert isinstance(cap, CaptureSource) and cap.bpf == "udp port 53" and cap.name == "capture:lo"
