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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sigma.conditions import SigmaCondition
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.conditions import (
    FieldNameProcessingItemAppliedCondition,
    IncludeFieldCondition,
    LogsourceCondition,
)
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline, QueryPostprocessingItem
from sigma.processing.postprocessing import QueryPostprocessingTransformation
from sigma.processing.transformations import (
    AddFieldnamePrefixTransformation,
    FieldMappingTransformation,
    ValueListPlaceholderTransformation,
)
from sigma.processing.transformations.base import (
    ConditionTransformation,
    FieldMappingTransformationBase,
    ValueTransformation,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    Placeholder,
    SigmaCIDRExpression,
    SigmaNull,
    SigmaRegularExpression,
    SigmaString,
    SigmaType,
    SpecialChars,
)

from canh.fields import is_date_field, is_ip_field
from canh.rules import logsource as routing

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


def query_pipeline(target: str, placeholders: Mapping[str, list[str]] | None = None) -> ProcessingPipeline:
    """Canh's pipeline for converting rules to queries of ``target`` (a backend's name: lucene, eql,
    esql, sqlite...): the field mapping, ``null`` as missing or empty, ``|cidr`` on a field that is
    not an address as address patterns, the rule's log-source
    condition (the engine routes by log source itself; a query runs over every event), and for
    Lucene only values compared without case and regular expressions made to search the value."""
    pipeline = canh_pipeline(placeholders)
    pipeline.items += [
        ProcessingItem(identifier="canh_null_or_empty", transformation=NullOrEmptyTransformation()),
        ProcessingItem(identifier="canh_text_cidr", transformation=TextCidrTransformation()),
    ]
    if target == "lucene":
        pipeline.items.append(
            ProcessingItem(identifier="canh_caseless_values", transformation=CaselessValueTransformation())
        )
    pipeline.items.append(
        ProcessingItem(
            identifier="canh_logsource_condition", transformation=LogsourceConditionTransformation()
        )
    )
    if target == "lucene":
        pipeline.postprocessing_items.append(
            QueryPostprocessingItem(LuceneQueryTransformation(), identifier="canh_lucene_query")
        )
    return pipeline


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


# -- log-source conditions for converted queries -----------------------------------------------
#
# The engine routes each event to the rules of its log sources (canh.rules.logsource); a query runs
# over every stored event, so it must carry the same routing as a condition. It is derived here
# from that module's tables (never a second copy of them), as the inverse of event_source(), in a
# form of no query language: all of some parts, each any of some terms, each term a field -> the
# values it may hold. A Sigma detection is made of it for every backend (LogsourceConditionTransformation),
# and a Lucene string for reading (logsource_query).

Term = dict[str, list[str | int]]  # every field holds one of its values ("*" ends a prefix; "*" alone: any)
Parts = list[list[Term]]  # all of the parts, each any of its terms

NO_SOURCE_DATASET = "canh.no_such_log_source"  # no stored event fits: the engine would see none
_PLAIN = re.compile(r"^[\w.@*]+$")


def _term(**fields: list[str | int] | None) -> Term | None:
    """A term of the fields given values (None, a field with no value to hold, makes none)."""
    out: Term = {}
    for name, values in fields.items():
        if not values:
            return None
        out[name.replace("__", ".")] = list(dict.fromkeys(values))
    return out


def _any_of(terms: list[Term | None]) -> list[Term]:
    kept = [t for t in terms if t]
    return kept or [{"event.dataset": [NO_SOURCE_DATASET]}]


@lru_cache(maxsize=1)
def _channel_names() -> dict[str, str]:
    out: dict[str, str] = {}
    for channels in routing.windows_logsource_mapping.values():
        for ch in [channels] if isinstance(channels, str) else channels:
            out.setdefault(ch.lower(), ch)
    return out


def _channel(lower: str) -> str:
    return _channel_names().get(lower, lower)


def _suricata(pick: int, wanted: str) -> Term | None:
    types: list[str | int] = [t for t, parts in routing.SURICATA_TYPES.items() if wanted in parts[pick]]
    if pick == 2:
        types.append(wanted)  # event_type is a service of its own
    return _term(event__dataset=["suricata.eve"], suricata__eve__event_type=types)


def _datasets(pick: int, wanted: str) -> Term | None:
    return _term(event__dataset=[d for d, p in routing.DATASETS.items() if wanted in p[pick]])


