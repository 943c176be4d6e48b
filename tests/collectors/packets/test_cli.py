"""`canh ingest capture.pcap` as a user runs it: the real executable, an isolated home."""

from __future__ import annotations

from pathlib import Path

from tests.collectors.packets import traffic
from tests.conftest import CanhRun

SINCE = ("--since", "2025-01-01T00:00:00Z")


def test_ingest_a_capture_then_hunt_its_dns_and_flows(canh: CanhRun, tmp_path: Path) -> None:
    pcap = traffic.write(tmp_path / "capture.pcap")
    first = canh("ingest", str(pcap), check=True)
    assert "17 new event(s)" in first.stdout
    dns = canh.json("events", "search", "event.dataset:network.dns", *SINCE)
    assert {d["dns"]["question"]["name"] for d in dns} == {"dichvucong.gov.vn"}
    assert [d["dns"]["type"] for d in dns] == ["answer"] and dns[0]["source"]["ip"] == "10.1.0.5"
    spec = canh.json("events", "search", 'network.community_id:"1:LQU9qZlK+B5F3KDmev6m5PMibrg="', *SINCE)
    assert {e["event"]["dataset"] for e in spec} == {"network.flow", "network.http"}
    sni = canh.json("events", "search", "tls.client.server_name:dichvucong.gov.vn", *SINCE)
    assert len(sni) == 1
    again = canh("ingest", str(pcap), check=True)
    assert "0 new event(s)" in again.stdout and "17 already present" in again.stdout


def test_a_capture_cut_mid_record_keeps_every_whole_packet(canh: CanhRun, tmp_path: Path) -> None:
    pcap = traffic.write(tmp_path / "cut.pcap")
    pcap.write_bytes(pcap.read_bytes()[:-30])  # the last DHCP ack is cut
    proc = canh("ingest", str(pcap))
    assert "15 new event(s)" in proc.stdout and "1 problem(s)" in proc.stdout
    assert "cut off in the middle of a packet record" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_gzipped_pcapng_is_read_like_any_capture(canh: CanhRun, tmp_path: Path) -> None:
    import gzip

    from scapy.utils import PcapNgWriter

    ng = tmp_path / "day.pcapng"
    with PcapNgWriter(str(ng)) as w:
        for p in traffic.scenario():
            w.write(p)
    gz = tmp_path / "day.pcapng.gz"
    gz.write_bytes(gzip.compress(ng.read_bytes()))
    proc = canh("ingest", str(gz), check=True)
    assert "17 new event(s)" in proc.stdout and "0 problem(s)" in proc.stdout
