"""``canh systems inspect|update|history`` through the real executable: recorded, audited, versioned
(a stale change is refused with the fresh state); ``show`` in the user's language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from canh.clock import ManualClock
from canh.errors import ConflictError, InputError
from canh.incidents.register import Inspection
from canh.incidents.register_edit import apply_edits
from canh.incidents.systems import Register
from canh.store.base import Store
from tests.incidents.fixtures import sample_register

SAMPLE = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))


@pytest.fixture
def reg_cli(canh, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CANH_USER", "lan")
    canh("systems", "import", str(SAMPLE), check=True)
    return canh


def test_inspect_records_the_assessment_and_recomputes_the_next_due_date(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    [s] = canh.json("systems", "inspect", "HT-VP-02", "--date", "2026-11-01", "--assessor", "Công ty CP An ninh mạng Sao Khuê",
                    "--external", "--result", "Đạt, 2 khuyến nghị", "--test-class", "grey")  # fmt: skip
    assert s["next_inspection_due"] == "2027-11-01" and not s["inspection_overdue"]
    assert s["inspections"][-1] == {"date": "2026-11-01", "assessor": "Công ty CP An ninh mạng Sao Khuê",
                                    "external": True, "result": "Đạt, 2 khuyến nghị", "test_class": "grey"}  # fmt: skip
    assert s["warnings"] == [] and s["version"] == 2
    # ND85, level 3: an internal inspection is recorded, with what the regime says about it.
    proc = canh("systems", "inspect", "HT-VP-02", "--date", "2026-11-15",
                "--assessor", "Trung tâm Phục vụ hành chính công tỉnh")  # fmt: skip
    assert proc.returncode == 0 and "2027-11-15" in proc.stdout
    assert "licensed or appointed organisation" in proc.stderr  # external assessor needed
    assert "independent of the operator" in proc.stderr  # the operator assessed itself
    future = canh("systems", "inspect", "HT-VP-02", "--date", "2099-01-01", "--assessor", "X")
    assert future.returncode == 1 and "--date" in future.stderr
    bad_class = canh(
        "systems", "inspect", "HT-VP-02", "--date", "2026-11-01", "--assessor", "X", "--test-class", "red"
    )
    assert bad_class.returncode != 0


def test_update_edits_fields_lists_contacts_layers_and_refuses_what_has_its_own_command(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    [s] = canh.json(
        "systems", "update", "HT-VP-02",
        "--set", "hosting=Trung tâm dữ liệu", "--set", "plan_status=complete", "--set", "onsite_team=có",
        "--set", "national_connection=no", "--set", "personal_basic=12.000", "--set", "info_classes=public;personal",
        "--add", "hosts=portal-03", "--remove", "cidrs=10.20.0.11/32", "--add", "urls=https://tin.example.gov.vn",
        "--add", "domains=tin.example.gov.vn", "--add", "contacts=Lê Lan|Quản trị|0912 000 111|lan@example.gov.vn",
        "--add", "trust_labels=website|tin.example.gov.vn|applied", "--add", "os=Nginx 1.24",
    )  # fmt: skip
    assert s["hosting"] == "data_centre" and s["plan"]["status"] == "complete"
    assert s["coverage"]["onsite_team"] is True and s["coverage"]["national_connection"] is False
    assert s["personal_data"]["basic"] == 12000 and s["info_classes"] == ["public", "personal"]
    assert s["assets"]["hosts"] == ["portal-01", "portal-02", "portal-03"]
    assert s["assets"]["cidrs"] == ["10.20.0.10/32"]
    assert [c["name"] for c in s["contacts"]] == ["Nguyễn Văn Hùng", "Lê Lan"]
    assert s["trust_labels"][-1] == {
        "kind": "website",
        "asset": "tin.example.gov.vn",
        "status": "applied",
        "expires": None,
    }
    [s] = canh.json(
        "systems", "update", "HT-VP-02", "--remove", "contacts=Lê Lan", "--remove", "os=nginx 1.24"
    )
    assert [c["name"] for c in s["contacts"]] == ["Nguyễn Văn Hùng"] and "Nginx 1.24" not in s["os"]
    for args, says in [  # two through the executable: one line on stderr naming the option
        (["--set", "dossier_status=approved"], "canh: --set dossier_status: this field has its own command"),
        ([], "nothing to change"),
    ]:
        proc = canh("systems", "update", "HT-VP-02", *args)
        assert proc.returncode == 1 and says in proc.stderr and proc.stderr.count("\n") == 1, (
            args,
            proc.stderr,
        )


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            ("set", "dossier_status", "approved"),
            "--set dossier_status: this field has its own command: canh systems dossier",
        ),
        (
            ("set", "approved_level", "4"),
            "--set approved_level: this field has its own command: canh systems dossier",
        ),
        (("set", "colour", "red"), "--set colour: no such field (fields: name_vi, "),
        (("set", "hosting", "moon"), "--set hosting: moon is not one of on_prem, data_centre, cloud"),
        (("add", "hosting", "cloud"), "--add hosting: not a list field: use --set"),
        (("remove", "hosts", "ghost-01"), "--remove hosts: not in the list: ghost-01"),
        (("add", "cidrs", "10.0.0.0/33"), "--add cidrs: not an IP range: 10.0.0.0/33"),
        (("add", "trust_labels", "elsewhere.vn"), "--add trust_labels: a website trust label must name"),
        (("set", "contacts", "x"), "--set contacts: contacts are added and removed one by one"),
        (("set", "proposed_level", "9"), "--set proposed_level: "),
    ],
)
def test_a_bad_edit_names_its_option(edit: tuple[str, str, str], says: str) -> None:
    s = next(x for x in sample_register() if x.code == "HT-VP-02")
    with pytest.raises(InputError) as e:
        apply_edits(s, [edit], by="lan", at=datetime(2026, 11, 22, tzinfo=UTC))
    assert e.value.render("en").startswith(says), e.value.render("en")


def test_raising_the_level_of_an_approved_system_supersedes_its_dossier(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    [s] = canh.json("systems", "update", "HT-VP-02", "--set", "proposed_level=4")
    assert s["dossier"]["status"] == "superseded" and s["approved_level"] == 3 and s["level"] == 3
    refused = canh("systems", "dossier", "HT-VP-02", "submitted")
    assert refused.returncode == 1 and "expert_opinion" in refused.stderr
    canh("systems", "dossier", "HT-VP-02", "expert_opinion", check=True)
    [s] = canh.json("systems", "dossier", "HT-VP-02", "submitted")
    assert s["dossier"]["status"] == "submitted"


def test_a_stale_change_is_refused_with_the_fresh_state(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    canh(
        "systems",
        "update",
        "HT-VP-02",
        "--set",
        "notes=Đã nâng cấp máy chủ",
        "--expect-version",
        "1",
        check=True,
    )
    for cmd in (["update", "HT-VP-02", "--set", "notes=cũ"],
                ["inspect", "HT-VP-02", "--date", "2026-11-01", "--assessor", "X"],
                ["dossier", "HT-VP-02", "superseded"]):  # fmt: skip
        stale = canh("systems", *cmd, "--expect-version", "1", "--json")
        assert stale.returncode == 1, cmd
        fresh = json.loads(stale.stdout.splitlines()[0])
        assert fresh["conflict"] and fresh["version"] == 2 and fresh["notes"] == "Đã nâng cấp máy chủ"
        assert "someone else changed this system first (now version 2)" in stale.stderr
    human = canh("systems", "update", "HT-VP-02", "--set", "notes=cũ", "--expect-version", "1")
    assert "The system as it is now:" in human.stderr and "HT-VP-02 (v2)" in human.stderr
    [s] = canh.json("systems", "show", "HT-VP-02")
    assert s["version"] == 2 and s["notes"] == "Đã nâng cấp máy chủ" and len(s["inspections"]) == 1


def test_history_shows_who_changed_what_and_when(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    canh("systems", "update", "HT-VP-02", "--add", "hosts=portal-03", check=True)
    canh(
        "systems",
        "inspect",
        "HT-VP-02",
        "--date",
        "2026-11-01",
        "--assessor",
        "Sao Khuê",
        "--external",
        check=True,
    )
    trail = canh.json("systems", "history", "HT-VP-02")
    assert [e["action"] for e in trail] == ["create", "update", "inspect"]
    assert {e["user"]["name"] for e in trail} == {"lan"}
    assert trail[1]["changes"]["assets.hosts"] == [
        ["portal-01", "portal-02"],
        ["portal-01", "portal-02", "portal-03"],
    ]
    text = canh("--lang", "vi", "systems", "history", "HT-VP-02", check=True).stdout
    assert "tạo mới" in text and "ghi nhận kiểm tra" in text and "+portal-03" in text and "3 thay đổi" in text
    missing = canh("systems", "history", "HT-NOPE")
    assert missing.returncode == 1 and "no such system" in missing.stderr


def test_show_speaks_the_users_language(reg_cli) -> None:  # type: ignore[no-untyped-def]
    canh = reg_cli
    out = canh(
        "--lang", "vi", "systems", "show", "HT-KHCN-07", check=True
    ).stdout  # level 4 proposed, none approved
    flat = " ".join(out.split())
    for english in (
        "operator",
        "decision",
        "contact",
        "inspection",
        "external",
        "internal",
        "dossier step",
        "None",
    ):
        assert english not in flat.lower() if english != "None" else english not in flat, english
    assert "đề xuất 4, được phê duyệt —" in flat and "Đơn vị vận hành" in flat and "Người liên hệ" in flat
    out = canh("--lang", "vi", "systems", "show", "HT-KHCN-01", check=True).stdout
    flat = " ".join(out.split())
    assert (
        "Kiểm tra, đánh giá 2026-03-15 Công ty CP An ninh mạng Sao Khuê (độc lập bên ngoài, Hộp xám)" in flat
    )
    assert "Hệ điều hành, phiên bản FortiOS 7.2, Ubuntu Server 22.04" in flat
    en = " ".join(canh("systems", "show", "HT-KHCN-01", check=True).stdout.split())
    assert "Inspection 2026-03-15" in en and "(external, Grey box)" in en and "Dossier step" in en


def test_register_change_refuses_a_stale_version_on_every_store(store: Store) -> None:
    clock = ManualClock(datetime(2026, 11, 22, 1, 0, tzinfo=UTC))
    a, b = Register(store, clock, actor="lan"), Register(store, clock, actor="hung")
    a.upsert(sample_register()[1])
    store.refresh()
    a.inspect("HT-VP-02", Inspection(date=clock.now().date(), assessor="Sao Khuê", external=True), expect=1)
    with pytest.raises(ConflictError) as e:
        b.inspect("HT-VP-02", Inspection(date=clock.now().date(), assessor="Đoàn nội bộ"), expect=1)
    assert e.value.current.version == 2 and e.value.current.doc["inspections"][-1]["assessor"] == "Sao Khuê"
    store.refresh()
    assert [x["action"] for x in a.history("HT-VP-02")] == ["create", "inspect"]
