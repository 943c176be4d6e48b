"""The ONE table routing events to Sigma log sources (product / category / service).

An event is described by the sets of products, categories and services it belongs to; a rule's log
source fits when each of its non-empty parts is in the matching set. Windows channels come from
pySigma's own service -> channel table, and Sysmon / PowerShell event ids give the categories the
way pySigma's Sysmon pipeline assigns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.pipelines.common import windows_logsource_mapping

# Windows channel (lower case) -> Sigma service
WINDOWS_CHANNELS: dict[str, str] = {}
for _service, _channels in windows_logsource_mapping.items():
    for _ch in [_channels] if isinstance(_channels, str) else _channels:
        WINDOWS_CHANNELS[_ch.lower()] = _service

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"

# Sysmon event id -> Sigma categories (as pySigma's sysmon pipeline maps them)
SYSMON_CATEGORIES: dict[int, tuple[str, ...]] = {
    1: ("process_creation",),
    2: ("file_change",),
    3: ("network_connection",),
    4: ("sysmon_status",),
    5: ("process_termination",),
    6: ("driver_load",),
    7: ("image_load",),
    8: ("create_remote_thread",),
    9: ("raw_access_thread",),
    10: ("process_access",),
    11: ("file_event",),
    12: ("registry_event", "registry_add", "registry_delete"),
    13: ("registry_event", "registry_set"),
    14: ("registry_event", "registry_rename"),
    15: ("create_stream_hash",),
    16: ("sysmon_status",),
    17: ("pipe_created",),
    18: ("pipe_created",),
    19: ("wmi_event",),
    20: ("wmi_event",),
    21: ("wmi_event",),
    22: ("dns_query",),
    23: ("file_delete",),
    24: ("clipboard_change",),
    25: ("process_tampering",),
    26: ("file_delete", "file_delete_detected"),
    27: ("file_block_executable",),
    28: ("file_block_shredding",),
    29: ("file_executable_detected",),
    255: ("sysmon_error",),
}

# (channel, event id) -> categories for the PowerShell logs
POWERSHELL_CATEGORIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("microsoft-windows-powershell/operational", 4103): ("ps_module",),
    ("microsoft-windows-powershell/operational", 4104): ("ps_script",),
    ("powershellcore/operational", 4103): ("ps_module",),
    ("powershellcore/operational", 4104): ("ps_script",),
    ("windows powershell", 400): ("ps_classic_start",),
    ("windows powershell", 600): ("ps_classic_provider_start",),
    ("windows powershell", 800): ("ps_classic_script",),
}

# event.dataset -> (products, categories, services)
#
# A packet-captured HTTP request is what the web server it went to logs (and what a proxy on the way
# would): web rules (category webserver) and proxy rules both see it, with the same ECS fields as
# access logs (url.original/path/query, http.request.method, http.response.status_code,
# user_agent.original). Flows and connection records (captured flows, Zeek conn, Suricata flow) are
# what a firewall logs of a connection, and what Canh's own flow rules count: category firewall and
# product network / service flow. DNS from Zeek or Suricata is category dns like captured DNS.
_FLOW = (("network",), ("firewall", "network_connection"), ("flow",))
_HTTP = (("network",), ("proxy", "webserver"), ("http",))
DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "system.auth": (("linux",), (), ("auth",)),
    "syslog": (("linux",), (), ("syslog",)),
    "nginx.access": (("nginx",), ("webserver",), ()),
    "apache.access": (("apache",), ("webserver",), ()),
    "nginx.error": (("nginx",), (), ("error",)),
    "apache.error": (("apache",), (), ("error",)),
    "iptables.log": (("iptables",), ("firewall",), ()),
    "fortinet.firewall": (("fortinet",), ("firewall",), ()),
    "network.dns": (("network",), ("dns",), ("dns",)),
    "network.http": _HTTP,
    "network.flow": _FLOW,
    "network.icmp": (("network",), (), ("icmp",)),
    "network.arp": (("network",), (), ("arp",)),
    "network.tls": (("network",), (), ("tls",)),
    "network.dhcp": (("network",), (), ("dhcp",)),
    "zeek.conn": _FLOW,
    "zeek.dns": ((), ("dns",), ("dns",)),
    "zeek.http": _HTTP,
    "suricata.eve": ((), (), ()),
}

# Suricata writes every kind of record to one eve.json: its event_type routes it.
SURICATA_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "flow": _FLOW,
    "netflow": _FLOW,
    "dns": ((), ("dns",), ("dns",)),
    "http": _HTTP,
}

# process.name on auth.log lines -> extra service (OpenSSH 9.8+ logs logins as sshd-session)
AUTH_PROGRAMS = {
    "sshd": "sshd",
    "sshd-session": "sshd",
    "sudo": "sudo",
    "su": "su",
    "cron": "cron",
    "crond": "cron",
}


@dataclass(frozen=True)
class EventSource:
    """The log sources one event belongs to."""

    products: frozenset[str]
    categories: frozenset[str]
    services: frozenset[str]

    def fits(self, product: str | None, category: str | None, service: str | None) -> bool:
        """Whether a rule with this log source should see the event."""
        return (
            (product is None or product.lower() in self.products)
            and (category is None or category.lower() in self.categories)
            and (service is None or service.lower() in self.services)
        )


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def route_key(doc: Any) -> tuple[Any, ...]:
    """The fields that decide routing: events sharing it share their log sources (a cache key).
    ``doc`` is anything with ``get(dotted_name)`` (a Doc, or a flat dict)."""
    get = doc.get
    ds = get("event.dataset")
    return (
        ds,
        get("event.module"),
        get("winlog.channel"),
        get("winlog.event_id") or get("event.code"),
        get("process.name")
        if ds == "system.auth"
        else get("suricata.eve.event_type")
        if ds == "suricata.eve"
        else None,
    )


def _leaf(node: Any, key: str) -> Any:
    value = node.get(key) if type(node) is dict else None
    return None if type(value) is dict and value else value


def nested_route_key(event: dict[str, Any]) -> tuple[Any, ...]:
    """:func:`route_key` of a nested event read in place (the same tuple, fewer steps)."""
    # _leaf inlined for event and winlog: this runs once per event
    ev = event.get("event")
    if type(ev) is dict:
        ds, module, code = ev.get("dataset"), ev.get("module"), ev.get("code")
        if type(ds) is dict and ds:
            ds = None
        if type(module) is dict and module:
            module = None
        if type(code) is dict and code:
            code = None
    else:
        ds = module = code = None
    winlog = event.get("winlog")
    if type(winlog) is dict:
        channel, event_id = winlog.get("channel"), winlog.get("event_id")
        if type(channel) is dict and channel:
            channel = None
        if type(event_id) is dict and event_id:
            event_id = None
    else:
        channel = event_id = None
    if ds == "system.auth":
        detail = _leaf(event.get("process"), "name")
    elif ds == "suricata.eve":
        sur = event.get("suricata")
        detail = _leaf(sur.get("eve") if type(sur) is dict else None, "event_type")
    else:
        detail = None
    return (ds, module, channel, event_id or code, detail)


def event_source(key: tuple[Any, ...]) -> EventSource:
    """The log sources of an event, from its :func:`route_key`."""
    dataset, module, channel, code, pname = key  # pname: auth.log's program, or Suricata's event_type
    products: set[str] = set()
    categories: set[str] = set()
    services: set[str] = set()
    ds = str(dataset or "").lower()
    if module:
        products.add(str(module).lower())
    if ds in DATASETS:
        p, c, s = DATASETS[ds]
        products.update(p)
        categories.update(c)
        services.update(s)
    if ds.startswith("zeek."):  # product zeek, service the log's name (conn, dns, http, ssl...)
        products.add("zeek")
        services.add(ds[5:])
    if ds == "system.auth" and pname:
        svc = AUTH_PROGRAMS.get(str(_first(pname)).lower())
        if svc:
            services.add(svc)
    elif ds == "suricata.eve" and pname:
        etype = str(pname).lower()
        services.add(etype)
        p, c, s = SURICATA_TYPES.get(etype, ((), (), ()))
        products.update(p)
        categories.update(c)
        services.update(s)
    if channel or ds.startswith("windows."):
        products.add("windows")
        ch = str(channel or "").lower()
        svc = WINDOWS_CHANNELS.get(ch)
        if svc:
            services.add(svc)
        try:
            eid = int(_first(code)) if code is not None else None
        except (TypeError, ValueError):
            eid = None
        if eid is not None:
            if ch == SYSMON_CHANNEL:
                categories.update(SYSMON_CATEGORIES.get(eid, ()))
            categories.update(POWERSHELL_CATEGORIES.get((ch, eid), ()))
    return EventSource(frozenset(products), frozenset(categories), frozenset(services))
