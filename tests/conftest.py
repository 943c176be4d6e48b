"""Shared fixtures: isolated homes, a store of every implementation, the shared corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from canh.clock import ManualClock
from canh.store.base import Store

CORPUS = Path(os.environ.get("CANH_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CANH_HOME so nothing touches the user's real data."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("CANH_HOME", str(h))
    monkeypatch.delenv("CANH_CONFIG", raising=False)
    return h


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock("2026-11-22T01:00:00Z")


def _sqlite_store(tmp_path: Path) -> Store:
    from canh.store.sqlite import SQLiteStore

    return SQLiteStore(tmp_path / "data" / "canh.db")


STORE_FACTORIES = {"sqlite": _sqlite_store}


def _es_store(tmp_path: Path) -> Store:
    from tests.store.es_node import es_store_for_test  # the Elasticsearch issue provides this

    return es_store_for_test(tmp_path)


if (Path(__file__).parent / "store" / "es_node.py").exists():
    STORE_FACTORIES["elasticsearch"] = _es_store


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Every store implementation, so one test asserts the same behaviour of each."""
    s = STORE_FACTORIES[request.param](tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    s = _sqlite_store(tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus, or skip: a user's clone has no shared folder."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


class CanhRun:
    """Runs the real ``canh`` executable with an isolated home, as a user would."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self,
        *args: str,
        lang: str = "en",
        check: bool = False,
        stdin: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CANH_HOME": str(self.home), "CANH_LANG": lang}
        env.pop("CANH_CONFIG", None)
        exe = Path(sys.executable).with_name("canh")
        proc = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=env, input=stdin, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"canh {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> list[dict]:
        """Run with --json and parse one JSON document per line."""
        proc = self(*args, "--json", check=True)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture
def canh(home: Path) -> CanhRun:
    return CanhRun(home)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run where nothing passed (everything skipped or deselected) fails: CI must not pass vacuously."""
    if hasattr(session.config, "workerinput") or exitstatus != 0:
        return  # an xdist worker: the controller decides for the whole run
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not reporter.stats.get("passed"):
        reporter.write_line(
            "no test passed: failing the run (everything was skipped or deselected)", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
