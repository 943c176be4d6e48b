"""pySigma processing pipelines: Sigma taxonomy field names -> the ECS fields Canh's collectors produce.

The SAME pipeline drives the in-process engine and the Elasticsearch conversion (``canh rules
convert``), so a rule means the same thing in both places. A dotted name (already ECS) passes
through unchanged.

Windows: our EVTX reader keeps every EventData field under ``winlog.event_data.<Name>`` with its
original name and value, as Winlogbeat does. pysigma-backend-elasticsearch's ``ecs_windows``
pipeline instead maps onto fields Winlogbeat's ingest pipelines derive (``user.name`` split out of
``DOMAIN\\user``, ``process.executable.caseless``), which would change what a rule matches; so
Windows taxonomy fields map to ``winlog.event_data`` (System fields to their ``winlog.*`` names),
which keeps every SigmaHQ rule's meaning exact on both paths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sigma.correlations import SigmaCorrelationRule
from sigma.processing.conditions import (
    FieldNameProcessingItemAppliedCondition,
    IncludeFieldCondition,
    LogsourceCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddFieldnamePrefixTransformation,
    FieldMappingTransformation,
    ValueListPlaceholderTransformation,
)
from sigma.processing.transformations.base import FieldMappingTransformationBase, ValueTransformation
from sigma.rule import SigmaRule
from sigma.types import Placeholder, SigmaCIDRExpression, SigmaString, SigmaType

WINDOWS_SYSTEM_FIELDS = {
    "EventID": "event.code",
    "Channel": "winlog.channel",
    "Provider_Name": "winlog.provider_name",
    "Provider": "winlog.provider_name",
    "Computer": "winlog.computer_name",
    "EventRecordID": "winlog.record_id",
}

LINUX_FIELDS = {
    "Image": "process.executable",
    "CommandLine": "process.command_line",
    "ParentImage": "process.parent.executable",
    "ParentCommandLine": "process.parent.command_line",
    "ProcessId": "process.pid",
    "ParentProcessId": "process.parent.pid",
    "CurrentDirectory": "process.working_directory",
    "User": "user.name",
    "LogonId": "process.user.id",
    "TargetFilename": "file.path",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "DestinationHostname": "destination.domain",
    "SourceIp": "source.ip",
    "SourcePort": "source.port",
    "Initiated": "network.direction",
    "pam_user": "user.name",
    "pam_rhost": "source.ip",
}

WEB_FIELDS = {
    "c-ip": "source.ip",
    "c-uri": "url.original",
    "cs-uri": "url.original",
    "c-uri-query": "url.query",
    "cs-uri-query": "url.query",
    "c-uri-stem": "url.path",
    "cs-uri-stem": "url.path",
    "c-uri-extension": "url.extension",
    "cs-method": "http.request.method",
    "cs-user-agent": "user_agent.original",
    "c-useragent": "user_agent.original",
    "cs-referrer": "http.request.referrer",
    "cs-referer": "http.request.referrer",
    "cs-version": "http.version",
    "cs-bytes": "http.request.bytes",
    "sc-bytes": "http.response.body.bytes",
    "sc-status": "http.response.status_code",
    "cs-cookie": "http.cookie",
    "cs-username": "user.name",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "s-ip": "destination.ip",
}

PROXY_FIELDS = {**WEB_FIELDS, "cs-host": "url.domain", "r-dns": "url.domain", "dst_port": "destination.port"}
WEBSERVER_FIELDS = {**WEB_FIELDS, "cs-host": "url.domain", "s-port": "destination.port"}

DNS_FIELDS = {
    "query": "dns.question.name",
    "QueryName": "dns.question.name",
    "answer": "dns.answers.data",
    "record_type": "dns.question.type",
    "parent_domain": "dns.question.registered_domain",
    "response_code": "dns.response_code",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
}

FIREWALL_FIELDS = {
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "src_port": "source.port",
    "dst_port": "destination.port",
    "SourceIp": "source.ip",
    "DestinationIp": "destination.ip",
    "DestinationPort": "destination.port",
    "action": "event.action",
    "protocol": "network.transport",
    "username": "user.name",
}


# Zeek logs: the connection tuple and ids as the parser maps them to ECS; every other field name
# as Zeek logs it, which the parser keeps under zeek.<log> (zeek.dns.query, zeek.x509.certificate.serial).
ZEEK_FIELDS = {
    "id.orig_h": "source.ip",
    "id.orig_p": "source.port",
    "id.resp_h": "destination.ip",
    "id.resp_p": "destination.port",
    "uid": "zeek.session_id",
    "community_id": "network.community_id",
    # web taxonomy names some SigmaHQ Zeek http rules use
    "c-uri": "url.original",
    "c-useragent": "user_agent.original",
    "cs-user-agent": "user_agent.original",
    "cs-method": "http.request.method",
    "sc-status": "http.response.status_code",
}
# ECS objects a Canh rule for Zeek may name directly (left as written, never put under zeek.<log>)
_ECS_ROOTS = re.compile(
    r"^(?:@timestamp|message|tags|labels|ecs|event|source|destination|network|dns|http|url|tls|file|"
    r"user_agent|host|related|rule|zeek|observer|log|client|server|user|process|agent)(?:\.|$)"
)


@dataclass
class ZeekFieldTransformation(FieldMappingTransformationBase):
    """A Zeek field name under zeek.<the rule's service>. (the log it reads), unless it is one of the
    tuple/id names mapped to ECS or already an ECS name."""

    service: str | None = None

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        self.service = (rule.logsource.service or "").lower() or None if isinstance(rule, SigmaRule) else None
        super().apply(rule)

    def apply_field_name(self, field: str | None) -> str | None:
        if field is None:
            return None
        return zeek_field(field, self.service)


def zeek_field(name: str, service: str | None) -> str:
    """Where the Zeek parser puts a field a rule for ``product: zeek, service: <log>`` names."""
    mapped = ZEEK_FIELDS.get(name)
    if mapped is not None:
        return mapped
    if _ECS_ROOTS.match(name) or not service:
        return name
    return f"zeek.{service}.{name}"


def _widen(mapping: Mapping[str, str]) -> dict[str | None, str | list[str]]:
    return {k: v for k, v in mapping.items()}


def _mapping(ident: str, mapping: Mapping[str, str], **logsource: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=ident,
        transformation=FieldMappingTransformation(_widen(mapping)),
        rule_conditions=[LogsourceCondition(**logsource)],
    )


@dataclass
class AddressPlaceholderTransformation(ValueTransformation):
    """A value that is just ``%name%`` of an address placeholder becomes one ``|cidr`` test per
    network of the list, so a threat-intelligence list may hold networks (on both paths: the engine
    and the Elasticsearch conversion have CIDR matching)."""

    networks: dict[str, list[str]] = field(default_factory=dict)

    def apply_value(self, field: str | None, val: SigmaType) -> list[SigmaType] | None:
        parts = val.s if isinstance(val, SigmaString) else ()
        if len(parts) == 1 and isinstance(parts[0], Placeholder) and parts[0].name in self.networks:
            return [SigmaCIDRExpression(n) for n in self.networks[parts[0].name]]
        return None


def canh_pipeline(placeholders: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """Canh's pipeline: placeholders from config (address lists as CIDR tests), then taxonomy -> ECS
    per log source."""
    from canh.rules.placeholders import address_placeholders

    items: list[ProcessingItem] = []
    networks = address_placeholders(placeholders or {})
    if networks:
        items.append(
            ProcessingItem(
                identifier="canh_address_placeholders",
                transformation=AddressPlaceholderTransformation(networks=networks),
            )
        )
    if placeholders:
        items.append(
            ProcessingItem(
                identifier="canh_placeholders",
                transformation=ValueListPlaceholderTransformation(include=list(placeholders)),
            )
        )
    items += [
        _mapping("canh_windows_system", WINDOWS_SYSTEM_FIELDS, product="windows"),
        ProcessingItem(
            identifier="canh_windows_event_data",
            transformation=AddFieldnamePrefixTransformation("winlog.event_data."),
            field_name_conditions=[
                FieldNameProcessingItemAppliedCondition("canh_windows_system"),
                IncludeFieldCondition(fields=["\\w+\\."], mode="re"),
            ],
            field_name_condition_negation=True,
            field_name_condition_linking=any,
            rule_conditions=[LogsourceCondition(product="windows")],
        ),
        _mapping("canh_linux", LINUX_FIELDS, product="linux"),
        ProcessingItem(
            identifier="canh_zeek",
            transformation=ZeekFieldTransformation(),
            rule_conditions=[LogsourceCondition(product="zeek")],
        ),
        _mapping("canh_webserver", WEBSERVER_FIELDS, category="webserver"),
        _mapping("canh_proxy", PROXY_FIELDS, category="proxy"),
        _mapping("canh_dns", DNS_FIELDS, category="dns"),
        _mapping("canh_firewall", FIREWALL_FIELDS, category="firewall"),
    ]
    return ProcessingPipeline(
        name="Canh ECS mappings",
        priority=20,
        items=items,
        vars={k: list(v) for k, v in (placeholders or {}).items()},
    )


def map_field(name: str, product: str | None, category: str | None, service: str | None) -> str:
    """A taxonomy field name as the pipeline maps it for rules of this log source (for correlations'
    group-by and value fields, which pySigma pipelines do not rewrite for an in-process engine)."""
    if "." in name and product != "zeek":  # Zeek's own names have dots (id.orig_h)
        return name
    if product == "windows":
        return WINDOWS_SYSTEM_FIELDS.get(name, "winlog.event_data." + name)
    if product == "zeek":
        return zeek_field(name, service.lower() if service else None)
    for cond, table in (
        (category == "webserver", WEBSERVER_FIELDS),
        (category == "proxy", PROXY_FIELDS),
        (category == "dns", DNS_FIELDS),
        (category == "firewall", FIREWALL_FIELDS),
        (product == "linux", LINUX_FIELDS),
    ):
        if cond and name in table:
            return table[name]
    return name
