"""The syslog receiver on real loopback sockets: UDP, TCP (both framings), TLS, overload, stop."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canh.collectors.syslog_server import (
    FrameBuffer,
    FrameParser,
    Framer,
    SyslogSettings,
    SyslogSource,
    build,
    settings_from,
)
from canh.errors import ConfigError
from canh.events import Event, get

SSHD = "<38>Nov 21 09:14:02 web01 sshd[2211]: Failed password for root from 185.220.101.47 port 51234 ssh2"
R5424 = "<165>1 2026-11-21T02:14:02.003Z fw-01 sudo 77 ID47 - phiên làm việc của người dùng kế toán"


class Running:
    """A SyslogSource running in a thread, collecting what it emits."""

    def __init__(self, src: SyslogSource, gate: threading.Event | None = None) -> None:
        self.src = src
        self.events: list[Event] = []
        self.gate = gate
        self.stop = threading.Event()
        self.addresses = src.bind()
        self.thread = threading.Thread(target=src.run, args=(self.emit, self.stop), daemon=True)
        self.thread.start()

    def emit(self, batch: list[Event], commit: Callable[[], None] | None) -> None:
        if self.gate is not None:
            self.gate.wait(30)
        self.events.extend(batch)
        if commit:
            commit()

    def wait_for(self, n: int, timeout: float = 20) -> list[Event]:
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def server() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(gate: threading.Event | None = None, **opts: Any) -> Running:
        s = SyslogSettings(address="127.0.0.1", udp_port=0, tcp_port=0, **opts)
        r = Running(SyslogSource(s, name="test"), gate)
        started.append(r)
        return r

    yield start
    for r in started:
        if r.gate is not None:
            r.gate.set()
        if r.thread.is_alive():
            r.close()


def tcp_send(addr: tuple[str, int], payload: bytes, *, chunks: int = 1) -> None:
    with socket.create_connection(addr, timeout=10) as c:
        step = max(1, len(payload) // chunks)
        for i in range(0, len(payload), step):
            c.sendall(payload[i : i + step])


def test_udp_messages_parsed_with_sender_address(server: Callable[..., Running]) -> None:
    run = server()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        for msg in (SSHD, R5424):
            u.sendto(msg.encode(), run.addresses["udp"])
    events = run.wait_for(2)
    assert len(events) == 2
    by_host = {get(e, "host.name"): e for e in events}
    ssh = by_host["web01"]
    assert get(ssh, "process.name") == "sshd" and get(ssh, "process.pid") == 2211
    assert get(ssh, "source.ip") == "185.220.101.47"  # the sshd body parser ran
    assert get(ssh, "log.source.address") == f"127.0.0.1:{port}" and get(ssh, "observer.ip") == ["127.0.0.1"]
    assert get(ssh, "log.syslog.priority") == 38
    r5 = by_host["fw-01"]
    assert (
        get(r5, "message") == "phiên làm việc của người dùng kế toán"
        and r5["@timestamp"] == "2026-11-21T02:14:02.003Z"
    )
    assert len({e["event"]["id"] for e in events}) == 2
    run.close()
    assert run.src.stats()["dropped"] == 0 and run.src.stats()["emitted"] == 2


def test_tcp_newline_framing_across_partial_sends(server: Callable[..., Running]) -> None:
    run = server()
    lines = [f"<13>Nov 21 10:00:{i % 60:02d} host{i} app[1]: dòng số {i}" for i in range(500)]
    tcp_send(run.addresses["tcp"], ("\r\n".join(lines) + "\n").encode(), chunks=37)
    events = run.wait_for(500)
    assert sorted(get(e, "message") for e in events) == sorted(f"dòng số {i}" for i in range(500))


def test_tcp_octet_counting_keeps_multiline_messages(server: Callable[..., Running]) -> None:
    run = server()
    msgs = [f"<14>1 2026-11-21T03:00:00Z app01 java - - - Exception {i}\n\tat vn.gov.Portal.login(Portal.java:{i})"
            for i in range(50)]  # fmt: skip
    payload = b"".join(f"{len(m.encode())} ".encode() + m.encode() for m in msgs)
    tcp_send(run.addresses["tcp"], payload, chunks=13)
    events = run.wait_for(50)
    assert len(events) == 50
    assert {get(e, "message") for e in events} == {m.split(" - - - ", 1)[1] for m in msgs}


def test_last_frame_without_trailer_is_kept_when_connection_closes(server: Callable[..., Running]) -> None:
    run = server()
    tcp_send(run.addresses["tcp"], b"<13>Nov 21 10:00:00 h a: one\n<13>Nov 21 10:00:01 h a: two")
    assert sorted(get(e, "message") for e in run.wait_for(2)) == ["one", "two"]


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def tls_connect(addr: tuple[str, int], ctx: ssl.SSLContext) -> ssl.SSLSocket:
    return ctx.wrap_socket(socket.create_connection(addr, timeout=10), server_hostname="localhost")


def test_tls_with_a_certificate_from_config(server: Callable[..., Running], tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    run = server(tls_port=0, tls_cert=str(cert), tls_key=str(key))
    ctx = ssl.create_default_context(cafile=str(cert))
    msgs = [f"<86>Nov 21 10:00:00 dc01 sudo: admin : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/id {i}"
            for i in range(20)]  # fmt: skip
    with tls_connect(run.addresses["tls"], ctx) as c:
        c.sendall(b"".join(f"{len(m)} {m}".encode() for m in msgs))
    events = run.wait_for(20)
    assert len(events) == 20 and all(get(e, "process.name") == "sudo" for e in events)
    # A client that does not speak TLS is refused without hurting the listener.
    with socket.create_connection(run.addresses["tls"], timeout=10) as plain:
        plain.sendall(b"<13>Nov 21 10:00:00 h a: plain text\n")
        time.sleep(0.2)
    with tls_connect(run.addresses["tls"], ctx) as c:
        c.sendall(b"<13>Nov 21 10:00:00 h a: after\n")
    assert get(run.wait_for(21)[-1], "message") == "after"
    assert run.src.stats()["errors"] >= 1


def test_udp_overload_is_counted_never_silent(server: Callable[..., Running]) -> None:
    gate = threading.Event()
    run = server(gate=gate, queue=20, batch=5)
    sent = 300
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for i in range(sent):
            u.sendto(f"<13>Nov 21 10:00:00 h a: msg {i}".encode(), run.addresses["udp"])
    deadline = time.monotonic() + 10
    while run.src.stats()["dropped"] + run.src.buffer.count < sent - 25 and time.monotonic() < deadline:
        time.sleep(0.02)
    gate.set()
    run.close()
    st_ = run.src.stats()
    assert st_["dropped"] > 0
    assert st_["dropped"] + len(run.events) == sent  # each datagram either stored or counted as dropped


def test_tcp_back_pressure_loses_nothing(server: Callable[..., Running]) -> None:
    gate = threading.Event()
    run = server(gate=gate, queue=50, batch=10)
    n = 60_000  # ~13 MB: more than loopback socket buffers hold, so the sender must wait for us
    pad = "x" * 180
    payload = b"".join(f"<13>Nov 21 10:00:00 h a: {pad} seq={i}\n".encode() for i in range(n))
    sender = threading.Thread(target=tcp_send, args=(run.addresses["tcp"], payload), kwargs={"chunks": 200})
    sender.start()
    peak = 0
    for _ in range(50):
        time.sleep(0.02)
        peak = max(peak, run.src.buffer.count)
    assert sender.is_alive()  # blocked: the server stopped reading, so the kernel buffers filled
    assert peak < 50 + 5000  # bounded: at most the limit plus one read's worth of frames
    gate.set()
    sender.join(30)
    events = run.wait_for(n, timeout=60)
    assert sorted(int(get(e, "message").split("=")[1]) for e in events) == list(range(n))
    assert run.src.stats()["dropped"] == 0


def test_stop_flushes_everything_received(server: Callable[..., Running]) -> None:
    gate = threading.Event()
    run = server(gate=gate, batch=100)
    n = 3000
    c = socket.create_connection(run.addresses["tcp"], timeout=10)
    c.sendall(b"".join(f"<13>Nov 21 10:00:00 h a: {i}\n".encode() for i in range(n)))
    time.sleep(0.3)
    run.stop.set()  # stop while the emitter is held and the connection still open
    gate.set()
    run.thread.join(30)
    c.close()
    assert not run.thread.is_alive()
    assert len(run.events) == n


def test_build_from_config_and_bad_options(tmp_path: Path) -> None:
    from canh.config import SourceConfig

    src = build(
        SourceConfig(type="syslog", name="rsyslog", address="127.0.0.1", udp_port=0, tcp_port=None), None
    )
    assert isinstance(src, SyslogSource) and src.settings.tcp_port is None and src.name == "rsyslog"
    assert set(src.bind()) == {"udp"}
    src._close_listeners()
    with pytest.raises(ConfigError):
        settings_from({"udp_port": "abc"})
    with pytest.raises(ConfigError):
        settings_from({"tcp_port": 70000})
    with pytest.raises(ConfigError):
        settings_from({"tls_port": 6514})  # no certificate
    with pytest.raises(ConfigError):
        build(SourceConfig(type="syslog", format="no-such-format"), None)


def test_port_in_use_is_a_clear_error() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        src = SyslogSource(SyslogSettings(udp_port=None, tcp_port=busy.getsockname()[1]))
        with pytest.raises(ConfigError) as err:
            src.bind()
        assert "127.0.0.1" in str(err.value)
    finally:
        busy.close()


def test_framer_octet_counting_and_newline() -> None:
    f = Framer()
    assert f.feed(b"11 <13>a b c d") == [b"<13>a b c d"]
    assert f.feed(b"5 ab") == [] and f.feed(b"cd\n") == [b"abcd\n"]
    g = Framer()
    assert g.feed(b"<13>x\r\n<13>y\n<13>z") == [b"<13>x", b"<13>y"] and g.rest() == b"<13>z"
    h = Framer(max_message=10)
    assert h.feed(b"<13>" + b"x" * 30) and h.oversized >= 1


@settings(max_examples=200, deadline=None)
@given(msgs=st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=20),
       cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=30))  # fmt: skip
def test_framer_octet_counting_is_independent_of_chunking(msgs: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(str(len(m)).encode() + b" " + m for m in msgs)
    f = Framer(max_message=1 << 16)
    out: list[bytes] = []
    pos = 0
    for c in cuts:
        out += f.feed(stream[pos : pos + c])
        pos += c
    out += f.feed(stream[pos:])
    assert out == msgs


def test_parser_worker_processes_keep_order_and_lose_nothing(server: Callable[..., Running]) -> None:
    run = server(workers=2, batch=100)
    n = 5000
    tcp_send(run.addresses["tcp"], b"".join(f"<13>Nov 21 10:00:00 h a: seq={i}\n".encode() for i in range(n)))
    events = run.wait_for(n, timeout=60)
    assert [int(get(e, "message").split("=")[1]) for e in events] == list(
        range(n)
    )  # one connection: in order
    assert all(get(e, "observer.ip") == ["127.0.0.1"] for e in events)
    assert len({e["event"]["id"] for e in events}) == n
    run.close()
    assert run.src._pool is None


def test_undecodable_bytes_are_kept_escaped(server: Callable[..., Running]) -> None:
    run = server()
    tcp_send(run.addresses["tcp"], b"<13>Nov 21 10:00:00 h a: t\xe1\xbb\x9di \xff\xfe ok\n")
    (ev,) = run.wait_for(1)
    assert "\\xff\\xfe" in get(ev, "event.original") and "canh_invalid_utf8" in ev["tags"]


def test_canh_collect_receives_syslog_and_flushes_on_sigterm(home: Path) -> None:
    """The real `canh collect` with a syslog source: messages in, SIGTERM, everything stored, exit 0."""
    import os
    import signal
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (home / "canh.yml").write_text(
        f"sources:\n  - type: syslog\n    name: rsyslog\n    udp_port: null\n    tcp_port: {port}\n",
        encoding="utf-8",
    )
    exe = Path(sys.executable).with_name("canh")
    env = {**os.environ, "CANH_HOME": str(home), "CANH_LANG": "en"}
    proc = subprocess.Popen(
        [str(exe), "collect"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        conn = None
        while conn is None and time.monotonic() < deadline:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                time.sleep(0.1)
        assert conn is not None, "canh collect never listened"
        with conn:
            conn.sendall(b"".join(
                f"<38>Nov 21 09:14:{i % 60:02d} web01 sshd[22]: Failed password for root from 185.220.101.47 "
                f"port {40000 + i} ssh2\n".encode() for i in range(200)
            ))  # fmt: skip
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    search = subprocess.run(
        [str(exe), "events", "search", "source.ip:185.220.101.47", "--since", "3650d", "--limit", "1000", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert len([ln for ln in search.stdout.splitlines() if ln.strip()]) == 200


def test_chunk_parse_gives_each_event_its_position_and_own_fields() -> None:
    frames = [SSHD.encode(), b"", R5424.encode(), b"\xff\xfe <13>Nov 21 10:00:00 h a: b\xe1d"]
    out: list[Event] = []
    FrameParser("syslog", "Asia/Ho_Chi_Minh", "syslog://127.0.0.1").parse_chunk(
        "192.0.2.7", 5140, frames, 100, dt.datetime(2026, 11, 21, 3, tzinfo=dt.UTC), out
    )
    assert len(out) == 3  # the empty frame is no event
    assert [get(e, "host.name") for e in out[:2]] == ["web01", "fw-01"]
    assert all(get(e, "log.source.address") == "192.0.2.7:5140" for e in out)
    assert (
        out[0]["observer"]["ip"] == ["192.0.2.7"] and out[0]["observer"]["ip"] is not out[1]["observer"]["ip"]
    )
    assert len({e["event"]["id"] for e in out}) == 3  # positions 100, 101, 102, 103: one id each
    assert "canh_invalid_utf8" in out[2]["tags"] and "\\xff" in get(out[2], "event.original")
    assert "canh_invalid_utf8" not in out[0].get("tags", [])


def test_frame_buffer_lingers_for_a_fuller_batch_but_never_holds_a_blocked_reader() -> None:
    buf = FrameBuffer(10)
    assert buf.put(("192.0.2.1", 1, [b"a"] * 8), wait=False)
    assert not buf.put(("192.0.2.1", 1, [b"b"] * 5), wait=False)  # UDP: refused, the caller counts it
    # A TCP reader waits for room; a taker lingering for 1,000 messages must give way to it.
    reader = threading.Thread(target=buf.put, args=(("192.0.2.2", 2, [b"c"] * 5),), kwargs={"wait": True})
    reader.start()
    taken: list[Any] = []
    taker = threading.Thread(target=lambda: taken.extend(buf.take(1.0, fill=1000, linger=120.0)))
    taker.start()
    taker.join(30)
    reader.join(30)
    assert not taker.is_alive() and not reader.is_alive()
    assert [len(c[2]) for c in taken] == [8]
    assert [len(c[2]) for c in buf.take(0)] == [5] and buf.count == 0


def test_many_reads_many_connections_each_message_once(server: Callable[..., Running]) -> None:
    run = server()
    n, conns = 3000, 3
    payloads = [
        b"".join(b"%d %s" % (len(m), m) for m in (f"<38>1 2026-11-21T03:00:00Z h{c} app - seq={i} - m".encode()
                                                  for i in range(c, n, conns)))
        for c in range(conns)
    ]  # fmt: skip
    senders = [threading.Thread(target=tcp_send, args=(run.addresses["tcp"], p), kwargs={"chunks": 50})
               for p in payloads]  # fmt: skip
    for th in senders:
        th.start()
    for th in senders:
        th.join(30)
    events = run.wait_for(n)
    run.close()
    assert sorted(int(get(e, "log.syslog.msgid").split("=")[1]) for e in events) == list(range(n))
    assert len({e["event"]["id"] for e in events}) == n
    assert run.src.stats()["read"] == n == run.src.stats()["emitted"]


def test_tls_sender_of_one_record_per_message_is_read_without_gathering_pauses(
    server: Callable[..., Running], tmp_path: Path
) -> None:
    # A TLS read returns one record; a pause after each (as for a small plain TCP read) would hold
    # such a sender to about 20 messages a second.
    cert, key = _self_signed(tmp_path)
    run = server(tls_port=0, tls_cert=str(cert), tls_key=str(key))
    ctx = ssl.create_default_context(cafile=str(cert))
    n = 2000
    with tls_connect(run.addresses["tls"], ctx) as c:
        for i in range(n):
            c.sendall(f"<13>Nov 21 10:00:00 h a: record {i}\n".encode())
        events = run.wait_for(n, timeout=30)
    assert len(events) == n
