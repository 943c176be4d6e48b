"""The real ``canh``: report incident/register in md, json and pdf, shift report, grouping, national warnings."""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

from canh.clock import SystemClock
from canh.config import resolve_paths
from canh.events import format_ts
from canh.store.sqlite import SQLiteStore
from tests.incidents.fixtures import alert

SAMPLE = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))


def test_group_then_report_and_shift(canh, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    canh("systems", "import", str(SAMPLE), check=True)
    store = SQLiteStore(resolve_paths(str(home)).data / "canh.db")
    now = format_ts(SystemClock().now())
    store.write(
        "alerts",
        [
            alert("ssh-brute", "bastion-01", now, src="185.220.101.47", tags=["attack.t1110"]),
            alert("ssh-brute", "bastion-01", now, src="185.220.101.47", event_id="e2"),
        ],
    )
    store.close()
    assert canh.json("incidents", "group") == [
        {"incident": canh.json("incidents", "list")[0]["id"], "alerts": 2}
    ]
    [inc] = canh.json("incidents", "list")
    assert inc["systems"] == ["HT-KHCN-01"] and inc["priority"] == "P1"
    md = canh("--lang", "vi", "report", "incident", inc["id"], check=True).stdout
    assert "Báo cáo ban đầu sự cố" in md and "Trung tâm dữ liệu tỉnh" in md
    data = json.loads(canh("report", "incident", inc["id"], "--format", "json", check=True).stdout)
    assert data["serious"] and data["form"] == "BM03"
    pdf = tmp_path / "r.pdf"
    canh("--lang", "vi", "report", "register", "--format", "pdf", "--out", str(pdf), check=True)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Báo cáo tuân thủ" in text
    shift = canh("shift", "report", "--both", check=True).stdout
    assert "Bàn giao ca trực" in shift and "Shift handover" in shift and inc["id"] in shift
    [summary] = canh.json("shift", "report")
    assert summary["alerts"] == 2 and len(summary["new"]) == 1


def test_import_warning_cli(canh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    w = tmp_path / "NCSC-2026-114.csv"
    w.write_text("type,value,description\nipv4,45.95.147.236,Máy quét\n", encoding="utf-8")
    [inc] = canh.json("incidents", "import-warning", str(w))
    assert inc["source"] == "national-warning" and inc["observables"][0]["value"] == "45.95.147.236"
    again = canh("incidents", "import-warning", str(w))
    assert again.returncode == 1 and "already imported" in again.stderr
