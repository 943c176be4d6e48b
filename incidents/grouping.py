"""Which open incident an alert belongs to: same rule and host within a window, same correlation
group, or the same attacker IP (across systems)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from canh.events import get, parse_ts
from canh.incidents.model import Incident

CORRELATION_FIELDS = ("canh.correlation.group", "correlation.group", "rule.correlation.group", "group.id")


def alert_time(alert: Mapping[str, Any]) -> datetime:
    return parse_ts(alert.get("@timestamp") or get(alert, "event.ingested"))


def alert_level(alert: Mapping[str, Any]) -> str:
    return str(
        get(alert, "rule.level") or get(alert, "event.severity_label") or get(alert, "event.severity") or ""
    )


def attacker_ip(alert: Mapping[str, Any]) -> str | None:
    """source.ip when it is a public address (internal sources are hosts of ours, not attackers)."""
    ip = get(alert, "source.ip")
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(str(ip))
    except ValueError:
        return None
    return str(addr) if addr.is_global else None


def group_keys(alert: Mapping[str, Any]) -> list[str]:
    """The keys an alert is grouped by (an incident keeps the union of its alerts' keys)."""
    keys = []
    rule = get(alert, "rule.id")
    host = get(alert, "host.name")
    if rule and host:
        keys.append(f"rh:{rule}|{str(host).lower()}")
    for f in CORRELATION_FIELDS:
        g = get(alert, f)
        if g:
            keys.append(f"cg:{g}")
            break
    ip = attacker_ip(alert)
    if ip:
        keys.append(f"ip:{ip}")
    return keys


class GroupIndex:
    """Open incidents by group key, so finding an alert's incident does not scan every incident."""

    def __init__(self, incidents: Iterable[Incident] = ()) -> None:
        self.by_key: dict[str, list[Incident]] = {}
        for inc in incidents:
            self.add(inc)

    def add(self, inc: Incident, keys: Iterable[str] | None = None) -> None:
        """Register (more) keys of an incident; call after an alert joined it."""
        if not inc.is_open:
            return
        for k in inc.groups if keys is None else keys:
            bucket = self.by_key.setdefault(k, [])
            if not any(x is inc for x in bucket):  # identity: pydantic equality compares every field
                bucket.append(inc)
                bucket.sort(key=lambda i: i.created_at)

    def find(self, alert: Mapping[str, Any], window: timedelta) -> Incident | None:
        """The open incident the alert joins: correlation group first, then rule+host, then attacker IP.

        Rule+host and attacker-IP joins only happen while the incident's last alert is within ``window``
        of this one; a correlation group joins whenever the incident is open.
        """
        keys = group_keys(alert)
        when = alert_time(alert)
        for prefix in ("cg:", "rh:", "ip:"):
            for key in (k for k in keys if k.startswith(prefix)):
                for inc in self.by_key.get(key, ()):
                    if not inc.is_open:
                        continue
                    last = inc.last_alert_at or inc.created_at
                    if prefix == "cg:" or abs(when - last) <= window:
                        return inc
        return None


def find_incident(
    alert: Mapping[str, Any], open_incidents: Iterable[Incident], window: timedelta
) -> Incident | None:
    """The open incident the alert joins (see GroupIndex.find)."""
    return GroupIndex(open_incidents).find(alert, window)
