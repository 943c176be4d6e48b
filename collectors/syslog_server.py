"""Syslog receiver for ``canh collect`` (``type: syslog``): UDP, TCP and TLS on a configurable address.

Messages (RFC 3164 or RFC 5424) go through the same parser as syslog files, so an sshd line sent by
rsyslog has the fields it has when read from ``auth.log``; the sender's address is kept in
``log.source.address`` and ``observer.ip``.

TCP framing (RFC 6587) is chosen per connection from its first byte: a digit means octet counting
(``123 <34>1 ...``), anything else newline-terminated frames. Between the sockets and the store sits
one bounded buffer: when it is full, TCP readers stop reading (the senders' windows close, nothing
is lost), and UDP datagrams are dropped and counted in ``stats()["dropped"]`` (UDP cannot wait).
A stop drains what the kernel already holds for each connection, then flushes every buffered message.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canh.collectors.registry import LineContext, LineParser, get_parser
from canh.collectors.source import COMMON_OPTIONS, check_keys, source_options
from canh.errors import CanhError, ConfigError
from canh.events import Event, decode_line, escaped_original, local_zone, new_event
from canh.i18n import t

Emit = Callable[[list[Event], Callable[[], None] | None], None]
Frame = tuple[bytes, str, int]  # (message, peer ip, peer port)
# What a socket thread hands over: the frames of one read and the peer they came from. One tuple per
# read, not per message: the parser moves a shared context from frame to frame instead.
Chunk = tuple[str, int, list[bytes]]
MAX_MESSAGE = 64 * 1024
_POLL = 0.2
# How long a part-filled batch waits for more messages: at 20,000 msg/s over a few connections each
# read brings tens of messages, and a store write per read cost more than parsing them.
_LINGER = 0.05
_SMALL_READ = 64 * 1024
_GATHER = 0.05


class FrameBuffer:
    """Bounded hand-over between socket threads and the parser: chunks of frames, counted by message."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._items: list[Chunk] = []
        self._cond = threading.Condition()
        self._takers = 0  # a taker waits for something to arrive: only then is a put worth a notify
        self._putters = 0  # a TCP reader waits for room: only then is a take worth a notify
        self._wanted = 1  # how many messages the waiting taker wants before it is woken

    def put(self, chunk: Chunk, *, wait: bool, give_up: Callable[[], bool] | None = None) -> bool:
        """Add a chunk; when full, wait for room (TCP) or refuse (UDP). False when refused."""
        n = len(chunk[2])
        with self._cond:
            while self.count and self.count + n > self.limit:
                if not wait or (give_up is not None and give_up()):
                    return False
                self._putters += 1
                if self._takers:
                    self._cond.notify_all()  # a lingering taker stops waiting for a fuller batch
                try:
                    self._cond.wait(_POLL)
                finally:
                    self._putters -= 1
            self._items.append(chunk)
            self.count += n
            if self._takers and self.count >= self._wanted:
                self._cond.notify_all()
            return True

    def _wait(self, timeout: float, wanted: int) -> None:
        self._takers += 1
        self._wanted = wanted
        try:
            self._cond.wait(timeout)
        finally:
            self._takers -= 1

    def take(self, timeout: float, *, fill: int = 0, linger: float = 0.0) -> list[Chunk]:
        """Everything buffered, waiting up to ``timeout`` for something to arrive and then up to
        ``linger`` more seconds for ``fill`` messages (a store write per few messages costs more
        than the messages)."""
        with self._cond:
            if not self._items and timeout > 0:
                self._wait(timeout, 1)
            if self._items and self.count < fill and linger > 0:
                until = time.monotonic() + linger
                while self.count < fill and not self._putters and (left := until - time.monotonic()) > 0:
                    self._wait(left, fill)
            items = self._items
            self._items = []
            self.count = 0
            if self._putters:
                self._cond.notify_all()
            return items


