"""Register fields of regulation.md: information classes, personal data, hosting, public IPs, domains,
services, OS, security regulation, plan, risk assessment, trust labels; CSV/YAML and form BM03."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.i18n import set_language
from canh.incidents.register import System, TrustLabel
from canh.incidents.register_io import COLUMNS, read_csv, read_yaml, write_csv, write_yaml
from canh.incidents.reports import incident_doc, incident_report, to_markdown
from canh.store.base import Store
from tests.incidents.fixtures import alert, sample_register

VI_SHEET = (
    "Mã hệ thống;Tên hệ thống;Cấp độ đề xuất;Phân loại thông tin;Độ mật;"
    "Số chủ thể dữ liệu cá nhân cơ bản;Số chủ thể dữ liệu cá nhân nhạy cảm;Danh mục an ninh quốc gia;"
    "Hình thức triển khai;Địa chỉ IP công khai;Tên miền;Dịch vụ;Hệ điều hành;Số quy chế;"
    "Ngày ban hành quy chế;Tình trạng phương án;Hạn hoàn thành phương án;Đánh giá rủi ro gần nhất;"
    "urls;Nhãn tín nhiệm mạng\n"
    "HT-SYT-31;Hệ thống khám chữa bệnh từ xa;3;Công khai, Bí mật nhà nước;Mật;120.000;15 000;không;"
    "đám mây;203.0.113.40;khambenh.example.gov.vn;web, Cơ sở dữ liệu;Ubuntu Server 24.04;"
    "12/QC-SYT;02/01/2026;một phần;30/06/2027;2026-05-04;https://khambenh.example.gov.vn;"
    "website|khambenh.example.gov.vn|valid|2027-12-31\n"
)


def test_new_fields_validate_against_the_regulation_vocabularies() -> None:
    ok = System(
        code="HT-A",
        name_vi="A",
        info_classes=["private", "state_secret"],
        secret_grade="toi_mat",
        hosting="data_centre",
        services=["web", "mail"],
        public_ips=["203.0.113.7", "198.51.100.0/28"],
        domains=["a.example.gov.vn"],
        assets={"urls": ["https://a.example.gov.vn/login"]},
        trust_labels=[{"asset": "https://a.example.gov.vn", "expires": "2026-06-30"}],
    )
    assert ok.trust_labels[0].state(date(2026, 7, 1)) == "expired"
    assert ok.trust_labels[0].state(date(2026, 6, 30)) == "valid"
    bad = [
        ({"secret_grade": "mat"}, "secret_grade"),  # a grade without the state-secret class
        ({"info_classes": ["classified"]}, "info_classes"),
        ({"hosting": "moon"}, "hosting"),
        ({"services": ["ftp"]}, "services"),
        ({"public_ips": ["300.1.1.1"]}, "public_ips"),
        ({"domains": ["https://a.example.gov.vn"]}, "domains"),
        ({"domains": ["a.vn/path"]}, "domains"),
        ({"personal_data": {"basic": -1}}, "personal_data"),
        ({"plan": {"status": "done"}}, "plan"),
        ({"trust_labels": [{"asset": "elsewhere.example.vn"}]}, "trust_labels"),  # not one of its sites
        ({"trust_labels": [{"asset": "a.vn", "kind": "website", "status": "granted"}]}, "trust_labels"),
    ]
    for fields, where in bad:
        with pytest.raises(ValidationError) as e:
            System.model_validate({"code": "HT-A", "name_vi": "A", "domains": ["a.vn"], **fields})
        assert e.value.errors()[0]["loc"][0] == where, fields
    # A label of the organisation (not a website) need not name one of the system's sites.
    assert TrustLabel(kind="organisation", asset="Sở Y tế").state(date(2030, 1, 1)) == "valid"


def test_vietnamese_headers_and_values_read_into_the_new_fields_and_round_trip() -> None:
    result = read_csv(VI_SHEET, "syt.csv")
    assert not result.errors
    [s] = result.systems
    assert s.info_classes == ["public", "state_secret"] and s.secret_grade == "mat"
    assert (s.personal_data.basic, s.personal_data.sensitive) == (120_000, 15_000)
    assert s.hosting == "cloud" and s.services == ["web", "database"] and s.os == ["Ubuntu Server 24.04"]
    assert s.public_ips == ["203.0.113.40"] and s.domains == ["khambenh.example.gov.vn"]
    assert s.security_regulation.number == "12/QC-SYT" and s.security_regulation.date == date(2026, 1, 2)
    assert s.plan.status == "partial" and s.plan.eta == date(2027, 6, 30)
    assert s.last_risk_assessment == date(2026, 5, 4) and not s.national_security
    assert s.trust_labels[0].asset == "khambenh.example.gov.vn" and s.trust_labels[0].expires == date(
        2027, 12, 31
    )
    again = read_csv(write_csv([s]))
    assert not again.errors and again.systems[0].doc() == s.doc()
    assert read_yaml(write_yaml([s])).systems[0].doc() == s.doc()
    header = write_csv([s]).lstrip("\ufeff").splitlines()[0].split(",")
    for col in ("info_classes", "secret_grade", "personal_basic", "personal_sensitive", "national_security",
                "hosting", "public_ips", "domains", "services", "os", "regulation_number", "regulation_date",
                "plan_status", "plan_eta", "last_risk_assessment", "trust_labels"):  # fmt: skip
        assert col in header and col in COLUMNS


def test_bad_new_cells_name_row_and_column_in_the_users_language() -> None:
    set_language("vi")
    try:
        text = "code,name_vi,hosting,onsite_team,personal_basic,services,trust_labels,plan_eta\n"
        text += "HT-1,Một,đám mây,có,10,web,,\n"  # row 2: good
        text += "HT-2,Hai,sao hỏa,,,,,\n"  # row 3: unknown hosting
        text += "HT-3,Ba,,chắc chắn,,,,\n"  # row 4: not a yes/no
        text += "HT-4,Bốn,,,mười,,,\n"  # row 5: not a number
        text += "HT-5,Năm,,,,ftp,,\n"  # row 6: unknown service
        text += "HT-6,Sáu,,,,,website|a|b|c|d,\n"  # row 7: a trust label with too many parts
        text += "HT-7,Bảy,,,,,,31/02/2027\n"  # row 8: no such day
        result = read_csv(text, "ht.csv")
        msgs = [e.render() for e in result.errors]
    finally:
        set_language(None)
    assert [s.code for s in result.systems] == ["HT-1"]
    assert msgs == [
        "ht.csv: row 3: cột hosting: sao hỏa không thuộc danh sách: on_prem, data_centre, cloud",
        "ht.csv: row 4: cột onsite_team: không phải có/không: chắc chắn",
        "ht.csv: row 5: cột personal_basic: không phải số: mười",
        "ht.csv: row 6: cột services: ftp không thuộc danh sách: web, mail, database, dns, file, remote_access, other",
        "ht.csv: row 7: cột trust_labels: nhãn tín nhiệm có dạng LOẠI|TÀI_SẢN|TÌNH_TRẠNG|HẠN (loại, tình trạng, hạn có thể bỏ trống): website|a|b|c|d",
        "ht.csv: row 8: cột plan_eta: không phải ngày (YYYY-MM-DD hoặc DD/MM/YYYY): 31/02/2027",
    ]


def test_pydantic_messages_are_not_shown_raw() -> None:
    set_language("vi")
    try:
        csv_errors = [e.render() for e in read_csv("code,name_vi,proposed_level,system_type,cidrs\n"
                                                    "HT 1,Một,,,\nHT-2,Hai,7,,\nHT-3,Ba,,web,\nHT-4,Bốn,,,10.0.0.0/33\n",
                                                    "x.csv").errors]  # fmt: skip
        yaml_errors = [e.render() for e in read_yaml("systems:\n- code: HT-9\n- code: HT-8\n  name_vi: T\n  colour: red\n",
                                                     "x.yml").errors]  # fmt: skip
    finally:
        set_language(None)
    joined = "\n".join(csv_errors + yaml_errors)
    for raw in ("Value error", "Input should", "Field required", "Extra inputs", "does not appear"):
        assert raw not in joined, joined
    assert "x.csv: row 2: cột code: mã hệ thống phải là một từ, không có khoảng trắng" in csv_errors
    assert any("row 3: cột proposed_level" in m for m in csv_errors)
    assert any("row 4: cột system_type" in m and "internal" in m for m in csv_errors)
    assert "x.csv: row 5: cột cidrs: không phải dải địa chỉ IP: 10.0.0.0/33" in csv_errors
    assert yaml_errors == [
        "x.yml: system 1: trường name_vi: trường này bắt buộc",
        "x.yml: system 2: trường colour: trường không nhận ra",
    ]


def test_sample_register_carries_the_new_fields() -> None:
    by_code = {s.code: s for s in sample_register()}
    dc = by_code["HT-KHCN-01"]
    assert dc.os == ["FortiOS 7.2", "Ubuntu Server 22.04"] and dc.public_ips == ["203.0.113.1"]
    assert by_code["HT-VP-04"].secret_grade == "mat" and "state_secret" in by_code["HT-VP-04"].info_classes
    assert by_code["HT-YT-12"].personal_data.sensitive == 1_200_000
    assert by_code["HT-VP-03"].trust_labels[0].state(date(2026, 11, 22)) == "expired"
    assert all(s.hosting for s in by_code.values()) and all(s.services for s in by_code.values())


def test_initial_report_takes_os_services_public_ips_and_domains_from_the_register(
    sqlite_store: Store, clock: ManualClock
) -> None:
    from canh.incidents.desk import IncidentDesk

    desk = IncidentDesk(sqlite_store, clock, IncidentsConfig(), actor="lan", systems=sample_register())
    a = alert("web-shell", "portal-01", "2026-11-22T00:40:00Z", level="high", src="45.95.147.236")
    [iid] = desk.group_alerts([a])
    inc = desk.get(iid)[0]
    assert inc.systems == ["HT-VP-02"]
    data = incident_report(inc, desk.systems, IncidentsConfig(), clock.now(), "initial")
    assert data["services"] == ["web"] and data["os"] == ["Red Hat Enterprise Linux 8.9"]
    assert data["public_ips"] == ["203.0.113.2"]
    assert data["domains"] == ["congthongtin.example.gov.vn"]  # a domain, never the URL
    assert data["purpose"][0]["type"] == "services"
    md = to_markdown(incident_doc(data, "vi"))
    assert "| **Dịch vụ** | Dịch vụ web |" in md
    assert "| **Địa chỉ IP công khai** | 203.0.113.2 |" in md
    assert "| **Tên miền** | congthongtin.example.gov.vn |" in md
    assert "| **Hệ điều hành, phiên bản** | Red Hat Enterprise Linux 8.9 |" in md
    assert "https://" not in md.split("Tên miền")[1].split("\n")[0]
    # A system whose register entry declares no domain: its URL's host name, not the URL.
    s = System(code="X", name_vi="X", assets={"urls": ["https://x.example.vn/a/b"]}, services=["mail"])
    inc.systems = ["X"]
    d2 = incident_report(inc, {"X": s}, IncidentsConfig(), clock.now(), "initial")
    assert d2["domains"] == ["x.example.vn"] and d2["services"] == ["mail"] and d2["os"] == []