def _product(product: str) -> list[Term]:
    terms = [_term(event__module=[product]), _datasets(0, product)]
    if product == "zeek":
        terms.append(_term(event__dataset=["zeek.*"]))
    if product == "windows":
        terms += [_term(winlog__channel=["*"]), _term(event__dataset=["windows.*"])]
    terms.append(_suricata(0, product))
    return _any_of(terms)


def _category(category: str) -> list[Term]:
    terms = [_datasets(1, category), _suricata(1, category)]
    ids: list[str | int] = [i for i, cats in routing.SYSMON_CATEGORIES.items() if category in cats]
    if ids:
        terms.append(_term(winlog__channel=[_channel(routing.SYSMON_CHANNEL)], winlog__event_id=ids))
    by_channel: dict[str, list[str | int]] = {}
    for (ch, eid), cats in routing.POWERSHELL_CATEGORIES.items():
        if category in cats:
            by_channel.setdefault(ch, []).append(eid)
    for ch, eids in by_channel.items():
        terms.append(_term(winlog__channel=[_channel(ch)], winlog__event_id=eids))
    return _any_of(terms)


def _service(service: str) -> list[Term]:
    programs: list[str | int] = [name for name, svc in routing.AUTH_PROGRAMS.items() if svc == service]
    channels: list[str | int] = [
        _channel(ch) for ch, svc in routing.WINDOWS_CHANNELS.items() if svc == service
    ]
    return _any_of(
        [
            _datasets(2, service),
            _term(event__dataset=["zeek." + service]),
            _term(event__dataset=["system.auth"], process__name=programs),
            _suricata(2, service),
            _term(winlog__channel=channels),
        ]
    )


def logsource_parts(product: str | None, category: str | None, service: str | None) -> Parts | None:
    """The condition true for exactly the events the engine routes to a rule of this log source
    (None when the rule names none)."""
    parts = [
        _product(product.lower()) if product else None,
        _category(category.lower()) if category else None,
        _service(service.lower()) if service else None,
    ]
    kept = [p for p in parts if p]
    return kept or None


