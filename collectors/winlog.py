"""Windows event records to ECS, laid out the way Winlogbeat does (one mapping for EVTX, NXLog, Winlogbeat).

A record is reduced to a :class:`WinRecord` (the ``<System>`` header, ``EventData`` and ``UserData``),
whatever it was read from, then :func:`to_ecs` makes the event: ``winlog.*`` with every EventData
field under its original name as a string, plus the ECS fields the Sigma ECS pipelines query
(``process.*``, ``user.*``, ``source.ip`` ...). The event id comes from the log's identity
(computer, channel) and the record number, so one record read from an ``.evtx`` export, from NXLog
JSON or from a Winlogbeat document is stored once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from canh.collectors.addresses import is_ip
from canh.events import ECS_VERSION, Event, format_ts, new_event, parse_ts, set_field

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
_DATASETS = {
    "security": "windows.security",
    "system": "windows.system",
    "microsoft-windows-powershell/operational": "windows.powershell_operational",
    "windows powershell": "windows.powershell",
    "microsoft-windows-sysmon/operational": "windows.sysmon_operational",
    "application": "windows.application",
}
_LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information", 5: "verbose"}
_LOGON_TYPES = {
    2: "Interactive", 3: "Network", 4: "Batch", 5: "Service", 7: "Unlock", 8: "NetworkCleartext",
    9: "NewCredentials", 10: "RemoteInteractive", 11: "CachedInteractive",
}  # fmt: skip
_AUDIT_SUCCESS = 0x20000000000000
_AUDIT_FAILURE = 0x10000000000000

# EventData names the Sigma ECS Windows pipeline maps to an ECS field whatever the event.
_ALWAYS: dict[str, str] = {
    "ProcessGuid": "process.entity_id",
    "Image": "process.executable",
    "CurrentDirectory": "process.working_directory",
    "ParentProcessGuid": "process.parent.entity_id",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "TargetFilename": "file.path",
    "SourceHostname": "source.domain",
    "DestinationHostname": "destination.domain",
    "DestinationPortName": "network.protocol",
    "ImageLoaded": "file.path",
    "SignatureStatus": "file.code_signature.status",
    "SourceProcessGuid": "process.entity_id",
    "SourceImage": "process.executable",
    "Device": "file.path",
    "TargetObject": "registry.path",
    "PipeName": "file.name",
    "QueryName": "dns.question.name",
    "QueryStatus": "sysmon.dns.status",
    "IsExecutable": "sysmon.file.is_executable",
    "Archived": "sysmon.file.archived",
    "CommandName": "powershell.command.name",
    "CommandPath": "powershell.command.path",
    "CommandType": "powershell.command.type",
    "HostApplication": "process.command_line",
    "HostId": "process.entity_id",
    "HostName": "process.title",
    "NewEngineState": "powershell.engine.new_state",
    "PreviousEngineState": "powershell.engine.previous_state",
    "PipelineId": "powershell.pipeline_id",
    "RunspaceId": "powershell.runspace_id",
    "ScriptName": "file.path",
    "NewProviderState": "powershell.provider.new_state",
    "ProviderName": "powershell.provider.name",
    "ScriptBlockText": "powershell.file.script_block_text",
    "ScriptBlockId": "powershell.file.script_block_id",
    "Payload": "powershell.file.script_block_text",
    "AccountDomain": "user.domain",
    "AccountName": "user.name",
    "Application": "process.executable",
    "ClientName": "source.domain",
    "NewProcessName": "process.executable",
    "ParentProcessName": "process.parent.executable",
    "ProcessName": "process.executable",
    "WorkstationName": "source.domain",
    "ServiceName": "service.name",
    "CommandLine": "process.command_line",
    "Path": "file.path",
}
_INTS: dict[str, str] = {
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "SourceProcessId": "process.pid",
    "SourceThreadId": "process.thread.id",
    "NewProcessId": "process.pid",
    "SourcePort": "source.port",
    "DestinationPort": "destination.port",
    "IpPort": "source.port",
    "DestPort": "destination.port",
    "MessageNumber": "powershell.sequence",
    "MessageTotal": "powershell.total",
    "SequenceNumber": "event.sequence",
}
_IPS: dict[str, str] = {
    "SourceIp": "source.ip",
    "DestinationIp": "destination.ip",
    "IpAddress": "source.ip",
    "ClientAddress": "source.ip",
    "SourceAddress": "source.ip",
    "DestAddress": "destination.ip",
}
# Image load (Sysmon 7) describes the loaded file; process creation (Sysmon 1) the new process.
_PE = {"FileVersion": "file_version", "Description": "description", "Product": "product",
       "Company": "company", "OriginalFileName": "original_file_name"}  # fmt: skip
_SPECIAL = ("Hashes", "Hash", "Protocol", "Initiated", "Signature", "Signed", "User", "LogonType", "SubjectLogonId",
            "TargetLogonId")  # fmt: skip
# One lookup per EventData field: 0 string field, 1 number, 2 address, 3 handled case by case.
_KIND: dict[str, int] = {
    **{n: 3 for n in _SPECIAL}, **{n: 3 for n in _PE},
    **{n: 0 for n in _ALWAYS}, **{n: 1 for n in _INTS}, **{n: 2 for n in _IPS},
}  # fmt: skip
_LOGON_EVENTS = frozenset({4624, 4625, 4634, 4647, 4648, 4768, 4769, 4771, 4776, 4778, 4779, 4800, 4801})

# (category, type, action) per event: what Winlogbeat's modules report for the common ones.
_SYSMON: dict[int, tuple[list[str], list[str], str]] = {
    1: (["process"], ["start"], "Process Create"),
    2: (["file"], ["change"], "File creation time changed"),
    3: (["network"], ["connection", "start"], "Network connection detected"),
    5: (["process"], ["end"], "Process terminated"),
    6: (["driver"], ["start"], "Driver loaded"),
    7: (["process"], ["change"], "Image loaded"),
    8: (["process"], ["change"], "CreateRemoteThread detected"),
    9: (["process"], ["access"], "RawAccessRead detected"),
    10: (["process"], ["access"], "Process accessed"),
    11: (["file"], ["creation"], "File created"),
    12: (["configuration", "registry"], ["change"], "Registry object added or deleted"),
    13: (["configuration", "registry"], ["change"], "Registry value set"),
    14: (["configuration", "registry"], ["change"], "Registry object renamed"),
    15: (["file"], ["access"], "File stream created"),
    17: (["file"], ["creation"], "Pipe Created"),
    18: (["file"], ["access"], "Pipe Connected"),
    19: (["process"], ["creation"], "WmiEventFilter activity detected"),
    20: (["process"], ["creation"], "WmiEventConsumer activity detected"),
    21: (["process"], ["change"], "WmiEventConsumerToFilter activity detected"),
    22: (["network"], ["protocol", "info"], "Dns query"),
    23: (["file"], ["deletion"], "File Delete archived"),
    24: (["process"], ["info"], "Clipboard changed"),
    25: (["process"], ["change"], "Process tampering"),
    26: (["file"], ["deletion"], "File Delete logged"),
}
_SECURITY: dict[int, tuple[list[str], list[str], str]] = {
    1102: (["iam"], ["admin", "change"], "audit-log-cleared"),
    4624: (["authentication"], ["start"], "logged-in"),
    4625: (["authentication"], ["start"], "logon-failed"),
    4634: (["authentication"], ["end"], "logged-out"),
    4647: (["authentication"], ["end"], "logged-out"),
    4648: (["authentication"], ["start"], "logged-in-explicit"),
    4672: (["iam"], ["admin"], "logged-in-special"),
    4688: (["process"], ["start"], "created-process"),
    4689: (["process"], ["end"], "exited-process"),
    4697: (["iam", "configuration"], ["admin", "change"], "service-installed"),
    4698: (["iam", "configuration"], ["creation", "admin"], "scheduled-task-created"),
    4699: (["iam", "configuration"], ["deletion", "admin"], "scheduled-task-deleted"),
    4702: (["iam", "configuration"], ["change", "admin"], "scheduled-task-updated"),
    4719: (["iam", "configuration"], ["admin", "change"], "changed-audit-config"),
    4720: (["iam"], ["user", "creation"], "added-user-account"),
    4722: (["iam"], ["user", "change"], "enabled-user-account"),
    4723: (["iam"], ["user", "change"], "changed-password"),
    4724: (["iam"], ["user", "change"], "reset-password"),
    4725: (["iam"], ["user", "change"], "disabled-user-account"),
    4726: (["iam"], ["user", "deletion"], "deleted-user-account"),
    4728: (["iam"], ["group", "change"], "added-member-to-group"),
    4732: (["iam"], ["group", "change"], "added-member-to-group"),
    4738: (["iam"], ["user", "change"], "modified-user-account"),
    4740: (["iam"], ["user", "change"], "locked-out-user-account"),
    4756: (["iam"], ["group", "change"], "added-member-to-group"),
    4768: (["authentication"], ["start"], "kerberos-authentication-ticket-requested"),
    4769: (["authentication"], ["start"], "kerberos-service-ticket-requested"),
    4771: (["authentication"], ["start"], "kerberos-preauth-failed"),
    4776: (["authentication"], ["start"], "credential-validated"),
    5140: (["network", "file"], ["info", "access"], "network-share-object-accessed"),
    5145: (["network", "file"], ["info", "access"], "network-share-object-access-checked"),
    5156: (["network"], ["connection", "allowed"], "windows-firewall-connection-allowed"),
}
_SYSTEM: dict[int, tuple[list[str], list[str], str]] = {
    104: (["iam"], ["admin", "change"], "log-cleared"),
    7036: (["process"], ["change"], "service-state-changed"),
    7040: (["configuration"], ["change"], "service-start-type-changed"),
    7045: (["configuration"], ["creation"], "service-installed"),
}
_POWERSHELL: dict[int, tuple[list[str], list[str], str]] = {
    4103: (["process"], ["info"], "execute-pipeline"),
    4104: (["process"], ["info"], "execute-remote-command"),
    4105: (["process"], ["start"], "started-command"),
    4106: (["process"], ["end"], "completed-command"),
    400: (["process"], ["start"], "engine-started"),
    403: (["process"], ["end"], "engine-stopped"),
    600: (["process"], ["info"], "provider-started"),
    800: (["process"], ["info"], "execute-pipeline"),
}


@dataclass(slots=True)
class WinRecord:
    """One Windows event, whatever it was read from: the System header, EventData and UserData."""

    channel: str | None
    event_id: int
    provider: str | None
    computer: str | None
    record_id: int | None
    time: str | datetime | None
    provider_guid: str | None = None
    level: int | None = None
    task: int | None = None
    opcode: int | None = None
    version: int | None = None
    keywords: str | int | None = None
    pid: int | None = None
    thread_id: int | None = None
    user_sid: str | None = None
    activity_id: str | None = None
    related_activity_id: str | None = None
    event_data: dict[str, str] = field(default_factory=dict)
    user_data: dict[str, str] | None = None
    user_data_name: str | None = None


def dataset_for(channel: str | None) -> tuple[str, str]:
    """``(event.dataset, event.module)`` for a channel, as contracts.md lays them out."""
    if not channel:
        return "windows.unknown", "windows"
    key = channel.lower()
    ds = _DATASETS.get(key)
    if ds is None:
        ds = "windows." + key.replace("/", "_").replace(" ", "_")
    return ds, "sysmon" if ds == "windows.sysmon_operational" else "windows"


def as_text(value: Any) -> str:
    """A field value as Winlogbeat stores it: a string (lists joined one per line)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "\n".join(as_text(v) for v in value)
    if isinstance(value, dict):
        text = value.get("#text")
        return as_text(text) if text is not None else ""
    return str(value)


