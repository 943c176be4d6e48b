"""Long-running packet sources for ``canh collect`` (contracts.md: ``build(cfg, runtime) -> Source``).

- ``type: pcap`` reads a folder that ``tcpdump -G`` keeps filling: every capture file in name order,
  the newest one followed as it grows, a checkpoint (file, byte offset, packet index) committed only
  after the runner has stored the events, so a restart resumes where the store is.
- ``type: capture`` listens on an interface through an AF_PACKET socket with a BPF filter compiled by
  libpcap (through scapy), and parses frames with the same struct decoder as files.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canh.collectors.packets.capfile import Block, CaptureReader, is_capture
from canh.collectors.packets.flows import FlowSettings, PacketAnalyzer
from canh.collectors.registry import ReadProblem
from canh.collectors.source import BASE_OPTIONS, check_keys, number_option, option_error, source_options
from canh.errors import CollectorError, ConfigError
from canh.events import Event, format_ts
from canh.i18n import t

Emit = Callable[[list[Event], Callable[[], None] | None], None]
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


FLOW_OPTIONS = frozenset({"idle_timeout", "active_timeout", "linger", "max_flows", "applications"})
PCAP_OPTIONS = BASE_OPTIONS | FLOW_OPTIONS | {"path", "poll"}
CAPTURE_OPTIONS = BASE_OPTIONS | FLOW_OPTIONS | {"interface", "filter"}


@dataclass
class PacketSourceSettings:
    """A ``type: pcap`` or ``type: capture`` entry's options, checked; ``target`` is the path or interface."""

    kind: str
    target: str
    name: str
    flows: FlowSettings
    poll: float = 1.0
    bpf: str | None = None


_SWITCH = {word: True for word in ("true", "yes", "on", "1")} | {
    word: False for word in ("false", "no", "off", "0")
}


def _flow_settings(opts: dict[str, Any], where: str) -> FlowSettings:
    s = FlowSettings()
    for key in ("idle_timeout", "active_timeout", "linger"):
        setattr(s, key, number_option(opts, key, getattr(s, key), where))
    flows = number_option(opts, "max_flows", s.max_flows, where)
    if flows < 1 or flows != int(flows):
        raise option_error(where, "max_flows", t("config.wrong_type", expected=t("config.type_int"),
                                                 got=repr(opts.get("max_flows"))[:60]))  # fmt: skip
    s.max_flows = int(flows)
    value = opts.get("applications", s.applications)
    word = value if isinstance(value, bool) else _SWITCH.get(str(value).strip().lower())
    if word is None:
        # A typo here would otherwise turn application events off without a word.
        raise option_error(where, "applications", t("config.wrong_type", expected=t("config.type_bool"),
                                                    got=repr(value)[:60]))  # fmt: skip
    s.applications = word
    return s


def parse_settings(opts: dict[str, Any]) -> PacketSourceSettings:
    """A packet source entry's options checked against its type's keys and read; opens nothing."""
    kind = str(opts.get("type"))
    if kind not in ("pcap", "capture"):
        raise ConfigError("config.bad_value", key="type", reason=f"{kind!r} is not a packet source")
    where = str(opts.get("name") or kind)
    check_keys(opts, PCAP_OPTIONS if kind == "pcap" else CAPTURE_OPTIONS, where)
    required = "path" if kind == "pcap" else "interface"
    if required not in opts:
        raise ConfigError("pcap.missing_option", where=where, option=required)
    target = str(opts[required])
    return PacketSourceSettings(
        kind,
        target,
        name=opts.get("name") or f"{kind}:{target}",
        flows=_flow_settings(opts, where),
        poll=number_option(opts, "poll", 1.0, where),
        bpf=opts.get("filter"),
    )


def _host(runtime: Any) -> str | None:
    return socket.gethostname() if runtime is not None else None


def build(cfg: Any, runtime: Any) -> PcapFolderSource | CaptureSource:
    """The packet source a config entry describes (``type: pcap`` or ``type: capture``)."""
    s = parse_settings(source_options(cfg))
    if s.kind == "pcap":
        state_dir = Path(runtime.paths.state) if runtime is not None else None
        return PcapFolderSource(
            Path(s.target),
            name=s.name,
            settings=s.flows,
            state_dir=state_dir,
            host=_host(runtime),
            poll=s.poll,
        )
    return CaptureSource(s.target, bpf=s.bpf, name=s.name, settings=s.flows, host=_host(runtime))


