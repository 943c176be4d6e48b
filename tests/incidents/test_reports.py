"""National incident report (initial/final) deadlines and fields, register compliance report, PDF pages
rendered with pdftoppm and read back with pdftotext (Vietnamese diacritics intact)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.events import local_zone
from canh.incidents.desk import IncidentDesk
from canh.incidents.pdf import render_pdf, strip_diacritics
from canh.incidents.register import System
from canh.incidents.reports import (
    incident_doc,
    incident_report,
    register_doc,
    register_report,
    to_markdown,
)
from canh.store.base import Store
from tests.incidents.fixtures import alert, sample_register


def _incident(store: Store, clock: ManualClock, host: str = "bastion-01", level: str = "high"):  # type: ignore[no-untyped-def]
    desk = IncidentDesk(store, clock, IncidentsConfig(), actor="lan", systems=sample_register())
    a = alert(
        "ssh-brute", host, "2026-11-22T00:40:00Z", level=level, src="185.220.101.47", tags=["attack.t1110"]
    )
    store.write("alerts", [a])
    [iid] = desk.group_alerts([a])
    return desk, desk.get(iid)[0]


def test_initial_report_of_a_serious_incident_on_a_level4_system_has_24h_and_72h_deadlines(
    sqlite_store: Store, clock: ManualClock
) -> None:
    desk, inc = _incident(sqlite_store, clock)
    assert inc.systems == ["HT-KHCN-01"] and inc.priority == "P1"  # level-4 data centre (ND331 in the sample)
    data = incident_report(inc, desk.systems, IncidentsConfig(), clock.now(), "initial")
    assert data["serious"] and data["regime"] == "ND331"
    assert data["deadlines"]["initial"] == "2026-11-23T00:40:00+00:00"
    assert data["deadlines"]["detail"] == "2026-11-25T00:40:00+00:00"
    assert data["owner_agency"] == "Sở Khoa học và Công nghệ"
    assert data["systems"] == [{"code": "HT-KHCN-01", "name": "Trung tâm dữ liệu tỉnh", "level": 4}]
    assert data["attacker_ips"] == ["185.220.101.47"] and data["category"]["key"] == "intrusion"
    for key in (
        "reporter",
        "contact",
        "operator_unit",
        "security_provider",
        "isp",
        "description",
        "handled",
        "detection_method",
        "notified",
        "os",
        "services",
        "measures",
        "public_ips",
        "domains",
        "attachments",
        "confidential",
        "recommendations",
        "report_time",
        "signature",
    ):
        assert key in data, key
    md = to_markdown(incident_doc(data, "vi"))
    assert "Báo cáo ban đầu sự cố" in md and "Hạn báo cáo ban đầu" in md and "2026-11-23 00:40 (UTC)" in md
    # In the SOC's own zone, and in Vietnamese through and through (no English codes in the form).
    md = to_markdown(incident_doc(data, "vi", local_zone("Asia/Ho_Chi_Minh")))
    assert "2026-11-23 07:40 (+07)" in md and "UTC" not in md
    for english in ("alerts", "hosts:", "IDS / log review", "firewall"):
        assert english not in md, english
    assert "tường lửa" in md and "cảnh báo" in md


def test_normal_incident_has_5_day_deadline_and_final_report_counts_from_end(
    sqlite_store: Store, clock: ManualClock
) -> None:
    desk, inc = _incident(sqlite_store, clock, host="mail-01", level="medium")  # level 2 → normal
    assert inc.priority == "P3"
    data = incident_report(inc, desk.systems, IncidentsConfig(), clock.now(), "initial")
    assert not data["serious"] and data["deadlines"]["initial"] == "2026-11-27T00:40:00+00:00"
    clock.advance("3h")
    inc = desk.move(inc.id, "closed", reason="Đã chặn địa chỉ tấn công")
    final = incident_report(inc, desk.systems, IncidentsConfig(), clock.now(), "final")
    assert final["form"] == "BM04" and final["handling_result"] == "Đã chặn địa chỉ tấn công"
    assert final["deadlines"]["closing"] == "2026-11-27T04:00:00+00:00"
    assert "Báo cáo kết thúc ứng phó sự cố" in to_markdown(incident_doc(final, "vi"))


def test_register_report_shares_overdue_and_four_layers() -> None:
    systems = sample_register()
    data = register_report(systems, {"HT-VP-02", "HT-VP-03"}, date(2026, 11, 22))
    assert data["systems"] == 30 and data["approved"] == 21
    assert data["by_level"]["4"] == {"total": 4, "approved": 2, "share": 0.5}
    assert sum(v["total"] for v in data["by_agency"].values()) == 30 and len(data["by_agency"]) == 10
    assert data["coverage"]["monitoring"] == 2
    overdue = {r["code"] for r in data["overdue"]}
    assert "HT-VP-03" in overdue and "HT-KHCN-01" not in overdue
    md = to_markdown(register_doc(data, "vi"))
    assert "21/30 hệ thống" in md and "Lực lượng tại chỗ" in md


def _doc_text(doc: object) -> str:
    """Every string a report document will draw (title, headings, paragraphs, table cells)."""
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list | tuple):
            for v in node:
                walk(v)
        elif hasattr(node, "__dict__"):
            walk(vars(node))

    walk(doc)
    return "".join(out)


@pytest.mark.skipif(
    not shutil.which("pdftoppm") or not shutil.which("pdftotext") or not shutil.which("pdffonts"),
    reason="poppler-utils missing",
)
@pytest.mark.parametrize("which", ["initial", "final", "register", "shift"])
def test_pdf_page_renders_vietnamese(
    which: str, sqlite_store: Store, clock: ManualClock, tmp_path: Path
) -> None:
    from fontTools.ttLib import TTFont

    from canh.incidents.pdf import find_font
    from canh.incidents.shift import shift_doc, shift_summary

    if which in ("initial", "final"):
        desk, inc = _incident(sqlite_store, clock)
        doc = incident_doc(incident_report(inc, desk.systems, IncidentsConfig(), clock.now(), which), "vi")
        expected = (
            [
                "Báo cáo ban đầu sự cố",
                "Thời điểm phát hiện",
                "Trung tâm dữ liệu tỉnh",
                "Sở Khoa học và Công nghệ",
            ]
            if which == "initial"
            else ["Báo cáo kết thúc ứng phó sự cố", "Thời gian báo cáo", "Diễn biến"]
        )
    elif which == "register":
        doc = register_doc(register_report(sample_register(), set(), date(2026, 11, 22)), "vi")
        expected = ["Báo cáo tuân thủ bảo đảm an toàn", "Hồ sơ được phê duyệt theo cấp độ", "Số hệ thống"]
    else:
        desk, inc = _incident(sqlite_store, clock)
        doc = shift_doc(shift_summary(sqlite_store, [inc], clock.now(), 8), "vi")
        expected = ["Bàn giao ca trực"]
    pdf, warning = render_pdf(doc, "vi")
    assert warning is None
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    # 1. The font drawn with has a glyph for every character of the report (no boxes, no gaps).
    font = find_font()
    assert font is not None
    cmap = TTFont(str(font)).getBestCmap()
    missing = sorted({c for c in _doc_text(doc) if not c.isspace() and ord(c) not in cmap})
    assert not missing, f"no glyph in {font.name} for {missing}"
    # 2. That font is embedded in the file (a viewer without it shows the same page).
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    embedded = [line for line in fonts.splitlines()[2:] if line.split()]
    assert embedded and all(" yes " in f" {line} " for line in embedded), fonts
    # 3. The text layer reads back as the Vietnamese that was written.
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = " ".join(text.split())
    for phrase in expected:
        assert phrase in flat, phrase
    # 4. The rendered page carries ink (text was drawn, not a blank page).
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(path), str(tmp_path / "p")], check=True
    )
    [png] = tmp_path.glob("p*.png")
    img = Image.open(png).convert("L")
    dark = sum(img.histogram()[:128])
    assert dark > 0.005 * img.width * img.height


def test_pdf_without_a_vietnamese_font_says_so_and_strips_marks(tmp_path: Path) -> None:
    from canh.incidents import pdf as pdfmod
    from canh.incidents.reports import Doc

    doc = Doc("Báo cáo sự cố")
    doc.p("Đơn vị vận hành")
    old, packaged = pdfmod.FONT_CANDIDATES, pdfmod.packaged_font
    pdfmod.FONT_CANDIDATES = ()
    pdfmod.packaged_font = lambda: None  # type: ignore[assignment]
    try:
        data, warning = render_pdf(doc, "vi")
    finally:
        pdfmod.FONT_CANDIDATES, pdfmod.packaged_font = old, packaged
    assert warning and "CANH_PDF_FONT" in warning
    assert data.startswith(b"%PDF")
    assert strip_diacritics("Đơn vị vận hành") == "Don vi van hanh"


def test_unknown_system_levels_fall_back_to_no_level() -> None:
    s = System(code="X", name_vi="Hệ thống")
    assert register_report([s], set(), date(2026, 11, 22))["by_level"]["0"]["total"] == 1


def test_shift_counts_alerts_raised_in_it_and_long_silent_hosts(
    sqlite_store: Store, clock: ManualClock
) -> None:
    from canh.events import new_event
    from canh.incidents.shift import shift_summary

    now = clock.now()  # 2026-11-22 01:00 UTC; the shift is the 8 hours before
    backfilled = alert("ssh-brute", "bastion-01", "2026-11-15T03:00:00.000Z")  # last week's logs...
    backfilled["event"]["ingested"] = "2026-11-21T22:00:00.000Z"  # ...raised during this shift
    earlier = alert("web-scan", "portal-01", "2026-11-21T10:00:00.000Z")  # raised in the shift before
    sqlite_store.write("alerts", [backfilled, earlier])
    quiet = new_event(timestamp="2026-11-19T08:00:00.000Z", dataset="syslog", module="syslog", source="/x",
                      position=1, host="sensor-02")  # fmt: skip
    live = new_event(timestamp="2026-11-22T00:59:00.000Z", dataset="syslog", module="syslog", source="/y",
                     position=1, host="bastion-01")  # fmt: skip
    sqlite_store.write("events", [quiet, live])
    data = shift_summary(sqlite_store, [], now, 8)
    assert data["alerts"] == 1 and data["alerts_by_rule"] == [{"rule": "Rule ssh-brute", "count": 1}]
    gaps = {g["host"]: g["silent_for_minutes"] for g in data["collector_gaps"]}
    assert gaps == {"sensor-02": (now - datetime(2026, 11, 19, 8, tzinfo=UTC)).total_seconds() // 60}