def _lit(value: str | int) -> str:
    text = str(value)
    return text if _PLAIN.match(text) else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lucene_term(term: Term) -> str:
    parts = []
    for name, values in term.items():
        if values == ["*"]:
            parts.append(f"_exists_:{name}")
        elif len(values) == 1:
            parts.append(f"{name}:{_lit(values[0])}")
        else:
            parts.append(f"{name}:(" + " OR ".join(_lit(v) for v in values) + ")")
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _joined(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def logsource_query(product: str | None, category: str | None, service: str | None) -> str | None:
    """:func:`logsource_parts` as a Lucene condition (what the converted query carries, for reading)."""
    parts = logsource_parts(product, category, service)
    if parts is None:
        return None
    return _joined([_joined([_lucene_term(t) for t in terms], "OR") for terms in parts], "AND")


def _sigma_value(value: str | int) -> str | int:
    """A term's value as a Sigma value: a literal with Sigma's wildcards escaped, a trailing ``*``
    kept as one (the only wildcard the terms use)."""
    if isinstance(value, int):
        return value
    prefix = value.endswith("*")
    text = value[:-1] if prefix else value
    text = text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return text + "*" if prefix else text


@dataclass
class LogsourceConditionTransformation(ConditionTransformation):
    """The rule's log-source condition (:func:`logsource_parts`) as detections ANDed in front of its
    condition, so every backend writes it in its own syntax."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule) -> None:
        self._names: list[str] = []
        # pySigma converts the rule object in place: a second conversion (another backend) finds
        # the condition already there
        if isinstance(rule, SigmaRule) and "canh_logsource_0" not in rule.detection.detections:
            ls = rule.logsource
            for i, terms in enumerate(logsource_parts(ls.product, ls.category, ls.service) or []):
                name = f"canh_logsource_{i}"
                definition: list[dict[str, list[str | int]]] = [
                    {k: [_sigma_value(v) for v in vals] for k, vals in t.items()} for t in terms
                ]
                # pySigma annotates a list of plain values; a list of maps (any of them) is what it parses
                rule.detection.detections[name] = SigmaDetection.from_definition(definition)  # type: ignore[arg-type]
                self._names.append(name)
        super().apply(rule)

    def apply_condition(self, cond: SigmaCondition) -> None:
        if self._names:
            cond.condition = " and ".join(self._names) + f" and ({cond.condition})"


def _structure(pattern: str) -> Iterator[tuple[int, str, int]]:
    """``(index, character, group depth after it)`` for each character of a regex that is neither
    escaped nor inside a ``[...]`` class: the ones that give it structure."""
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2 if pattern[i + 1] == "]" else 3  # a leading ] is a member, not the end
                continue
        else:
            depth += 1 if ch == "(" else -1 if ch == ")" else 0
            yield i, ch, depth
        i += 1


def _alternatives(pattern: str) -> list[str]:
    """The top-level ``|`` alternatives of a regex."""
    out, start = [], 0
    for i, ch, depth in _structure(pattern):
        if ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    out.append(pattern[start:])
    return out


def _group_at_start(pattern: str) -> int | None:
    """The index of the ``)`` closing a group that opens the pattern, if it does."""
    if not pattern.startswith("(") or (pattern.startswith("(?") and not pattern.startswith("(?:")):
        return None
    return next((i for i, ch, depth in _structure(pattern) if ch == ")" and depth == 0), None)


def _ends_with_anchor(alt: str) -> bool:
    # a $ after an odd number of backslashes is a literal dollar; after an even number (C:\\$ of
    # a path ending in a backslash) it is the anchor
    if not alt.endswith("$"):
        return False
    body = alt[:-1]
    return (len(body) - len(body.rstrip("\\"))) % 2 == 0


def _optional(alts: list[str]) -> str:
    """A group of alternatives, an empty one written as ``(...)?``: Elasticsearch's case-insensitive
    regexp loses matches on an empty alternative (``(a|())`` with case_insensitive finds nothing)."""
    kept = [a for a in alts if a]
    if len(kept) == len(alts):
        return "(?:" + "|".join(kept) + ")"
    return "(?:" + "|".join(kept) + ")?" if kept else ""


def _lead(pattern: str) -> str:
    """``.*`` before a pattern searched for, unless it is anchored at the start: ``^x``, or a first
    group with a ``^`` alternative (``(^|&)x``), which takes the ``.*`` into its other alternatives."""
    if pattern.startswith("^"):
        return pattern[1:]
    end = _group_at_start(pattern)
    if end is not None and pattern[end + 1 : end + 2] not in ("*", "+", "?", "{"):
        inner = pattern[3:end] if pattern.startswith("(?:") else pattern[1:end]
        if "^" in inner.replace("[^", ""):
            return _optional([_lead(a) for a in _alternatives(inner)]) + pattern[end + 1 :]
    return ".*" + pattern


def _last_group(pattern: str) -> int | None:
    """Where the group that ends the pattern opens, if it ends with one."""
    if not pattern.endswith(")") or pattern.endswith("\\)"):
        return None
    for start in range(len(pattern) - 1, -1, -1):
        if pattern[start] == "(" and _group_at_start(pattern[start:]) == len(pattern) - 1 - start:
            return start
    return None


def _trail(pattern: str) -> str:
    """``.*`` after a pattern searched for, unless it is anchored at the end: ``x$``, or a last
    group with a ``$`` alternative (``x(&|$)``), which takes the ``.*`` into its other alternatives."""
    if _ends_with_anchor(pattern):
        return pattern[:-1]
    start = _last_group(pattern)
    if start is not None:
        group = pattern[start:]
        inner = group[3:-1] if group.startswith("(?:") else group[1:-1]
        if "$" in inner:
            return pattern[:start] + _optional([_trail(a) for a in _alternatives(inner)])
    return pattern + ".*"


def search_regex(pattern: str) -> str:
    r"""A Sigma ``|re`` pattern (found anywhere in the value, as the engine searches) as the
    whole-value pattern a Lucene ``/regex/`` is: ``.*`` on each side not anchored by ``^``/``$``
    (an anchor in a first or last group, ``(^|&)x(&|$)``, becomes an empty alternative)."""
    flags = ""
    if pattern.startswith("(?i)"):
        flags, pattern = "(?i)", pattern[4:]
    if len(_alternatives(pattern)) > 1:
        pattern = f"(?:{pattern})"
    return flags + _trail(_lead(pattern))


_PHRASE_ESCAPE = re.compile(r'\\([^"\\])')


def _lucene_terms(query: str) -> str:
    """Regular expressions made to search the value (:func:`search_regex`), and quoted values
    without pySigma's escapes of operators (``"Microsoft\\-Windows\\-Windows Defender\\/Operational"``):
    inside quotes Lucene reads ``\\-`` as ``-``, Canh's query parser as both characters."""
    from luqum.parser import parser
    from luqum.tree import Phrase, Regex

    try:
        tree = parser.parse(query)
    except Exception:  # luqum raises bare errors; the store, parsing it again, reports the query
        return query
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Regex):
            node.value = "/" + search_regex(node.value[1:-1]) + "/"
        elif isinstance(node, Phrase):
            node.value = '"' + _PHRASE_ESCAPE.sub(r"\1", node.value[1:-1]) + '"'
        stack.extend(node.children)
    return str(tree)