class _Base:
    name: str

    def __init__(self) -> None:
        self.analyzer: PacketAnalyzer | None = None
        self.problems: list[ReadProblem] = []
        self._stats: dict[str, int] = {"read": 0, "emitted": 0, "dropped": 0, "errors": 0}

    def stats(self) -> dict[str, int]:
        """Counters: packets read, events emitted, damaged or skipped packets, errors."""
        out = dict(self._stats)
        if self.analyzer is not None:
            for key, value in self.analyzer.stats.items():
                out.setdefault(key, value)
            out["errors"] += self.analyzer.stats["errors"]
            out["dropped"] += self.analyzer.stats["skipped"] + self.analyzer.stats["evicted"]
            out["active_flows"] = len(self.analyzer.flows)
        return out

    def _consume(self, items: Any, emit: Emit, commit: Callable[[], None] | None) -> None:
        batch: list[Event] = []
        for item in items:
            if isinstance(item, ReadProblem):
                if len(self.problems) < 1000:
                    self.problems.append(item)
            else:
                batch.extend(item)
        if batch or commit is not None:
            self._stats["emitted"] += len(batch)
            emit(batch, commit)


class PcapFolderSource(_Base):
    """Capture files in a folder (one file or a ``tcpdump -G`` rotation), followed as they are written."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        settings: FlowSettings | None = None,
        state_dir: Path | None = None,
        host: str | None = None,
        poll: float = 1.0,
    ) -> None:
        super().__init__()
        self.path = path
        self.name = name
        self.settings = settings or FlowSettings()
        self.host = host
        self.poll = poll
        safe = "".join(c if c.isalnum() else "_" for c in name)[:80]
        self.checkpoint_path = state_dir / "pcap" / f"{safe}.json" if state_dir else None
        self.position: dict[str, list[int]] = self._load()  # file -> [offset, index]

    def _load(self) -> dict[str, list[int]]:
        if self.checkpoint_path and self.checkpoint_path.exists():
            try:
                data = json.loads(self.checkpoint_path.read_text())
                return {str(k): [int(v[0]), int(v[1])] for k, v in data.items()}
            except (ValueError, TypeError, IndexError, OSError):
                return {}
        return {}

    def _save(self, snapshot: dict[str, list[int]]) -> None:
        if not self.checkpoint_path:
            return
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot))
        os.replace(tmp, self.checkpoint_path)

    def files(self) -> list[Path]:
        """Capture files to read, oldest name first (tcpdump -G names sort by time)."""
        if self.path.is_file():
            return [self.path]
        if not self.path.is_dir():
            raise CollectorError("pcap.folder_missing", where=self.name, path=str(self.path))
        out = []
        for p in sorted(self.path.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                with p.open("rb") as fh:
                    if is_capture(fh.read(64)):
                        out.append(p)
        return out

    def poll_once(self, emit: Emit) -> int:
        """Read whatever is new in every file; returns the number of new packets."""
        if self.analyzer is None:
            self.analyzer = PacketAnalyzer(source=str(self.path), host=self.host, settings=self.settings)
        an = self.analyzer
        new = 0
        files = self.files()
        present = {str(p.resolve()) for p in files}
        for gone in [k for k in self.position if k not in present]:
            del self.position[gone]  # rotated away by tcpdump -W or a cleanup job
        for path in files:
            key = str(path.resolve())
            offset, index = self.position.get(key, [0, 0])
            size = path.stat().st_size
            if offset and size <= offset:
                continue
            an.ev.source = key
            with path.open("rb") as fh:
                reader = CaptureReader(fh, offset=offset, index=index)
                items: list[Any] = []
                size_now = 0
                for item in an.run(_Complete(reader), index=index, where=str(path)):
                    items.append(item)
                    size_now += len(item) if isinstance(item, list) else 1
                    if size_now >= 5000:  # a big file streams out; the checkpoint moves at its end
                        self._consume(items, emit, None)
                        items, size_now = [], 0
            new += reader.index - index
            self._stats["read"] += reader.index - index
            self.position[key] = [reader.offset, reader.index]
            snapshot = {k: list(v) for k, v in self.position.items()}
            self._consume(items, emit, lambda snap=snapshot: self._save(snap))  # type: ignore[misc]
        return new

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, then end the flows still open and flush them."""
        while not stop.is_set():
            if self.poll_once(emit) == 0 and self.analyzer is not None and self.analyzer.now:
                # Quiet folder: let capture time advance with the wall clock so idle flows end.
                self._consume([self.analyzer.expire(time.time())], emit, None)
            stop.wait(self.poll)
        if self.analyzer is not None:
            self._consume([self.analyzer.finish()], emit, None)


