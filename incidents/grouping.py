"""Which open incident an alert belongs to: same rule and host within a window, same correlation
group, or the same attacker IP (across systems)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from canh.incidents.model import Incident

from canh.events import get, parse_ts

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


def find_incident(
    alert: Mapping[str, Any], open_incidents: Iterable[Incident], window: timedelta
) -> Incident | None:
    """The open incident the alert joins: correlation group first, then rule+host, then attacker IP.

    Rule+host and attacker-IP joins only happen while the incident's last alert is within ``window``
    of this one; a correlation group joins whenever the incident is open.
    """
    keys = group_keys(alert)
    when = alert_time(alert)
    candidates = [i for i in open_incidents if i.is_open]
    for prefix in ("cg:", "rh:", "ip:"):
        wanted = [k for k in keys if k.startswith(prefix)]
        if not wanted:
            continue
        for inc in sorted(candidates, key=lambda i: i.created_at):
            if not set(wanted) & set(inc.groups):
                continue
            last = inc.last_alert_at or inc.created_at
            if prefix == "cg:" or abs(when - last) <= window:
                return inc
    return None
