"""The real ``canh`` executable: systems import/list/due/export, incidents create/assign/comment/close."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

SAMPLE = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))


def test_systems_import_list_due_export_round_trip(canh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert canh.json("systems", "import", str(SAMPLE)) == [
        {"created": 30, "updated": 0, "unchanged": 0, "errors": []}
    ]
    rows = canh.json("systems", "list", "--level", "4")
    assert {r["code"] for r in rows} == {"HT-KHCN-01", "HT-KHCN-07", "HT-BHXH-28", "HT-BHXH-29"}
    due = canh.json("systems", "due", "--within", "30d")
    assert due and all(r["inspection_overdue"] or r["next_inspection_due"] for r in due)
    out = tmp_path / "export.csv"
    canh("systems", "export", str(out), check=True)
    assert canh.json("systems", "import", str(out))[0]["unchanged"] == 30
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name_vi,proposed_level\nHT-A,Hệ thống A,2\nHT-B,Hệ thống B,chín\n", encoding="utf-8")
    proc = canh("--lang", "vi", "systems", "import", str(bad))
    assert proc.returncode == 1
    assert "bad.csv: row 3: cột proposed_level" in proc.stderr
    assert "1 tạo mới" in proc.stdout


def test_incident_cli_workflow_and_conflict_shows_fresh_state(canh) -> None:  # type: ignore[no-untyped-def]
    canh("systems", "import", str(SAMPLE), check=True)
    [inc] = canh.json("incidents", "create", "Dò quét web", "--level", "high", "--system", "HT-KHCN-01")
    assert inc["priority"] == "P1" and inc["version"] == 1
    iid = inc["id"]
    assert canh.json("incidents", "assign", iid, "lan", "--team", "ca-1")[0]["assignee"] == "lan"
    stale = canh("incidents", "comment", iid, "muộn", "--expect-version", "1", "--json")
    assert stale.returncode == 1
    fresh = json.loads(stale.stdout.splitlines()[0])
    assert fresh["conflict"] and fresh["version"] == 2 and fresh["assignee"] == "lan"
    assert "someone else changed this incident first" in stale.stderr
    [closed] = canh.json("incidents", "close", iid, "--reason", "Đã chặn IP")
    assert closed["status"] == "closed" and closed["resolution"] == "Đã chặn IP"
    [shown] = canh.json("incidents", "show", iid)
    assert [e["detail"].get("to") for e in shown["timeline"] if e["action"] == "status"] == [
        "triage",
        "resolved",
        "closed",
    ]
    assert canh.json("incidents", "list", "--open") == []
