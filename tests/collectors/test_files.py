"""The file source follows real files in a temporary folder like ``tail -F``, into a real SQLite store."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from canh.collectors.checkpoints import Checkpoints
from canh.collectors.files import FileSource, FileSourceSettings
from canh.events import Event
from canh.store.sqlite import SQLiteStore


def line(i: int, prog: str = "app") -> str:
    return f"Nov 21 02:{i // 60 % 60:02d}:{i % 60:02d} host-01 {prog}[7]: dòng số {i}\n"


class Harness:
    """A source over ``patterns`` writing into a real store, committing after each write like ``canh collect``."""

    def __init__(self, tmp: Path, patterns: list[str], **settings: object) -> None:
        self.tmp = tmp
        self.store = SQLiteStore(tmp / "canh.db")
        self.registry = tmp / "checkpoints.json"
        self.patterns = patterns
        self.settings = settings
        self.fail_writes = False
        self.source = self.new_source()

    def new_source(self) -> FileSource:
        settings = FileSourceSettings(paths=self.patterns, host="collector", **self.settings)  # type: ignore[arg-type]
        return FileSource(settings, name="t", checkpoints=Checkpoints(self.registry))

    def emit(self, batch: list[Event], commit: Callable[[], None] | None) -> None:
        if self.fail_writes:
            raise OSError("store down")
        self.store.write("events", batch)
        if commit is not None:
            commit()

    def poll(self, times: int = 1) -> int:
        return sum(self.source.poll_once(self.emit) for _ in range(times))

    def restart(self) -> None:
        self.source.close()
        self.source = self.new_source()

    def messages(self) -> list[str]:
        hits = self.store.search("events", "*", limit=100_000, order="asc")
        return sorted(h["message"] for h in hits)


def expected(*ranges: range) -> list[str]:
    return sorted(f"dòng số {i}" for r in ranges for i in r)


def write(path: Path, rng: range, mode: str = "a") -> None:
    with path.open(mode, encoding="utf-8") as fh:
        fh.writelines(line(i) for i in rng)


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    d = tmp_path / "logs"
    d.mkdir()
    return d


def test_appends_are_read_once_and_checkpointed(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(3))
    h = Harness(tmp_path, [str(log)])
    assert h.poll() == 3
    write(log, range(3, 5))
    assert h.poll() == 2
    assert h.poll() == 0
    assert h.messages() == expected(range(5))
    h.restart()
    assert h.poll() == 0  # resumed at the committed offset
    write(log, range(5, 6))
    assert h.poll() == 1
    assert h.messages() == expected(range(6))
    ev = h.store.search("events", "*", limit=1)[0]
    assert ev["log"]["file"]["path"] == str(log)
    assert ev["host"]["name"] == "host-01"


def test_partial_last_line_waits_for_its_newline(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(2))
    with log.open("a", encoding="utf-8") as fh:
        fh.write(line(2)[:20])
    h = Harness(tmp_path, [str(log)])
    assert h.poll() == 2
    with log.open("a", encoding="utf-8") as fh:
        fh.write(line(2)[20:])
    assert h.poll() == 1
    assert h.messages() == expected(range(3))


def test_rename_and_create_rotation_loses_nothing(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(3))
    h = Harness(tmp_path, [str(log)])
    h.poll()
    write(log, range(3, 5))  # written just before logrotate renames the file
    os.rename(log, logdir / "app.log.1")
    write(log, range(5, 7), "w")
    h.poll(2)
    assert h.messages() == expected(range(7))
    h.poll(3)
    assert (h.source.stats()["rotations"], h.source.stats()["truncations"]) == (1, 0)


def test_copytruncate_resumes_the_copy_and_reads_the_new_generation(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(3))
    h = Harness(tmp_path, [str(logdir / "app.log*")])
    h.poll()
    write(log, range(3, 5))  # not yet read when logrotate copies and truncates
    shutil.copy(log, logdir / "app.log.1")
    with log.open("r+") as fh:
        fh.truncate(0)
    write(log, range(5, 7))
    h.poll(3)
    assert h.messages() == expected(range(7))
    h.poll(3)
    assert (h.source.stats()["truncations"], h.source.stats()["rotations"]) == (1, 0)


def test_truncation_starts_over_with_new_ids(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(4))
    h = Harness(tmp_path, [str(log)])
    h.poll()
    write(log, range(10, 12), "w")  # shorter than before: truncated and rewritten
    h.poll(2)
    assert h.messages() == expected(range(4), range(10, 12))


def test_files_appearing_later_match_the_glob(tmp_path: Path, logdir: Path) -> None:
    h = Harness(tmp_path, [str(logdir / "*.log")])
    assert h.poll() == 0
    write(logdir / "b.log", range(2))
    (logdir / "notes.txt").write_text("not matched\n")
    assert h.poll() == 2
    write(logdir / "a.log", range(2, 3))
    assert h.poll() == 1
    assert h.messages() == expected(range(3))


def test_gzip_backfill_read_once_and_rotated_copies_are_not_stored_twice(
    tmp_path: Path, logdir: Path
) -> None:
    log = logdir / "app.log"
    write(log, range(5))
    with gzip.open(logdir / "app.log.2.gz", "wt", encoding="utf-8") as gz:
        gz.writelines(line(i) for i in range(100, 103))
    h = Harness(tmp_path, [str(logdir / "app.log*")])
    h.poll(2)
    assert h.messages() == expected(range(5), range(100, 103))
    # logrotate compresses the file already read: same content, same ids, nothing new.
    with log.open("rb") as src, gzip.open(logdir / "app.log.1.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    h.poll(2)
    assert h.store.count("events") == 8
    h.restart()
    assert h.poll(2) == 0  # gzip files already read are not read again


def test_multiline_records_by_start_pattern(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    log.write_text(
        "2026-11-21 02:00:00 ERROR Lỗi xử lý hồ sơ\n"
        "java.lang.IllegalStateException: hỏng\n"
        "\tat vn.gov.dvc.HoSo.luu(HoSo.java:42)\n"
        "2026-11-21 02:00:01 INFO xong\n",
        encoding="utf-8",
    )
    h = Harness(
        tmp_path, [str(log)], format="syslog", multiline_start=r"^\d{4}-\d\d-\d\d ", multiline_timeout=3600
    )
    h.poll()
    msgs = h.messages()
    assert msgs == [
        "2026-11-21 02:00:00 ERROR Lỗi xử lý hồ sơ\njava.lang.IllegalStateException: hỏng\n\tat vn.gov.dvc.HoSo.luu(HoSo.java:42)"
    ]
    # The last record is still open; the checkpoint stays at its start until it is stored.
    assert h.source.checkpoints.files[
        next(iter(h.source.checkpoints.files))
    ].offset == log.stat().st_size - len(b"2026-11-21 02:00:01 INFO xong\n")
    h.source.flush(h.emit)
    assert len(h.messages()) == 2


def test_checkpoint_moves_only_after_the_store_acknowledges(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(3))
    h = Harness(tmp_path, [str(log)])
    h.fail_writes = True
    with pytest.raises(OSError):
        h.poll()
    h.fail_writes = False
    h.restart()
    assert h.poll() == 3
    assert h.messages() == expected(range(3))


def test_invalid_bytes_are_kept_escaped(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    log.write_bytes(b"Nov 21 02:00:00 h app[1]: x \xc3\x28 y\n")
    h = Harness(tmp_path, [str(log)])
    h.poll()
    ev = h.store.search("events", "*", limit=1)[0]
    assert ev["event"]["original"] == "Nov 21 02:00:00 h app[1]: x \\xc3( y"
    assert "canh_invalid_utf8" in ev["tags"]


def test_run_stops_on_the_event(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(50))
    h = Harness(tmp_path, [str(log)], poll=0.05)
    stop = threading.Event()
    t = threading.Thread(target=h.source.run, args=(h.emit, stop))
    t.start()
    for _ in range(100):
        if h.store.count("events") == 50:
            break
        stop.wait(0.05)
    stop.set()
    t.join(5)
    assert not t.is_alive()
    assert h.store.count("events") == 50


def test_two_files_sharing_their_first_line_are_both_read_whole(tmp_path: Path, logdir: Path) -> None:
    # Same first line, different files: neither is taken for a rotated copy of the other.
    for name, rng in (("app.log", range(1, 4)), ("other.log", range(10, 13))):
        write(logdir / name, range(1))
        write(logdir / name, rng)
    h = Harness(tmp_path, [str(logdir / "*.log")])
    h.poll(5)
    assert h.messages() == sorted(expected(range(1), range(1), range(1, 4), range(10, 13)))
    assert h.source.stats()["truncations"] == 0


def test_a_file_collected_then_renamed_and_gzipped_is_not_stored_again(tmp_path: Path, logdir: Path) -> None:
    from canh.ingest import Ingester

    log = logdir / "app.log"
    write(log, range(5))
    h = Harness(tmp_path, [str(log)])
    h.poll()
    rotated = log.rename(logdir / "app.log.1")
    gz = logdir / "app.log.1.gz"
    with rotated.open("rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    report = Ingester(h.store, dead_letter=tmp_path / "dead.jsonl", host="collector").run([rotated, gz])
    assert (report.written, report.duplicates) == (0, 10)
    assert h.store.count("events") == 5


def test_web_lines_get_the_source_host_and_the_collector_as_observer(tmp_path: Path, logdir: Path) -> None:
    from canh.collectors.origin import machine_name

    log = logdir / "access.log"
    log.write_text('10.0.0.1 - - [21/Nov/2026:03:21:09 +0700] "GET /tin-tuc HTTP/1.1" 200 10 "-" "curl/8"\n')
    h = Harness(tmp_path, [str(log)])
    h.poll()
    ev = h.store.search("events", "*", limit=1)[0]
    assert ev["host"]["name"] == "collector"
    assert ev["observer"]["hostname"] == machine_name()
    assert ev["log"]["file"]["path"] == str(log)


def test_each_rotation_is_counted_once(tmp_path: Path, logdir: Path) -> None:
    log = logdir / "app.log"
    write(log, range(2))
    h = Harness(tmp_path, [str(logdir / "app.log*")])
    for n, start in enumerate((2, 4), 1):
        h.poll()
        os.rename(log, logdir / f"app.log.{n}")
        write(log, range(start, start + 2), "w")
        h.poll(3)
        assert h.source.stats()["rotations"] == n
    assert h.messages() == expected(range(6))
    assert h.source.stats()["truncations"] == 0


def test_content_replaced_under_the_same_first_line_is_a_new_generation(tmp_path: Path, logdir: Path) -> None:
    # A logger that starts every file with the same banner: the first line cannot tell old from new.
    log = logdir / "app.log"
    log.write_text("=== app started ===\n", encoding="utf-8")
    write(log, range(5))
    h = Harness(tmp_path, [str(log)], format="syslog")
    h.poll()
    log.write_text("=== app started ===\n", encoding="utf-8")  # truncated and written again
    write(log, range(10, 12))
    h.poll(2)
    assert h.messages() == sorted(["=== app started ==="] * 2 + expected(range(5), range(10, 12)))
    h.restart()  # the generation is in the checkpoint: a restart reads nothing again
    assert h.poll(2) == 0
    write(log, range(12, 13))
    h.poll()
    assert h.store.count("events") == 10


def test_binary_files_matched_by_a_pattern_are_not_read(tmp_path: Path, logdir: Path) -> None:
    (logdir / "wtmp").write_bytes(Path("/bin/true").read_bytes()[:3000])
    write(logdir / "auth.log", range(2))
    h = Harness(tmp_path, [str(logdir / "*")])
    h.poll(3)
    assert h.messages() == expected(range(2))
    assert h.source.stats()["not_text"] == 1