def record_identity(rec: WinRecord) -> tuple[str, int | str] | None:
    """``(source, position)`` naming a record wherever it was read from, or None without a record number.

    The number restarts when a log is cleared, so the second of creation is folded in: the position
    stays an increasing integer (ids sort in log order) and a cleared log never collides.
    """
    if rec.record_id is None:
        return None
    log = f"winlog://{rec.computer or ''}/{rec.channel or rec.provider or ''}"
    seconds = 0
    if isinstance(rec.time, datetime):
        seconds = int(rec.time.timestamp())
    elif rec.time:
        try:
            seconds = _epoch_seconds(rec.time)
        except ValueError:
            seconds = 0
    if 0 <= seconds < 1 << 31 and 0 <= rec.record_id < 1 << 32:
        return log, (seconds << 32) | rec.record_id
    return log, f"{seconds}:{rec.record_id}"


# Records of a log mostly share their minute with the ones before: each minute's epoch is computed once.
_MINUTES: dict[str, int] = {}


def _epoch_seconds(text: str) -> int:
    """Whole UTC seconds of a stamp; EVTX's "YYYY-MM-DDTHH:MM:SS[.f]Z" without building a datetime."""
    if len(text) >= 20 and text[-1] == "Z" and text[10] == "T":
        if text[13] == ":" and text[16] == ":" and text[17] in "012345" and text[18] in "0123456789":
            base = _MINUTES.get(text[:16])
            if base is None:
                if len(_MINUTES) > 4096:
                    _MINUTES.clear()
                # Same validity as parsing text[:19]: the seconds digits were checked to be 00-59.
                base = _MINUTES[text[:16]] = int(
                    datetime.fromisoformat(text[:16] + ":00").replace(tzinfo=UTC).timestamp()
                )
            return base + int(text[17:19])
        return int(datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).timestamp())
    return int(parse_ts(text).timestamp())


