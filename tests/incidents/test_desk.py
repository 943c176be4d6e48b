"""Incident ids: readable, stable across retries, dated in the SOC's day."""

from __future__ import annotations

from datetime import UTC, datetime

from canh.events import local_zone
from canh.incidents.desk import incident_id


def test_incident_ids_carry_the_soc_day_not_the_utc_one() -> None:
    at = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)  # 05:30 on the 30th in Hà Nội
    assert incident_id("seed", at, local_zone("Asia/Ho_Chi_Minh")).startswith("INC-20261130-")
    assert incident_id("seed", at, UTC).startswith("INC-20261129-")


def test_the_same_seed_gives_the_same_id_so_a_retry_makes_no_second_incident() -> None:
    at = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)
    assert incident_id("alert-1", at) == incident_id("alert-1", at)
    assert incident_id("alert-1", at) != incident_id("alert-2", at)
