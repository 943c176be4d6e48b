"""Packet collector speed and memory, against tshark and scapy on the same file.

    .venv/bin/python bench/packets.py [--packets 1000000] [--flows 1000000] [--scapy-sample 20000]

1. Generates (once, cached in /tmp) a pcap of mixed traffic: HTTP and TLS sessions, DNS over UDP,
   other UDP, ICMP echo; IPv4 and IPv6; every session on its own client address and port.
2. Times Canh's reader (raw records -> struct decode -> flow table -> flow + DNS/HTTP/TLS/ICMP events)
   on one core, ``tshark -r FILE -q -z conv,tcp`` and scapy ``PcapReader`` dissection (on a sample,
   extrapolated), and checks per-conversation packet and byte counts against tshark's table.
3. Measures flow-table memory per active flow by holding N distinct flows open at once.
Prints figures only; nothing here asserts timing.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from canh.collectors.packets.capfile import CaptureReader
from canh.collectors.packets.flows import FlowSettings, PacketAnalyzer
from scapy.config import conf
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet

conf.verb = 0
CLIENT = "10.0.0.1"
SERVER4 = "192.0.2.10"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8:ffff::10"


def _eth(p: Packet, back: bool) -> Packet:
    return (
        Ether(src="02:00:00:00:00:50", dst="02:00:00:00:00:05")
        if back
        else Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:50")
    ) / p


def _tcp(sport: int, req: bytes, resp: bytes, v6: bool = False, mss: int = 1448) -> list[tuple[bytes, bool]]:
    """A TCP session as (frame, server_to_client) pairs: handshake, request, response in MSS-sized
    segments with an ACK every second segment, FIN close."""
    ipc = (lambda: IPv6(src=CLIENT6, dst=SERVER6)) if v6 else (lambda: IP(src=CLIENT, dst=SERVER4))
    ips = (lambda: IPv6(src=SERVER6, dst=CLIENT6)) if v6 else (lambda: IP(src=SERVER4, dst=CLIENT))
    c = lambda **kw: (bytes(_eth(ipc() / TCP(sport=40000, dport=sport, **kw), False)), False)  # noqa: E731
    s = lambda **kw: (bytes(_eth(ips() / TCP(sport=sport, dport=40000, **kw), True)), True)  # noqa: E731
    out = [c(flags="S", seq=1), s(flags="SA", seq=9, ack=2), c(flags="A", seq=2, ack=10)]
    out.append(
        (bytes(_eth(ipc() / TCP(sport=40000, dport=sport, flags="PA", seq=2, ack=10) / req, False)), False)
    )
    cack = 2 + len(req)
    out.append(s(flags="A", seq=10, ack=cack))
    for i in range(0, len(resp), mss):
        seg = resp[i : i + mss]
        out.append(
            (
                bytes(
                    _eth(ips() / TCP(sport=sport, dport=40000, flags="PA", seq=10 + i, ack=cack) / seg, True)
                ),
                True,
            )
        )
        if (i // mss) % 2 == 1:
            out.append(c(flags="A", seq=cack, ack=10 + i + len(seg)))
    out += [
        c(flags="A", seq=cack, ack=10 + len(resp)),
        c(flags="FA", seq=cack, ack=10 + len(resp)),
        s(flags="FA", seq=10 + len(resp), ack=cack + 1),
        c(flags="A", seq=cack + 1, ack=11 + len(resp)),
    ]
    return out


def _hello() -> bytes:
    from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName, TLS_Ext_SupportedVersion_CH
    from scapy.layers.tls.handshake import TLSClientHello, TLSServerHello
    from scapy.layers.tls.record import TLS

    ch = TLSClientHello(
        version=0x0303,
        ciphers=[0x1301, 0x1302, 0xC02F],
        ext=[
            TLS_Ext_ServerName(servernames=[ServerName(servername=b"dichvucong.gov.vn")]),
            TLS_Ext_SupportedVersion_CH(versions=[0x0304, 0x0303]),
        ],
    )
    server = bytes(TLS(msg=[TLSServerHello(version=0x0303, cipher=0x1301)]))
    return bytes(TLS(msg=[ch])), server + b"\x17\x03\x03\x7f\xff" + b"\0" * 30000


def templates() -> list[list[tuple[bytes, bool]]]:
    """Session templates; each becomes many sessions on distinct client addresses and ports."""
    http_req = b"GET /tin-tuc/index.html HTTP/1.1\r\nHost: portal.gov.vn\r\nUser-Agent: Mozilla/5.0\r\n\r\n"
    # Response sizes of ordinary web pages and API calls: tens of kilobytes, so about 25 packets a session.
    http_resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20000\r\n\r\n" + b"x" * 20000
    ch, sh = _hello()
    dns_q = _eth(
        IP(src=CLIENT, dst=SERVER4) / UDP(sport=40000, dport=53) / DNS(rd=1, qd=DNSQR(qname="mail.gov.vn")),
        False,
    )
    dns_a = _eth(
        IP(src=SERVER4, dst=CLIENT)
        / UDP(sport=53, dport=40000)
        / DNS(
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="mail.gov.vn"),
            an=DNSRR(rrname="mail.gov.vn", rdata="192.0.2.25"),
        ),
        True,
    )
    ntp = [
        (
            bytes(
                _eth(
                    IP(src=CLIENT, dst=SERVER4) / UDP(sport=40000, dport=123) / (b"\x23" + b"\0" * 47), False
                )
            ),
            False,
        ),
        (
            bytes(
                _eth(IP(src=SERVER4, dst=CLIENT) / UDP(sport=123, dport=40000) / (b"\x24" + b"\0" * 47), True)
            ),
            True,
        ),
    ]
    ping = [
        (bytes(_eth(IP(src=CLIENT, dst=SERVER4) / ICMP(type=8, id=1) / (b"p" * 56), False)), False),
        (bytes(_eth(IP(src=SERVER4, dst=CLIENT) / ICMP(type=0, id=1) / (b"p" * 56), True)), True),
    ]
    return [
        _tcp(80, http_req, http_resp),
        _tcp(443, ch, sh),
        _tcp(443, ch, sh, v6=True),
        [(bytes(dns_q), False), (bytes(dns_a), True)],
        [(bytes(dns_q), False), (bytes(dns_a), True)],
        ntp,
        ping,
    ]


def _patch(frame: bytes, back: bool, n: int) -> bytes:
    """Give session ``n`` its own client address and port (IPv4 or IPv6, TCP/UDP/ICMP id)."""
    b = bytearray(frame)
    port = 1024 + n % 60000
    host = n // 60000
    if b[12:14] == b"\x08\x00":
        ip_off = 26 if not back else 30
        b[ip_off : ip_off + 4] = bytes([10, (host >> 16) & 0xFF, (host >> 8) & 0xFF, host & 0xFF])
        l4 = 34
    else:
        ip_off = 22 if not back else 38
        b[ip_off + 12 : ip_off + 16] = struct.pack("!I", host)
        l4 = 54
    proto = b[23] if b[12:14] == b"\x08\x00" else b[20]
    if proto in (6, 17):
        struct.pack_into("!H", b, l4 + (2 if back else 0), port)
    elif proto == 1:
        struct.pack_into("!H", b, l4 + 4, port)
    return bytes(b)


def generate(path: Path, count: int) -> None:
    tmpl = templates()
    weights = [3, 3, 1, 4, 2, 2, 1]  # sessions of each template per round
    rate = 50_000.0  # packets per second of capture time
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        written = 0
        n = 0
        t = 1_763_769_600.0
        # Sessions are interleaved in groups, so many flows are open at once as on a real link.
        while written < count:
            group = []
            for ti, w in enumerate(weights):
                for _ in range(w):
                    group.append([_patch(f, back, n) for f, back in tmpl[ti]])
                    n += 1
            longest = max(len(s) for s in group)
            for i in range(longest):
                for sess in group:
                    if i < len(sess) and written < count:
                        frame = sess[i]
                        sec = int(t)
                        fh.write(
                            struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)) + frame
                        )
                        written += 1
                        t += 1 / rate


ROW = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)")


def run_canh(
    path: Path, applications: bool = True
) -> tuple[float, float, int, dict[str, int], PacketAnalyzer, list]:
    an = PacketAnalyzer(source=str(path), settings=FlowSettings(applications=applications))
    events = 0
    datasets: dict[str, int] = defaultdict(int)
    tcp_flows = []
    t0, c0 = time.perf_counter(), time.process_time()
    # The timed loop keeps only what the comparison needs, as plain tuples: the figure is the
    # collector's, not this script's bookkeeping (holding every flow event would also make each of
    # Python's full garbage collections walk them all, which a sensor storing its events never does).
    with path.open("rb") as fh:
        for item in an.run(CaptureReader(fh), where=str(path)):
            if item.__class__ is list:
                events += len(item)
                for e in item:
                    ds = e["event"]["dataset"]
                    datasets[ds] += 1
                    if ds == "network.flow" and e["network"]["transport"] == "tcp":
                        tcp_flows.append(_conversation(e))
    rest = an.finish()
    events += len(rest)
    for e in rest:
        ds = e["event"]["dataset"]
        datasets[ds] += 1
        if ds == "network.flow" and e["network"]["transport"] == "tcp":
            tcp_flows.append(_conversation(e))
    return time.perf_counter() - t0, time.process_time() - c0, events, dict(datasets), an, tcp_flows


def _conversation(e: dict) -> tuple:
    """(source ip, port, destination ip, port, packets and bytes each way) of a flow event."""
    s, d = e["source"], e["destination"]
    return (s["ip"], s["port"], d["ip"], d["port"], s["packets"], s["bytes"], d["packets"], d["bytes"])


def compare_with_tshark(tshark_out: str, flows: list) -> tuple[int, int]:
    """(conversations compared, mismatches) between tshark's conv,tcp and our TCP flows.

    Per endpoint pair, packets sent by each side summed over flows (tshark splits a pair on port reuse
    where we may too); bytes compared where both list the pair once (tshark rounds its byte column).
    """

    def human(n: int) -> str:
        if n // 1000 // 1000 >= 10:
            return f"{n // 1000 // 1000} MB"
        return f"{n // 1000} kB" if n // 1000 >= 10 else f"{n} bytes"

    ours: dict[frozenset, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for sip, sport, dip, dport, spk, sby, dpk, dby in flows:
        a = f"{sip}:{sport}"
        b = f"{dip}:{dport}"
        side = ours[frozenset((a, b))]
        side[a][0] += spk
        side[a][1] += sby
        side[a][2] += 1
        side[b][0] += dpk
        side[b][1] += dby
        side[b][2] += 1
    theirs: dict[frozenset, list[tuple]] = defaultdict(list)
    for line in tshark_out.splitlines():
        m = ROW.match(line)
        if m:
            theirs[frozenset((m[1], m[2]))].append((m[1], m[2], int(m[5]), m[6], int(m[3]), m[4]))
    bad = 0
    for pair, rows in theirs.items():
        a, b = rows[0][0], rows[0][1]
        fa = sum(r[2] if r[0] == a else r[4] for r in rows)
        fb = sum(r[4] if r[0] == a else r[2] for r in rows)
        mine = ours.get(pair)
        if (
            mine is None
            or (mine[a][0], mine[b][0]) != (fa, fb)
            or (
                len(rows) == 1
                and mine[a][2] == 1
                and (human(mine[a][1]), human(mine[b][1])) != (rows[0][3], rows[0][5])
            )
        ):
            bad += 1
    return len(theirs), bad


def scapy_rate(path: Path, sample: int) -> float:
    from scapy.utils import PcapReader

    t0 = time.perf_counter()
    n = 0
    for pkt in PcapReader(str(path)):
        _ = pkt.summary  # dissection happens on read; touch the packet like a user would
        n += 1
        if n >= sample:
            break
    return n / (time.perf_counter() - t0)


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def flow_memory(n: int) -> tuple[float, int]:
    """Bytes per active flow with ``n`` distinct UDP flows open at once (none can expire)."""
    base = bytes(_eth(IP(src=CLIENT, dst=SERVER4) / UDP(sport=40000, dport=514) / b"log", False))

    def records() -> Iterator[tuple]:
        b = bytearray(base)
        for i in range(n):
            b[26:30] = struct.pack("!I", 0x0A000000 + i // 60000)
            struct.pack_into("!H", b, 34, 1024 + i % 60000)
            yield (1_763_769_600.0 + i * 1e-6, 1, bytes(b), len(b))

    gc.collect()
    before = _rss_kb()
    an = PacketAnalyzer(
        source="/mem", settings=FlowSettings(max_flows=n + 1, idle_timeout=1e9, active_timeout=1e9)
    )
    for _ in an.run(records()):
        pass
    gc.collect()
    after = _rss_kb()
    held = len(an.flows)
    return (after - before) * 1024 / held, held


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--scapy-sample", type=int, default=20_000)
    ap.add_argument("--file", type=Path, default=None)
    args = ap.parse_args()
    path = args.file or Path(f"/tmp/canh-bench-packets-{args.packets}.pcap")
    if not path.exists():
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        generate(tmp, args.packets)
        tmp.rename(path)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.packets:,} packets)")

    wall, cpu, events, datasets, an, tcp_flows = run_canh(path)
    pps = an.stats["packets"] / wall
    print(
        f"canh      : {wall:6.2f} s wall, {cpu:6.2f} s CPU  -> {pps:,.0f} packets/s "
        f"({an.stats['packets'] / cpu:,.0f}/s CPU), {events:,} events {datasets}"
    )
    print(f"            stats {an.stats}")
    f_wall, _, f_events, _, f_an, _ = run_canh(path, applications=False)
    print(
        f"canh flows: {f_wall:6.2f} s wall -> {f_an.stats['packets'] / f_wall:,.0f} packets/s with application "
        f"parsing off (applications: false), {f_events:,} flow events"
    )

    if shutil.which("tshark"):
        t0 = time.perf_counter()
        out = subprocess.run(
            ["tshark", "-r", str(path), "-q", "-z", "conv,tcp"], capture_output=True, text=True
        ).stdout
        t_wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        t_pps = an.stats["packets"] / t_wall
        compared, bad = compare_with_tshark(out, tcp_flows)
        print(
            f"tshark    : {t_wall:6.2f} s wall ({usage.ru_utime + usage.ru_stime:.2f} s CPU) -> {t_pps:,.0f} packets/s "
            f"(conv,tcp)"
        )
        print(
            f"            canh / tshark = {pps / t_pps:.2f}x; TCP conversations compared: {compared:,}, "
            f"differing in packets or bytes: {bad}"
        )
    else:
        print("tshark    : not installed (scripts/test-deps.sh installs it)")

    s_pps = scapy_rate(path, args.scapy_sample)
    print(
        f"scapy     : PcapReader dissection {s_pps:,.0f} packets/s (first {args.scapy_sample:,} packets; "
        f"{args.packets / s_pps:,.0f} s extrapolated for the file) -> canh / scapy = {pps / s_pps:.0f}x"
    )

    per_flow, held = flow_memory(args.flows)
    print(f"memory    : {per_flow:,.0f} bytes per active flow with {held:,} flows open (RSS growth)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