def _stamp(value: str | datetime | None, now: str) -> str:
    if value is None:
        return now
    if isinstance(value, datetime):
        return format_ts(value)
    # EVTX SystemTime is "YYYY-MM-DDTHH:MM:SS.fffffffZ": slice it rather than parse (hot path).
    if len(value) >= 20 and value[-1] == "Z" and value[10] == "T" and value[4] == "-":
        if value[19] == ".":
            frac = value[20:-1]
            if frac.isdigit():
                return f"{value[:19]}.{frac[:3].ljust(3, '0')}Z"
        elif len(value) == 20:
            return f"{value[:19]}.000Z"
    return format_ts(parse_ts(value))


def _int(text: str) -> int | None:
    try:
        return int(text, 16) if text[:2] in ("0x", "0X") else int(text)
    except ValueError:
        return None


def _ip(text: str) -> str | None:
    if not text or text == "-" or text == "NULL":
        return None
    if text.startswith("::ffff:") and "." in text:
        text = text[7:]
    if ":" not in text and is_ip(text):
        return text  # the common IPv4 case (ASCII digits only), without building an ip_address object
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


def _basename(path: str) -> str:
    return path.rsplit("\\", 1)[-1].rsplit("/", 1)[-1]


def _hashes(text: str, prefix: str, out: dict[str, Any]) -> None:
    for part in text.split(","):
        algo, sep, digest = part.partition("=")
        if sep and digest:
            out[f"{prefix}.hash.{algo.strip().lower()}"] = digest.strip().lower()


