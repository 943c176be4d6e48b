"""National warnings (CSV, JSON, STIX 2.1) become incidents with their indicators as observables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canh.clock import ManualClock
from canh.config import IncidentsConfig
from canh.errors import InputError
from canh.incidents.desk import IncidentDesk
from canh.incidents.warnings import import_warning, read_warning
from canh.store.base import Store
from tests.incidents.fixtures import sample_register

STIX = {
    "type": "bundle",
    "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
    "objects": [
        {
            "type": "report",
            "spec_version": "2.1",
            "id": "report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3",
            "name": "Chiến dịch tấn công dò mật khẩu SSH vào hệ thống cơ quan nhà nước",
            "description": "NCSC phát hiện máy chủ điều khiển",
            "published": "2026-11-21T02:00:00Z",
            "object_refs": [],
        },
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--a1",
            "name": "Máy chủ dò mật khẩu",
            "pattern": "[ipv4-addr:value = '185.220.101.47'] OR [ipv4-addr:value = '185.220.101.48']",
            "pattern_type": "stix",
            "valid_from": "2026-11-21T00:00:00Z",
        },
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--a2",
            "pattern": "[file:hashes.'SHA-256' = 'aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233']",
            "pattern_type": "stix",
            "valid_from": "2026-11-21T00:00:00Z",
        },
        {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--x", "value": "c2.example-bad.net"},
        {
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": "attack-pattern--b",
            "name": "Brute Force",
            "external_references": [{"source_name": "mitre-attack", "external_id": "T1110"}],
        },
    ],
}


@pytest.fixture
def desk(sqlite_store: Store, clock: ManualClock) -> IncidentDesk:
    return IncidentDesk(sqlite_store, clock, IncidentsConfig(), actor="lan", systems=sample_register())


def test_stix_bundle_becomes_an_incident_with_observables_and_sightings(
    desk: IncidentDesk, tmp_path: Path
) -> None:
    desk.store.write(
        "events",
        [
            {
                "@timestamp": "2026-11-21T03:00:00Z",
                "event": {"id": "e1"},
                "source": {"ip": "185.220.101.47"},
                "host": {"name": "bastion-01"},
            }
        ],
    )
    path = tmp_path / "canh-bao.json"
    path.write_text(json.dumps(STIX, ensure_ascii=False), encoding="utf-8")
    inc = import_warning(desk, read_warning(path))
    assert inc.source == "national-warning" and inc.title.startswith("[NCSC] Chiến dịch")
    values = {(o.type, o.value) for o in inc.observables}
    assert values == {
        ("ip", "185.220.101.47"),
        ("ip", "185.220.101.48"),
        ("domain", "c2.example-bad.net"),
        ("hash", "aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233"),
    }
    seen = next(o for o in inc.observables if o.value == "185.220.101.47").seen_in
    assert "events:1" in seen
    assert inc.techniques == ["T1110"] and inc.detected_at.isoformat() == "2026-11-21T02:00:00+00:00"
    with pytest.raises(InputError) as e:
        import_warning(desk, read_warning(path))
    assert "already imported" in str(e.value)


def test_csv_and_json_warnings(desk: IncidentDesk, tmp_path: Path) -> None:
    c = tmp_path / "NCSC-2026-114.csv"
    c.write_text(
        "type,value,description\nipv4,45.95.147.236,Máy quét\nurl,http://x.example/a.php,web shell\n",
        encoding="utf-8",
    )
    inc = import_warning(desk, read_warning(c))
    assert {(o.type, o.value) for o in inc.observables} == {
        ("ip", "45.95.147.236"),
        ("url", "http://x.example/a.php"),
    }
    j = tmp_path / "w.json"
    j.write_text(
        json.dumps(
            {
                "reference": "CB-7",
                "title": "Mã độc",
                "severity": "critical",
                "indicators": [{"type": "sha256", "value": "ab" * 32}],
            }
        ),
        encoding="utf-8",
    )
    inc = import_warning(desk, read_warning(j))
    assert inc.alert_level == "critical" and inc.observables[0].type == "hash"
    bad = tmp_path / "bad.json"
    bad.write_text('{"indicators": [{"type": "ip"}]}', encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_warning(bad)
    assert "bad.json: indicators[1]" in str(e.value)


def test_a_warning_is_linked_to_the_systems_and_open_incidents_that_already_saw_its_indicators(
    desk: IncidentDesk, tmp_path: Path
) -> None:
    from tests.incidents.fixtures import alert

    # The attacker is already known: an open incident on the data centre's bastion...
    a = alert("ssh-brute", "bastion-01", "2026-11-21T23:00:00Z", src="185.220.101.47", tags=["attack.t1110"])
    desk.store.write("alerts", [a])
    [open_id] = desk.group_alerts([a])
    # ...a closed one from last month on the mail server (not linked: it is handled)...
    old = alert("ssh-brute", "mail-01", "2026-11-20T01:00:00Z", src="185.220.101.48")
    desk.store.write("alerts", [old])
    [closed_id] = desk.group_alerts([old])
    desk.move(closed_id, "closed", reason="Đã chặn")
    # ...and the firewall saw it probing the provincial portal (HT-VP-02, level 3).
    desk.store.write(
        "events",
        [
            {"@timestamp": "2026-11-21T22:00:00Z", "event": {"id": "fw1", "dataset": "fortinet.firewall"},
             "host": {"name": "fw-01"}, "source": {"ip": "185.220.101.47"}, "destination": {"ip": "10.20.0.10"}},
            {"@timestamp": "2026-11-21T22:05:00Z", "event": {"id": "u1"}, "host": {"name": "mail-01"},
             "url": {"domain": "c2.example-bad.net"}},
        ],
    )  # fmt: skip
    desk.store.refresh()
    path = tmp_path / "canh-bao.json"
    path.write_text(json.dumps(STIX, ensure_ascii=False), encoding="utf-8")
    inc = import_warning(desk, read_warning(path))
    # Systems whose events or alerts name an indicator (mail-01: the old alert and the domain lookup).
    assert inc.systems == ["HT-KHCN-01", "HT-VP-02", "HT-VP-05"]
    assert inc.max_level == 4 and inc.priority == "P1"  # high warning on a level-4 system
    assert inc.related == [open_id]
    seen = next(o for o in inc.observables if o.value == "185.220.101.47").seen_in
    assert "events:1" in seen and "alerts:1" in seen
    domain = next(o for o in inc.observables if o.value == "c2.example-bad.net").seen_in
    assert "events:1" in domain
    mine = next(e for e in inc.timeline if e.action == "related")
    assert mine.detail == {"incident": open_id, "indicator": "185.220.101.47"}
    other = desk.get(open_id)[0]
    assert other.related == [inc.id]
    theirs = other.timeline[-1]
    assert theirs.action == "related" and theirs.detail["incident"] == inc.id
    assert theirs.detail["warning"] == STIX["objects"][0]["id"]  # type: ignore[index]
    assert desk.get(closed_id)[0].related == []


def test_a_warning_nobody_has_seen_stays_unlinked(desk: IncidentDesk, tmp_path: Path) -> None:
    w = tmp_path / "NCSC-2026-200.csv"
    w.write_text("type,value\nipv4,203.0.113.250\ndomain,nowhere.example\n", encoding="utf-8")
    inc = import_warning(desk, read_warning(w))
    assert inc.systems == [] and inc.related == [] and inc.priority == "P3"