class _Complete:
    """The blocks of a file being written, stopping quietly at a record tcpdump has not finished."""

    def __init__(self, reader: CaptureReader) -> None:
        self.reader = reader

    def blocks(self) -> Iterator[Block | tuple]:
        for item in self.reader.blocks():
            if not isinstance(item, Block) and item[1] == "truncated_file":
                return
            yield item


class CaptureSource(_Base):
    """Live capture from one interface with an optional BPF filter (needs CAP_NET_RAW)."""

    def __init__(
        self,
        interface: str,
        *,
        bpf: str | None = None,
        name: str | None = None,
        settings: FlowSettings | None = None,
        host: str | None = None,
        batch_seconds: float = 0.5,
    ) -> None:
        super().__init__()
        self.interface = interface
        self.bpf = bpf
        self.name = name or f"capture:{interface}"
        self.settings = settings or FlowSettings()
        self.host = host
        self.batch_seconds = batch_seconds
        self.ready = threading.Event()

    def open(self) -> socket.socket:
        """The raw socket bound to the interface with the filter attached; clear errors otherwise."""
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError as exc:
            raise CollectorError(
                "pcap.no_capture_permission",
                where=self.name,
                interface=self.interface,
                python=os.path.realpath(sys.executable),
            ) from exc
        try:
            sock.bind((self.interface, 0))
        except OSError as exc:
            sock.close()
            raise CollectorError("pcap.no_interface", where=self.name, interface=self.interface) from exc
        if self.bpf:
            try:
                from scapy.arch.linux import attach_filter

                attach_filter(sock, self.bpf, self.interface)
            except Exception as exc:  # scapy raises bare Scapy_Exception/OSError/ImportError for a bad filter
                sock.close()
                raise CollectorError("pcap.bad_filter", where=self.name, reason=str(exc)) from exc
        sock.settimeout(0.2)
        return sock

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Capture until ``stop`` is set; events go out every ``batch_seconds``; open flows end at stop."""
        sock = self.open()
        started = time.time()
        self.analyzer = an = PacketAnalyzer(
            source=f"capture://{self.interface}/{format_ts_compact(started)}",
            host=self.host,
            settings=self.settings,
            interface=self.interface,
        )
        linktype = interface_linktype(self.interface)
        records: list[tuple[float, int, bytes, int]] = []
        index = 0
        last_flush = time.monotonic()
        self.ready.set()
        try:
            while not stop.is_set():
                try:
                    frame, addr = sock.recvfrom(65535)
                    if addr[2] == PACKET_OUTGOING and self.interface == "lo":
                        continue  # loopback shows every packet twice
                    records.append((time.time(), linktype, frame, len(frame)))
                except TimeoutError:
                    pass
                except OSError as exc:
                    raise CollectorError(
                        "pcap.capture_failed",
                        where=self.name,
                        interface=self.interface,
                        reason=exc.strerror or str(exc),
                    ) from exc
                if time.monotonic() - last_flush >= self.batch_seconds:
                    last_flush = time.monotonic()
                    self._stats["read"] += len(records)
                    items = list(an.run(records, index=index, where=self.name)) if records else []
                    index += len(records)
                    records = []
                    items.append(an.expire(time.time()))
                    self._consume(items, emit, None)
            self._stats["read"] += len(records)
            items = list(an.run(records, index=index, where=self.name)) if records else []
            items.append(an.finish())
            self._consume(items, emit, None)
        finally:
            sock.close()


def interface_linktype(interface: str) -> int:
    """pcap link type of what an AF_PACKET socket reads on ``interface`` (Ethernet, or raw IP for tun)."""
    try:
        arphrd = int(Path(f"/sys/class/net/{interface}/type").read_text())
    except (OSError, ValueError):
        return 1
    return {65534: 101, 512: 101}.get(arphrd, 1)


def format_ts_compact(epoch: float) -> str:
    """A start time safe inside a source name (event ids of two runs must never collide)."""
    from datetime import UTC, datetime

    return format_ts(datetime.fromtimestamp(epoch, UTC)).replace(":", "").replace("-", "")