class _Plan:
    """What a (channel, event id) decides, worked out once: dataset, ECS category/type/action, switches."""

    __slots__ = ("dataset", "failure", "hash_prefix", "kind", "logon", "module", "pe", "security", "sysmon")

    def __init__(self, channel: str | None, eid: int) -> None:
        self.dataset, self.module = dataset_for(channel)
        self.kind = _classify(channel or "", eid)
        self.sysmon = channel == SYSMON_CHANNEL
        self.security = channel == "Security"
        self.failure = self.security and eid in (4625, 4771)
        pe = None
        if self.sysmon and eid == 1:
            pe = "process.pe."
        elif self.sysmon and eid in (6, 7):
            pe = "file.pe."
        self.pe = {name: pe + leaf for name, leaf in _PE.items()} if pe else None
        self.hash_prefix = "process" if eid == 1 else "file"
        self.logon = eid in _LOGON_EVENTS


_PLANS: dict[tuple[str | None, int], _Plan] = {}


def _plan(channel: str | None, eid: int) -> _Plan:
    if channel is not None and channel.__class__ is not str:
        return _Plan(channel, eid)  # a malformed document: fail (or not) as the uncached path does
    key = (channel, eid)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) > 4096:  # channel names come from the input
            _PLANS.clear()
        plan = _PLANS[key] = _Plan(channel, eid)
    return plan