class Framer:
    """RFC 6587 framing for one TCP connection: octet counting or newline, decided by the first byte."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.buf = bytearray()
        self.octet: bool | None = None
        self.max = max_message
        self.oversized = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Whole frames completed by ``data``."""
        self.buf += data
        out: list[bytes] = []
        if self.octet is None:
            stripped = self.buf.lstrip()
            if not stripped:
                return out
            self.octet = stripped[:1].isdigit()
        if self.octet:
            self._octets(out)
        else:
            self._lines(out)
        return out

    def _lines(self, out: list[bytes]) -> None:
        buf = self.buf
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            frame = bytes(buf[start:nl]).rstrip(b"\r")
            if frame.strip():
                out.append(frame)
            start = nl + 1
        del buf[:start]
        if len(buf) > self.max:
            # A frame with no newline in sight: hand over what we have rather than grow without bound.
            out.append(bytes(buf[: self.max]))
            del buf[: self.max]
            self.oversized += 1

    def _octets(self, out: list[bytes]) -> None:
        buf = self.buf
        pos = 0
        n = len(buf)
        while pos < n:
            while pos < n and buf[pos] in b" \r\n":
                pos += 1
            sp = buf.find(b" ", pos, pos + 12)
            if sp < 0:
                if n - pos > 12:
                    # Not a length: the sender switched framing; read the rest as lines.
                    self.octet = False
                    del buf[:pos]
                    self._lines(out)
                    return
                break
            digits = bytes(buf[pos:sp])
            if not digits.isdigit():
                self.octet = False
                del buf[:pos]
                self._lines(out)
                return
            length = int(digits)
            end = sp + 1 + length
            if end > n:
                if length > self.max:
                    self.oversized += 1
                break
            out.append(bytes(buf[sp + 1 : end]))
            pos = end
        del buf[:pos]

    def rest(self) -> bytes | None:
        """The unterminated tail when the connection closes (the last frame may lack a trailer)."""
        tail = bytes(self.buf).strip()
        self.buf.clear()
        return tail or None


@dataclass
class SyslogSettings:
    """Listener options from the source's config entry."""

    address: str = "127.0.0.1"
    udp_port: int | None = 5514
    tcp_port: int | None = 5514
    tls_port: int | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    queue: int = 100_000
    batch: int = 2000
    max_message: int = MAX_MESSAGE
    timezone: str = "Asia/Ho_Chi_Minh"
    format: str = "syslog"
    udp_buffer: int = 8 * 1024 * 1024
    workers: int = 0  # parser processes; 0 parses in the receiving process


def _more_to_read(conn: socket.socket) -> bool:
    """A TLS read returns one record (16 KiB at most): whether more is decrypted or in the kernel."""
    if isinstance(conn, ssl.SSLSocket) and conn.pending():
        return True
    return bool(select.select([conn], [], [], 0)[0])


