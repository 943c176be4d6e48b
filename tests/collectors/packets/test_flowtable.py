"""Flow table limits: idle and active timeouts, end on FIN/RST with port reuse, bounded size."""

from __future__ import annotations

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from canh.collectors.packets.flows import FlowSettings, PacketAnalyzer
from canh.collectors.registry import ReadProblem
from canh.events import Event, get


def udp(sport: int, dport: int = 9999, src: str = "10.0.0.1", dst: str = "10.0.0.2") -> bytes:
    return bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src=src, dst=dst)
        / UDP(sport=sport, dport=dport)
    )


def tcp(flags: str, sport: int = 1234, reply: bool = False) -> bytes:
    a, b = ("10.0.0.2", "10.0.0.1") if reply else ("10.0.0.1", "10.0.0.2")
    s, d = (80, sport) if reply else (sport, 80)
    return bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src=a, dst=b)
        / TCP(sport=s, dport=d, flags=flags)
    )


def run(records: list[tuple], settings: FlowSettings) -> tuple[list[Event], PacketAnalyzer]:
    an = PacketAnalyzer(source="/test.pcap", settings=settings)
    out: list[Event] = []
    for item in an.run([(ts, 1, f, len(f)) for ts, f in records]):
        assert not isinstance(item, ReadProblem)
        out.extend(item)
    out.extend(an.finish())
    return [e for e in out if e["event"]["dataset"] == "network.flow"], an


def test_idle_timeout_splits_a_quiet_flow_in_two() -> None:
    flows, _ = run(
        [(0.0, udp(5000)), (1.0, udp(5000)), (100.0, udp(5000)), (100.5, udp(6000))],
        FlowSettings(idle_timeout=30),
    )
    reasons = sorted(
        (get(f, "source.port"), get(f, "network.packets"), get(f, "event.reason")) for f in flows
    )
    assert reasons == [(5000, 1, "end_of_capture"), (5000, 2, "idle_timeout"), (6000, 1, "end_of_capture")]


def test_active_timeout_reports_a_long_flow_in_pieces_with_one_community_id() -> None:
    flows, _ = run(
        [(float(t), udp(5000)) for t in range(0, 50, 5)], FlowSettings(idle_timeout=30, active_timeout=20)
    )
    assert [get(f, "network.packets") for f in flows] == [5, 5]
    assert [get(f, "event.reason") for f in flows] == ["active_timeout", "end_of_capture"]
    assert len({get(f, "network.community_id") for f in flows}) == 1


def test_fin_ends_the_flow_soon_and_a_new_syn_starts_another() -> None:
    recs = [
        (0.0, tcp("S")),
        (0.1, tcp("SA", reply=True)),
        (0.2, tcp("A")),
        (0.3, tcp("FA")),
        (0.4, tcp("FA", reply=True)),
        (0.5, tcp("A")),
        (1.0, tcp("S")),
        (1.1, tcp("R", reply=True)),
        (20.0, udp(1)),
    ]
    flows, _ = run(recs, FlowSettings(idle_timeout=300, linger=5))
    tcp_flows = [f for f in flows if get(f, "network.transport") == "tcp"]
    assert [(get(f, "network.packets"), get(f, "event.reason")) for f in tcp_flows] == [
        (6, "reuse"),
        (2, "rst"),
    ]
    assert get(tcp_flows[1], "event.outcome") == "failure"


def test_first_seen_syn_ack_makes_the_other_side_the_source() -> None:
    flows, _ = run([(0.0, tcp("SA", reply=True)), (0.1, tcp("A"))], FlowSettings())
    assert get(flows[0], "source.ip") == "10.0.0.1" and get(flows[0], "destination.port") == 80


def test_max_flows_evicts_the_longest_idle_and_counts_it() -> None:
    recs = [(float(i), udp(1000 + i)) for i in range(10)] + [(10.0, udp(1000))]
    flows, an = run(recs, FlowSettings(max_flows=4, idle_timeout=1000))
    assert an.stats["evicted"] == 7 and len(an.flows) == 0
    evicted = [get(f, "source.port") for f in flows if get(f, "event.reason") == "evicted"]
    assert evicted == [1000, 1001, 1002, 1003, 1004, 1005, 1006]
    assert sum(get(f, "network.packets") for f in flows) == 11


def test_flows_only_mode_counts_the_same_and_skips_application_events() -> None:
    from tests.collectors.packets import traffic

    pkts = traffic.scenario()
    recs = [(float(p.time), bytes(p)) for p in pkts]
    full, _ = run(recs, FlowSettings())
    an = PacketAnalyzer(source="/test.pcap", settings=FlowSettings(applications=False))
    events = [e for item in an.run([(ts, 1, f, len(f)) for ts, f in recs]) for e in item]  # type: ignore[union-attr]
    events += an.finish()
    assert {e["event"]["dataset"] for e in events} == {"network.flow"}
    key = lambda e: (get(e, "network.community_id"), get(e, "network.packets"), get(e, "network.bytes"))  # noqa: E731
    assert sorted(map(key, events)) == sorted(map(key, full))


def test_finished_flows_do_not_pile_up_waiting_for_their_idle_turn() -> None:
    templates = [bytearray(tcp("S")), bytearray(tcp("SA", reply=True)), bytearray(tcp("R"))]
    recs = []
    for i in range(6000):
        for n, frame in enumerate(templates):
            frame[34 + (2 if n == 1 else 0) : 36 + (2 if n == 1 else 0)] = (2000 + i).to_bytes(2, "big")
            recs.append((i * 0.005, 1, bytes(frame), len(frame)))
    recs.append((40.0, 1, udp(1), 42))
    an = PacketAnalyzer(source="/t.pcap", settings=FlowSettings(idle_timeout=60, linger=1))
    ended = sum(len(item) for item in an.run(recs))  # type: ignore[arg-type]
    assert ended == 6000 and len(an.flows) == 1
    # 6000 finished flows would still be queued for their idle turn (60 s) without compaction.
    assert len(an.idle_q) <= 4096 + 2 * 6000 // 3 and len(an.idle_q) < 6000


def test_an_echo_flood_is_one_flow_and_one_icmp_event_per_message_type() -> None:
    from scapy.layers.inet import ICMP

    def echo(kind: int, src: str, dst: str) -> bytes:
        return bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src=src, dst=dst)
            / ICMP(type=kind, id=7)
        )

    recs = []
    for i in range(500):
        recs += [(i * 0.001, echo(8, "10.0.0.66", "10.0.0.2")), (i * 0.001, echo(0, "10.0.0.2", "10.0.0.66"))]
    an = PacketAnalyzer(source="/flood.pcap")
    events = [e for item in an.run([(ts, 1, f, len(f)) for ts, f in recs]) for e in item]  # type: ignore[union-attr]
    events += an.finish()
    icmp = [e for e in events if e["event"]["dataset"] == "network.icmp"]
    (flow,) = [e for e in events if e["event"]["dataset"] == "network.flow"]
    assert sorted(get(e, "icmp.type") for e in icmp) == [0, 8]
    assert get(flow, "network.packets") == 1000 and get(flow, "source.ip") == "10.0.0.66"
    assert an.stats["icmp_repeats"] == 998