def _plan_parts(channel: str | None, eid: int) -> tuple[Any, ...]:
    plan = _plan(channel, eid)
    return (plan.dataset, plan.module, plan.kind, plan.sysmon, plan.security, plan.failure, plan.pe,
            plan.hash_prefix, plan.logon)  # fmt: skip


def native_tables() -> dict[str, Any]:
    """This mapping's tables and decisions, for the native EVTX reader (which keeps no copy of its own)."""
    return {
        "always": _ALWAYS, "ints": _INTS, "ips": _IPS, "pe": _PE, "special": list(_SPECIAL), "kind": _KIND,
        "levels": _LEVELS, "logon_types": _LOGON_TYPES, "ecs_version": ECS_VERSION,
        # Asked once per distinct value: (channel, event id) plans, Keywords masks, odd numbers and IPv6.
        "plan": _plan_parts, "keywords": _keywords, "to_int": _int, "to_ip": _ip,
    }  # fmt: skip


def ecs_fields(rec: WinRecord) -> dict[str, Any]:
    """The ECS fields (dotted names) that the EventData, UserData and header of ``rec`` give."""
    return _ecs_fields(rec.event_data, _plan(rec.channel, rec.event_id))


def _ecs_fields(data: dict[str, str], plan: _Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Most EventData fields have no ECS twin: filter() drops them without a Python step each.
    for name in filter(_KIND.__contains__, data):
        value = data[name]
        if not value or value == "-":
            continue
        kind = _KIND[name]
        if kind == 0:
            target = _ALWAYS[name]
            if target not in out:
                out[target] = value
        elif kind == 1:
            target = _INTS[name]
            number = _int(value)
            if number is not None and target not in out:
                out[target] = number
        elif kind == 2:
            ip = _ip(value)
            if ip is not None:
                out[_IPS[name]] = ip
        elif name in _PE:
            if plan.pe is not None:
                out[plan.pe[name]] = value
        elif name == "Hashes" or name == "Hash":
            _hashes(value, plan.hash_prefix, out)
        elif name == "Protocol":
            if plan.sysmon:
                out["network.transport"] = value.lower()
        elif name == "Initiated":
            if plan.sysmon:
                out["network.direction"] = "egress" if value.lower() == "true" else "ingress"
        elif name == "Signature":
            out["file.code_signature.subject_name"] = value
        elif name == "Signed":
            out["file.code_signature.signed"] = value.lower() == "true"
        elif name == "User":
            domain, sep, user = value.rpartition("\\")
            out["user.name"] = user
            if sep:
                out["user.domain"] = domain
        elif name == "LogonType":
            number = _int(value)
            if number is not None:
                out["winlog.logon.type"] = _LOGON_TYPES.get(number, str(number))
        elif name in ("SubjectLogonId", "TargetLogonId"):
            out.setdefault("winlog.logon.id", value)
    if "process.executable" in out:
        out["process.name"] = _basename(out["process.executable"])
    if "process.parent.executable" in out:
        out["process.parent.name"] = _basename(out["process.parent.executable"])
    if plan.security or "SubjectUserName" in data or "TargetUserName" in data:
        _security_users(data, plan.logon, out)
    if "file.path" in out and "file.name" not in out:
        out["file.name"] = _basename(out["file.path"])
    return out


def _security_users(data: dict[str, str], logon: bool, out: dict[str, Any]) -> None:
    """Logon events are about the target account; other audit events about the subject who acted."""
    subject = data.get("SubjectUserName")
    target = data.get("TargetUserName")
    if logon and target and target != "-":
        out["user.name"] = target
        _maybe(out, "user.domain", data.get("TargetDomainName"))
        _maybe(out, "user.id", data.get("TargetUserSid") or data.get("TargetSid"))
        return
    if subject and subject != "-":
        out["user.name"] = subject
        _maybe(out, "user.domain", data.get("SubjectDomainName"))
        _maybe(out, "user.id", data.get("SubjectUserSid"))
    if target and target != "-":
        out["user.target.name"] = target
        _maybe(out, "user.target.domain", data.get("TargetDomainName"))
        _maybe(out, "user.target.id", data.get("TargetUserSid") or data.get("TargetSid"))


_SPLIT: dict[str, tuple[str, ...]] = {}


def _split(path: str) -> tuple[str, ...]:
    parts = _SPLIT.get(path)
    if parts is None:
        if len(_SPLIT) > 4096:  # user-named fields (hash algorithms) could grow it without bound
            _SPLIT.clear()
        parts = _SPLIT[path] = tuple(path.split("."))
    return parts


def _put_all(event: Event, fields: dict[str, Any]) -> None:
    """set_field for each dotted name, split once per name (this runs ~7 times per record)."""
    for path, value in fields.items():
        parts = _SPLIT.get(path) or _split(path)
        n = len(parts)
        if n == 2:  # most ECS names: "process.pid", "user.name"
            node = event.get(parts[0])
            if node.__class__ is not dict:
                node = event[parts[0]] = {}
            node[parts[1]] = value
            continue
        if n == 3:  # "process.parent.name", "process.hash.sha1"
            node = event.get(parts[0])
            if node.__class__ is not dict:
                node = event[parts[0]] = {}
            child = node.get(parts[1])
            if child.__class__ is not dict:
                child = node[parts[1]] = {}
            child[parts[2]] = value
            continue
        node = event
        for part in parts[:-1]:
            child = node.get(part)
            if child.__class__ is not dict:
                child = node[part] = {}
            node = child
        node[parts[-1]] = value


def _maybe(out: dict[str, Any], key: str, value: str | None) -> None:
    if value and value != "-":
        out[key] = value


def _classify(channel: str, eid: int) -> tuple[list[str], list[str], str] | None:
    if channel == SYSMON_CHANNEL:
        return _SYSMON.get(eid)
    if channel == "Security":
        return _SECURITY.get(eid)
    if channel == "System":
        return _SYSTEM.get(eid)
    if "PowerShell" in channel:
        return _POWERSHELL.get(eid)
    return None


def _keywords(value: str | int | None) -> tuple[list[str] | None, str | None]:
    """Winlogbeat's keyword names for the audit bits, and the outcome they imply."""
    if value is None or value == "":
        return None, None
    try:
        bits = (
            value if isinstance(value, int) else int(value, 16 if str(value).lower().startswith("0x") else 10)
        )
    except ValueError:
        return [str(value)], None
    names: list[str] = []
    outcome = None
    if bits & _AUDIT_SUCCESS:
        names.append("Audit Success")
        outcome = "success"
    if bits & _AUDIT_FAILURE:
        names.append("Audit Failure")
        outcome = "failure"
    if bits & 0x80000000000000:
        names.append("Classic")
    return names or [f"0x{bits:x}"], outcome


# A log uses a handful of keyword masks: names kept per mask (copied per event: events are mutable).
_KEYWORD_NAMES: dict[str | int, tuple[tuple[str, ...] | None, str | None]] = {}


def _keywords_cached(value: str | int | None) -> tuple[list[str] | None, str | None]:
    if value.__class__ is not str and value.__class__ is not int:
        return _keywords(value)
    hit = _KEYWORD_NAMES.get(value)
    if hit is None:
        names, outcome = _keywords(value)
        if len(_KEYWORD_NAMES) > 1024:
            _KEYWORD_NAMES.clear()
        hit = _KEYWORD_NAMES[value] = (tuple(names) if names is not None else None, outcome)
    return (list(hit[0]) if hit[0] is not None else None), hit[1]


# The batch's ingest time, formatted once: readers pass one ``now`` for a whole file.
_last_now: tuple[datetime | None, str] = (None, "")


def _ingested(now: datetime) -> str:
    global _last_now
    last = _last_now
    if last[0] is now:
        return last[1]
    text = format_ts(now)
    _last_now = (now, text)
    return text


def to_ecs(
    rec: WinRecord,
    *,
    source: str,
    position: int | str,
    original: str | None = None,
    host: str | None = None,
    now: datetime | None = None,
) -> Event:
    """The ECS event for a Windows record (``source``/``position`` name it when it has no record number)."""
    ingested = _ingested(now) if now else format_ts(datetime.now(UTC))
    ident = record_identity(rec)
    src, pos = ident if ident is not None else (source, position)
    plan = _plan(rec.channel, rec.event_id)
    ev = new_event(
        timestamp=_stamp(rec.time, ingested), dataset=plan.dataset, module=plan.module, source=src,
        position=pos, original=original, host=rec.computer or host, ingested=ingested,
    )  # fmt: skip
    if source.startswith("/"):
        ev["log"] = {"file": {"path": source}}
    event = ev["event"]
    event["code"] = str(rec.event_id)
    if rec.provider:
        event["provider"] = rec.provider
    winlog: dict[str, Any] = {"channel": rec.channel, "event_id": rec.event_id, "api": "wineventlog"}
    if rec.provider:
        winlog["provider_name"] = rec.provider
    if rec.provider_guid:
        winlog["provider_guid"] = rec.provider_guid
    if rec.computer:
        winlog["computer_name"] = rec.computer
    if rec.record_id is not None:
        winlog["record_id"] = rec.record_id
    if rec.task is not None:
        winlog["task"] = str(rec.task)
    if rec.opcode is not None:
        winlog["opcode"] = str(rec.opcode)
    if rec.version is not None:
        winlog["version"] = rec.version
    if rec.pid is not None:
        winlog["process"] = (
            {"pid": rec.pid, "thread": {"id": rec.thread_id}} if rec.thread_id else {"pid": rec.pid}
        )
    if rec.user_sid:
        winlog["user"] = {"identifier": rec.user_sid}
    if rec.activity_id:
        winlog["activity_id"] = rec.activity_id
    if rec.related_activity_id:
        winlog["related_activity_id"] = rec.related_activity_id
    keywords, outcome = _keywords_cached(rec.keywords)
    if keywords:
        winlog["keywords"] = keywords
    if rec.event_data:
        winlog["event_data"] = rec.event_data
    if rec.user_data is not None:
        user_data = dict(rec.user_data)
        if rec.user_data_name:
            user_data["xml_name"] = rec.user_data_name
        winlog["user_data"] = user_data
    ev["winlog"] = winlog
    if rec.level is not None:
        ev["log"] = ev.get("log") or {}
        ev["log"]["level"] = _LEVELS.get(rec.level, str(rec.level))
    kind = plan.kind
    if kind is not None:
        event["category"], event["type"], event["action"] = list(kind[0]), list(kind[1]), kind[2]
    if plan.failure:
        outcome = "failure"
    if outcome:
        event["outcome"] = outcome
    # UserData stands in for EventData when a record has only that (log cleared, some services).
    if rec.event_data:
        _put_all(ev, _ecs_fields(rec.event_data, plan))
    elif rec.user_data:
        _put_all(ev, _ecs_fields(rec.user_data, plan))
    if "user" not in ev and rec.user_sid:
        set_field(ev, "user.id", rec.user_sid)
    return ev


# ---- NXLog's flat Windows JSON ----------------------------------------------------------------

_NXLOG_HEADER = frozenset({
    "EventTime", "EventReceivedTime", "Hostname", "Keywords", "EventType", "SeverityValue", "Severity",
    "EventID", "SourceName", "ProviderGuid", "Version", "Task", "OpcodeValue", "RecordNumber", "ProcessID",
    "ThreadID", "Channel", "Domain", "AccountName", "UserID", "AccountType", "Message", "Category", "Opcode",
    "SourceModuleName", "SourceModuleType", "ActivityID", "RelatedActivityID", "Level", "ERRORCODE",
})  # fmt: skip
_NXLOG_LEVELS = {
    "CRITICAL": 1,
    "ERROR": 2,
    "WARNING": 3,
    "INFO": 4,
    "VERBOSE": 5,
    "AUDIT_SUCCESS": 0,
    "AUDIT_FAILURE": 0,
}


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    return _int(str(value))


def nxlog_record(doc: dict[str, Any], tz: tzinfo) -> WinRecord:
    """A WinRecord from NXLog ``im_msvistalog`` JSON (header keys flat beside the EventData fields).

    ``EventTime`` is the collector's local time without a zone, so ``tz`` places it.
    """
    eid = _opt_int(doc.get("EventID"))
    if eid is None:
        raise ValueError("EventID: missing or not a number")
    when: datetime | None = None
    raw_time = doc.get("EventTime")
    if raw_time is not None:
        if isinstance(raw_time, int | float):
            when = parse_ts(raw_time)
        else:
            text = str(raw_time).strip()
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            when = parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed
    data = {k: as_text(v) for k, v in doc.items() if k not in _NXLOG_HEADER}
    # NXLog spells the event's account in the header; Winlogbeat has it as winlog.user.
    sid = doc.get("UserID")
    keywords = doc.get("Keywords")
    if isinstance(keywords, str) and not keywords.lower().startswith("0x"):
        keywords = int(keywords) if keywords.lstrip("-").isdigit() else None
    event_type = str(doc.get("EventType") or "")
    if event_type == "AUDIT_SUCCESS" and keywords is None:
        keywords = _AUDIT_SUCCESS
    elif event_type == "AUDIT_FAILURE" and keywords is None:
        keywords = _AUDIT_FAILURE
    level = _opt_int(doc.get("Level"))
    if level is None and event_type in _NXLOG_LEVELS:
        level = _NXLOG_LEVELS[event_type]
    return WinRecord(
        channel=as_text(doc.get("Channel")) or None,
        event_id=eid,
        provider=as_text(doc.get("SourceName")) or None,
        computer=as_text(doc.get("Hostname")) or None,
        record_id=_opt_int(doc.get("RecordNumber")),
        time=when,
        provider_guid=as_text(doc.get("ProviderGuid")) or None,
        level=level,
        task=_opt_int(doc.get("Task")),
        opcode=_opt_int(doc.get("OpcodeValue")),
        version=_opt_int(doc.get("Version")),
        keywords=keywords,
        pid=_opt_int(doc.get("ProcessID")),
        thread_id=_opt_int(doc.get("ThreadID")),
        user_sid=as_text(sid) or None,
        activity_id=as_text(doc.get("ActivityID")) or None,
        related_activity_id=as_text(doc.get("RelatedActivityID")) or None,
        event_data=data,
    )


def winlogbeat_record(doc: dict[str, Any]) -> WinRecord:
    """A WinRecord from a Winlogbeat document's ``winlog`` object (to fill the ECS fields it lacks)."""
    winlog = doc.get("winlog")
    if not isinstance(winlog, dict):
        raise ValueError("winlog: must be an object")
    eid = _opt_int(winlog.get("event_id"))
    if eid is None:
        eid = _opt_int((doc.get("event") or {}).get("code")) if isinstance(doc.get("event"), dict) else None
    if eid is None:
        raise ValueError("winlog.event_id: missing or not a number")
    data = winlog.get("event_data")
    user_data = winlog.get("user_data")
    proc_node = winlog.get("process")
    proc: dict[str, Any] = proc_node if isinstance(proc_node, dict) else {}
    return WinRecord(
        channel=winlog.get("channel"),
        event_id=eid,
        provider=winlog.get("provider_name"),
        computer=winlog.get("computer_name"),
        record_id=_opt_int(winlog.get("record_id")),
        time=doc.get("@timestamp"),
        provider_guid=winlog.get("provider_guid"),
        pid=_opt_int(proc.get("pid")),
        event_data={k: as_text(v) for k, v in data.items()} if isinstance(data, dict) else {},
        user_data={k: as_text(v) for k, v in user_data.items()} if isinstance(user_data, dict) else None,
    )