class SyslogSource:
    """Listens for syslog over UDP/TCP/TLS and emits parsed events in batches."""

    def __init__(self, settings: SyslogSettings, *, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or f"syslog:{settings.address}"
        self.buffer = FrameBuffer(settings.queue)
        self._frames = FrameParser(settings.format, settings.timezone, f"syslog://{settings.address}")
        self._pool: Any = None
        self._pending: deque[Any] = deque()
        self.addresses: dict[str, tuple[str, int]] = {}
        self._sockets: list[socket.socket] = []
        self._kinds: list[str] = []
        self._threads: list[threading.Thread] = []
        self._conns: set[threading.Thread] = set()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._seq = time.time_ns()  # positions stay unique across restarts and sort in arrival order
        self._stats = {"read": 0, "emitted": 0, "dropped": 0, "errors": 0, "connections": 0, "oversized": 0}
        self._ssl: ssl.SSLContext | None = None

    # -- sockets -----------------------------------------------------------------------------

    def bind(self) -> dict[str, tuple[str, int]]:
        """Open the listening sockets (idempotent); returns ``{"udp"|"tcp"|"tls": (host, port)}``."""
        if self._sockets:
            return self.addresses
        s = self.settings
        family = socket.AF_INET6 if ":" in s.address else socket.AF_INET
        try:
            if s.udp_port is not None:
                udp = socket.socket(family, socket.SOCK_DGRAM)
                # The kernel caps the buffer at net.core.rmem_max; a smaller one still works.
                with contextlib.suppress(OSError):
                    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, s.udp_buffer)
                udp.bind((s.address, s.udp_port))
                udp.settimeout(_POLL)
                self._sockets.append(udp)
                self._kinds.append("udp")
                self.addresses["udp"] = udp.getsockname()[:2]
            for kind, port in (("tcp", s.tcp_port), ("tls", s.tls_port)):
                if port is None:
                    continue
                if kind == "tls":
                    self._ssl = self._tls_context()
                tcp = socket.socket(family, socket.SOCK_STREAM)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((s.address, port))
                tcp.listen(128)
                tcp.settimeout(_POLL)
                self._sockets.append(tcp)
                self._kinds.append(kind)
                self.addresses[kind] = tcp.getsockname()[:2]
        except OSError as exc:
            self._close_listeners()
            raise ConfigError(
                "collect.syslog_bind_failed",
                where=self.name,
                address=s.address,
                reason=exc.strerror or str(exc),
            ) from exc
        return self.addresses

    def _tls_context(self) -> ssl.SSLContext:
        s = self.settings
        if not s.tls_cert or not s.tls_key:
            raise ConfigError(
                "collect.syslog_bad_option", where=self.name, option="tls_cert/tls_key", reason="required"
            )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(Path(s.tls_cert).expanduser()), str(Path(s.tls_key).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("collect.syslog_tls_failed", where=self.name, reason=str(exc)) from exc
        return ctx

    def _close_listeners(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets = []
        self._kinds = []

    def _udp_loop(self, sock: socket.socket) -> None:
        recv = sock.recvfrom
        size = self.settings.max_message
        while not self._closing.is_set():
            try:
                data, peer = recv(size)
            except TimeoutError:
                continue
            except OSError:
                break
            self._udp_frame(data, peer)
        # Drain what the kernel already holds so a stop loses nothing that had arrived.
        sock.setblocking(False)
        while True:
            try:
                data, peer = recv(size)
            except OSError:
                break
            self._udp_frame(data, peer)

    def _udp_frame(self, data: bytes, peer: Any) -> None:
        data = data.rstrip(b"\r\n\x00")
        if not data:
            return
        if not self.buffer.put((peer[0], peer[1], [data]), wait=False):
            with self._lock:
                self._stats["dropped"] += 1

    def _accept_loop(self, sock: socket.socket, tls: bool) -> None:
        while not self._closing.is_set():
            try:
                conn, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            th = threading.Thread(
                target=self._conn_loop, args=(conn, peer, tls), name=f"syslog-{peer[0]}", daemon=True
            )
            with self._lock:
                self._stats["connections"] += 1
                self._conns.add(th)
            th.start()

    def _conn_loop(self, conn: socket.socket, peer: Any, tls: bool) -> None:
        ip, port = peer[0], peer[1]
        framer = Framer(self.settings.max_message)
        try:
            if tls:
                assert self._ssl is not None
                conn.settimeout(10)
                try:
                    conn = self._ssl.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    with self._lock:
                        self._stats["errors"] += 1
                    return
            conn.settimeout(_POLL)
            draining = False
            while True:
                if self._closing.is_set() and not draining:
                    draining = True
                    conn.settimeout(0.05)
                try:
                    data = conn.recv(262144)
                except TimeoutError:
                    if draining:
                        break
                    continue
                except (OSError, ssl.SSLError):
                    break
                if not data:
                    break
                frames = framer.feed(data)
                if frames:
                    # Blocking put is the back-pressure: while we wait we do not read, so TCP pushes back.
                    self.buffer.put((ip, port, frames), wait=True)
                if len(data) < _SMALL_READ and not draining and not (tls and _more_to_read(conn)):
                    # A sender writing a little at a time: let its data gather in the socket buffer. A
                    # read costs the same few hundred microseconds (a thread woken on a busy core, the
                    # kernel's window update) for 20 messages as for 2,000; a faster sender fills the
                    # read and is not slowed, and one that fills the socket buffer meanwhile waits (TCP).
                    time.sleep(_GATHER)
            tail = framer.rest()
            if tail:
                self.buffer.put((ip, port, [tail]), wait=True)
        finally:
            with self._lock:
                self._stats["oversized"] += framer.oversized
            with contextlib.suppress(OSError):
                conn.close()

    # -- the Source protocol -----------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters: messages read, events emitted, UDP datagrams dropped on overload, errors, connections."""
        with self._lock:
            out = dict(self._stats)
        out["queued"] = self.buffer.count
        return out

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Receive and emit until ``stop``; then stop listening, drain connections and flush everything."""
        self.bind()
        self._closing.clear()
        if self.settings.workers > 0 and self._pool is None:
            import multiprocessing

            # spawn, not fork: this process already runs socket threads.
            self._pool = multiprocessing.get_context("spawn").Pool(
                self.settings.workers,
                initializer=_worker_init,
                initargs=(self.settings.format, self.settings.timezone, f"syslog://{self.settings.address}"),
            )
        for sock, kind in zip(self._sockets, self._kinds, strict=True):
            if kind == "udp":
                th = threading.Thread(
                    target=self._udp_loop, args=(sock,), name=f"{self.name}-udp", daemon=True
                )
            else:
                th = threading.Thread(
                    target=self._accept_loop,
                    args=(sock, kind == "tls"),
                    name=f"{self.name}-{kind}",
                    daemon=True,
                )
            th.start()
            self._threads.append(th)
        try:
            while not stop.is_set():
                self._consume(emit, _POLL, _LINGER)
        finally:
            self._closing.set()
            for th in self._threads:
                th.join(5)
            self._close_listeners()
            while True:
                with self._lock:
                    alive = [th for th in self._conns if th.is_alive()]
                    self._conns = set(alive)
                self._consume(emit, 0.05)
                if not alive and not self.buffer.count and not self._pending:
                    break
            self._consume(emit, 0)
            while self._pending:
                self._consume(emit, 0)
            if self._pool is not None:
                self._pool.close()
                self._pool.join()
                self._pool = None
            self._threads = []

    def _consume(self, emit: Emit, timeout: float, linger: float = 0.0) -> None:
        if self._pool is not None:
            self._consume_pool(emit, timeout)
            return
        chunks = self.buffer.take(timeout, fill=self.settings.batch, linger=linger)
        if not chunks:
            return
        batch: list[Event] = []
        limit = self.settings.batch
        parse = self._frames.parse_chunk
        # One reading time per take (it is event.ingested): the parser's per-batch state is kept.
        now = datetime.now(UTC)
        for ip, port, frames in chunks:
            n = len(frames)
            self._stats["read"] += n
            start = 0
            while start < n:
                room = limit - len(batch)
                part = frames if start == 0 and n <= room else frames[start : start + room]
                parse(ip, port, part, self._seq + 1, now, batch)
                self._seq += len(part)
                start += len(part)
                if len(batch) >= limit:
                    self._emit(batch, emit)
                    batch = []
        self._stats["errors"] += self._frames.errors
        self._frames.errors = 0
        if batch:
            self._emit(batch, emit)

    def _consume_pool(self, emit: Emit, timeout: float) -> None:
        """Parsing in worker processes: jobs go out in arrival order and come back in that order."""
        pending = self._pending
        limit = 2 * self.settings.workers + 2
        if len(pending) < limit:
            # Only take from the buffer while workers keep up, so the buffer's bound still holds.
            chunks = self.buffer.take(0.0 if pending else timeout)
            job: list[Frame] = []
            for ip, port, frames in chunks:
                job.extend([(f, ip, port) for f in frames])
                if len(job) >= self.settings.batch:
                    self._submit(job)
                    job = []
            if job:
                self._submit(job)
        while pending and (pending[0].ready() or len(pending) >= limit):
            events, errors = pending.popleft().get()
            self._stats["errors"] += errors
            if events:
                self._emit(events, emit)
        if pending:
            pending[0].wait(0.005)

    def _submit(self, job: list[Frame]) -> None:
        assert self._pool is not None
        self._stats["read"] += len(job)
        first = self._seq + 1
        self._seq += len(job)
        self._pending.append(self._pool.apply_async(_parse_job, (job, first)))

    def _emit(self, batch: list[Event], emit: Emit) -> None:
        self._stats["emitted"] += len(batch)
        emit(batch, None)


class FrameParser:
    """One syslog frame to an event, with the sender's address; never loses a message."""

    def __init__(self, fmt: str, timezone: str, source: str) -> None:
        self.parser: LineParser = get_parser(fmt)
        self.fallback: LineParser = get_parser("syslog")
        self.tz = local_zone(timezone)
        self.source = source
        self.errors = 0

    def parse(self, frame: Frame, seq: int, now: datetime | None = None) -> Event | None:
        """The event of one frame (``seq`` its position), or None for an empty one."""
        raw, ip, port = frame
        out: list[Event] = []
        self.parse_chunk(ip, port, [raw], seq, now or datetime.now(UTC), out)
        return out[0] if out else None

    def parse_chunk(
        self, ip: str, port: int, frames: list[bytes], first: int, now: datetime, out: list[Event]
    ) -> None:
        """Append the events of frames from one peer, at positions ``first``, ``first + 1``, ...

        One context for the chunk, moved from frame to frame (a context and an address text per
        message were a tenth of the receiver's own cost)."""
        ctx = LineContext(source=self.source, position=first, host=ip, tz=self.tz, now=now)
        address = f"{ip}:{port}"
        parse, append = self.parser.parse, out.append
        for position, raw in enumerate(frames, first):
            text, bad = decode_line(raw)
            ctx.position = position
            try:
                ev = parse(text, ctx)
            except (CanhError, ValueError, KeyError, IndexError, TypeError):
                ev = self._fallback(text, ctx)
            if ev is None:
                continue
            log = ev.get("log")
            if log.__class__ is dict:
                log["source"] = {"address": address}
            else:
                ev["log"] = {"source": {"address": address}}
            observer = ev.get("observer")
            if observer.__class__ is dict:
                observer["ip"] = [ip]
            else:
                ev["observer"] = {"ip": [ip]}
            if bad:
                ev.setdefault("event", {})["original"] = escaped_original(raw)
                ev.setdefault("tags", []).append("canh_invalid_utf8")
            append(ev)

    def _fallback(self, text: str, ctx: LineContext) -> Event | None:
        self.errors += 1
        ev = None
        with contextlib.suppress(CanhError, ValueError, KeyError, IndexError, TypeError):
            ev = self.fallback.parse(text, ctx)
        if ev is None and text.strip():
            # Stored as it came rather than dropped: the message itself is the evidence.
            ev = new_event(
                timestamp=ctx.now, dataset="syslog", module="system", source=self.source, position=ctx.position,
                original=text, message=text, host=ctx.host, ingested=ctx.now,
            )  # fmt: skip
        return ev


_WORKER: FrameParser | None = None


def _worker_init(fmt: str, timezone: str, source: str) -> None:
    global _WORKER
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us in order
    _WORKER = FrameParser(fmt, timezone, source)


def _parse_job(job: list[Frame], first: int) -> tuple[list[Event], int]:
    assert _WORKER is not None
    parse = _WORKER.parse
    now = datetime.now(UTC)
    out = [ev for i, frame in enumerate(job) if (ev := parse(frame, first + i, now)) is not None]
    errors, _WORKER.errors = _WORKER.errors, 0
    return out, errors


def _port(opts: dict[str, Any], key: str, default: int | None, name: str) -> int | None:
    if key not in opts:
        return default
    value = opts[key]
    if value is None or value is False:
        return None
    try:
        port = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError("collect.syslog_bad_option", where=name, option=key, reason=str(exc)) from exc
    if not 0 <= port <= 65535:
        raise ConfigError(
            "collect.syslog_bad_option", where=name, option=key, reason=t("collect.syslog_port_range")
        )
    return port


SYSLOG_OPTIONS = COMMON_OPTIONS | {
    "address", "udp_port", "tcp_port", "tls_port", "tls_cert", "tls_key", "queue", "batch", "max_message",
    "workers",
}  # fmt: skip


def parse_settings(opts: dict[str, Any]) -> SyslogSettings:
    """SyslogSettings from a config entry's options, checked (unknown keys, ports, sizes, format)
    without binding anything."""
    name = str(opts.get("name") or "syslog")
    check_keys(opts, SYSLOG_OPTIONS, name)
    s = SyslogSettings()
    s.address = str(opts.get("address", s.address))
    s.udp_port = _port(opts, "udp_port", s.udp_port, name)
    s.tcp_port = _port(opts, "tcp_port", s.tcp_port, name)
    s.tls_port = _port(opts, "tls_port", s.tls_port, name)
    s.tls_cert = opts.get("tls_cert")
    s.tls_key = opts.get("tls_key")
    for key in ("queue", "batch", "max_message", "workers"):
        if key in opts:
            try:
                value = int(opts[key])
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    "collect.syslog_bad_option", where=name, option=key, reason=str(exc)
                ) from exc
            if value < (0 if key == "workers" else 1):
                raise ConfigError("collect.syslog_bad_option", where=name, option=key, reason="too small")
            setattr(s, key, value)
    if opts.get("timezone"):
        s.timezone = str(opts["timezone"])
    if opts.get("format"):
        s.format = str(opts["format"])
    if s.tls_port is not None and not (s.tls_cert and s.tls_key):
        raise ConfigError(
            "collect.syslog_bad_option", where=name, option="tls_cert/tls_key", reason="required"
        )
    try:
        get_parser(s.format)
    except KeyError as exc:
        raise ConfigError("collect.syslog_bad_option", where=name, option="format", reason=str(exc)) from exc
    return s


settings_from = parse_settings  # the name the tests and earlier callers use


def build(cfg: Any, runtime: Any) -> SyslogSource:
    """The ``type: syslog`` source of ``canh collect``."""
    opts = source_options(cfg)
    return SyslogSource(parse_settings(opts), name=opts.get("name"))


__all__ = [
    "SYSLOG_OPTIONS", "FrameBuffer", "Framer", "SyslogSettings", "SyslogSource", "build", "parse_settings",
    "settings_from",
]  # fmt: skip