def _escape_unicode_spaces(query: str) -> str:
    """Backslash before each non-ASCII space outside quotes: pySigma escapes only the ASCII one, and
    a Lucene parser splits terms on any (``*\u2005*``, a rule's obfuscation character, became ``*``)."""
    out: list[str] = []
    quoted = escaped = False
    for ch in query:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch.isspace() and not ch.isascii() and not quoted:
            out.append("\\")
        out.append(ch)
    return "".join(out)


def _regex_text(text: str) -> str:
    # every character but a letter, digit, _, space or / escaped: the same literal to Python's re
    # (the matcher, SQLite) and to Lucene's dialect (canh.store.esquery.lucene_regex keeps a \\x);
    # pySigma's Lucene backend escapes the / itself
    return "".join(ch if ch.isalnum() or ch in "_ /" else "\\" + ch for ch in text)


@dataclass
class NullOrEmptyTransformation(ValueTransformation):
    """A Sigma ``null`` as the engine reads it, a missing *or empty* field (Windows records carry
    ``StartModule: ""``): pySigma writes only "does not exist"."""

    def apply_value(self, field: str | None, val: SigmaType) -> list[SigmaType] | None:
        if field is None or not isinstance(val, SigmaNull):
            return None
        return [val, SigmaString("")]


@dataclass
class TextCidrTransformation(ValueTransformation):
    """A ``|cidr`` on a field that is not an address (``winlog.event_data.IpAddress``, a keyword) as
    the address patterns of the network (``10.*``; ``fe8*`` ... for ``fe80::/10``): a query would
    compare the network as a plain string there, the engine tests membership."""

    def apply_value(self, field: str | None, val: SigmaType) -> list[SigmaType] | None:
        if field is None or is_ip_field(field) or not isinstance(val, SigmaCIDRExpression):
            return None
        return [SigmaString(p) for p in val.expand(wildcard="*")]


# A field's list of more values than this keeps pySigma's form (compared with case): a caseless
# expression's automaton is far larger than a term's, and the 4,432 hashes of
# driver_load_win_vuln_drivers as such expressions trip Elasticsearch's memory circuit breaker.
CASELESS_MAX_VALUES = 100


@dataclass
class CaselessValueTransformation(ValueTransformation):
    """A string value with a cased letter as the ``(?i)`` whole-value expression of it: Sigma
    compares strings without case, Lucene's ``field:value`` and wildcards on a keyword field with
    it (and as words on a text field, where Sigma means the whole value). ``|cased`` values,
    placeholders, field-less keywords, lists of over :data:`CASELESS_MAX_VALUES` values and the
    variants a modifier expands (``|windash``: pySigma's Lucene backend cannot group expressions
    there) are left as they are."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        if len(detection_item.value) > CASELESS_MAX_VALUES:
            return None
        return super().apply_detection_item(detection_item)

    def apply_value(self, field: str | None, val: SigmaType) -> SigmaType | None:
        if field is None or type(val) is not SigmaString or is_ip_field(field) or is_date_field(field):
            return None  # (an address or time field takes no regular expression)
        out: list[str] = []
        cased = False
        for part in val.s:
            if isinstance(part, str):
                cased = cased or part.lower() != part.upper()
                out.append(_regex_text(part))
            elif part is SpecialChars.WILDCARD_MULTI:
                out.append(".*")
            elif part is SpecialChars.WILDCARD_SINGLE:
                out.append(".")
            else:
                return None  # a placeholder
        if not cased:
            return None
        return SigmaRegularExpression("(?i)^" + "".join(out) + "$")


@dataclass
class LuceneQueryTransformation(QueryPostprocessingTransformation):
    """A rule's Lucene query made to mean what the engine does: its regular expressions searching
    the value (Lucene's are anchored), its quoted values read as written, its non-ASCII spaces
    escaped. Lucene strings only."""

    def apply(self, rule: SigmaRule | SigmaCorrelationRule, query: Any) -> Any:
        super().apply(rule, query)
        if not isinstance(rule, SigmaRule) or not isinstance(query, str):
            return query
        if not query.isascii():
            query = _escape_unicode_spaces(query)
        if "/" in query or '"' in query:
            query = _lucene_terms(query)
        return query
