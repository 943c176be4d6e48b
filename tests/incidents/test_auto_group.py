"""`canh ingest` turns the alerts it raises into incidents straight away (the analysts' queue fills
itself), linked to the register's systems; `incidents.auto_group: false` leaves that to a person."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE = Path(str(resources.files("canh.data") / "register" / "he-thong-thong-tin.csv"))
# A brute force on the bastion (a data-centre asset, level 4) and the login that follows it.
LOG = (
    "".join(
        f"Nov 21 10:00:{s:02d} bastion-01 sshd[1{s:03d}]: Failed password for root from 185.220.101.47 port 4{s:04d} ssh2\n"
        for s in range(12)
    )
    + "Nov 21 10:01:00 bastion-01 sshd[2000]: Accepted password for deploy from 185.220.101.47 port 50000 ssh2\n"
)


def test_ingest_groups_its_alerts_into_incidents_on_register_systems(canh, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    canh("systems", "import", str(SAMPLE), check=True)
    log = tmp_path / "auth.log"
    log.write_text(LOG, encoding="utf-8")
    [report] = canh.json("ingest", str(log))
    assert report["written"] == 13 and report["alerts"] >= 2 and report["grouped"] == report["alerts"]
    incidents = canh.json("incidents", "list")
    assert incidents and all(i["systems"] == ["HT-KHCN-01"] for i in incidents)
    assert all(i["priority"] == "P1" and i["sla"]["acknowledge"]["due"] for i in incidents)
    alerts = canh.json("alerts", "list", "--since", "3650d")
    assert {a["canh"]["incident"]["id"] for a in alerts} <= {i["id"] for i in incidents}
    # Read again: nothing new, so no new incident either.
    [again] = canh.json("ingest", str(log))
    assert again["written"] == 0 and len(canh.json("incidents", "list")) == len(incidents)


def test_auto_group_off_leaves_alerts_for_the_analyst(canh, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (home / "canh.yml").write_text("incidents:\n  auto_group: false\n", encoding="utf-8")
    log = tmp_path / "auth.log"
    log.write_text(LOG, encoding="utf-8")
    [report] = canh.json("ingest", str(log))
    assert report["alerts"] >= 2 and report["grouped"] == 0
    assert canh.json("incidents", "list") == []
    assert canh.json("incidents", "group")  # the manual path still does it
