"""Programs the live-capture test runs inside its network namespaces (``python -m ... <role> ...``).

- ``capture IFACE FILTER OUT``: a CaptureSource writing each emitted event as a JSON line until SIGTERM.
- ``responder IP``: a tiny DNS server (UDP 53, every name -> 203.0.113.7) and a TCP echo server on 8080.
- ``client IP NAME``: one TCP exchange with the echo server and one DNS query.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import sys
import threading


def capture(iface: str, bpf: str, out: str) -> None:
    from canh.collectors.packets.source import CaptureSource

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source = CaptureSource(iface, bpf=bpf or None)
    with open(out, "w") as fh:

        def emit(batch: list, commit: object) -> None:
            for event in batch:
                fh.write(json.dumps(event) + "\n")
            fh.flush()

        sock_ready = threading.Thread(target=lambda: (source.ready.wait(10), print("ready", flush=True)))
        sock_ready.start()
        source.run(emit, stop)
        fh.write(json.dumps({"stats": source.stats()}) + "\n")


def responder(ip: str) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((ip, 53))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((ip, 8080))
    tcp.listen()

    def serve_tcp() -> None:
        while True:
            conn, _ = tcp.accept()
            with conn:
                data = conn.recv(1024)
                conn.sendall(b"echo:" + data)

    threading.Thread(target=serve_tcp, daemon=True).start()
    print("ready", flush=True)
    while True:
        query, addr = udp.recvfrom(512)
        ident = query[:2]
        end = 12
        while query[end] != 0:
            end += 1 + query[end]
        question = query[12 : end + 5]
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("203.0.113.7")
        udp.sendto(ident + b"\x81\x80" + struct.pack("!HHHH", 1, 1, 0, 0) + question + answer, addr)


def client(ip: str, name: str) -> None:
    with socket.create_connection((ip, 8080), timeout=5) as conn:
        conn.sendall(b"xin chao")
        assert conn.recv(1024) == b"echo:xin chao"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    query = struct.pack("!HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(5)
    udp.sendto(query, (ip, 53))
    reply = udp.recv(512)
    assert reply[:2] == b"\x51\x51"
    print("done", flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    {"capture": capture, "responder": responder, "client": client}[role](*args)
