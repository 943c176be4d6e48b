"""Two analysts in two real processes change one incident at once: no update is lost, on both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from canh.clock import ManualClock
from canh.incidents.desk import IncidentDesk
from canh.store.base import Store

ROOT = Path(__file__).resolve().parents[2]


def _where(store: Store) -> tuple[str, str]:
    if store.name == "sqlite":
        return "sqlite", str(store.path)  # type: ignore[attr-defined]
    return "elasticsearch", f"{store.url}|{store.prefix}"  # type: ignore[attr-defined]


def test_two_processes_update_one_incident_without_losing_either(
    store: Store, tmp_path: Path, clock: ManualClock
) -> None:
    desk = IncidentDesk(store, clock, actor="lead")
    inc = desk.create("Tấn công dò mật khẩu")
    store.refresh()
    kind, where = _where(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/incidents/analyst_process.py"),
                kind,
                where,
                inc.id,
                who,
                str(tmp_path),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for who in ("lan", "hung")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{w}.ready").exists() for w in ("lan", "hung")):
        assert time.monotonic() < deadline, [p.stderr.read() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    (tmp_path / "go").write_text("go")
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["read_version"] == 1 for r in results)
    assert sorted(r["result"] for r in results) == ["conflict", "written"]
    loser = next(r for r in results if r["result"] == "conflict")
    winner = next(r for r in results if r["result"] == "written")
    assert "someone else changed this incident first" in loser["message"]
    assert f"by {winner['who']}" in loser["message"]
    assert loser["fresh_comments"] == [f"nhận xét của {winner['who']}"]
    store.refresh()
    final, v = desk.get(inc.id)
    assert sorted(c.text for c in final.comments) == ["nhận xét của hung", "nhận xét của lan"]
    assert v.version == 3
