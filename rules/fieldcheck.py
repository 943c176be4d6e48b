"""Rule fields no Canh collector produces for the rule's log source (``canh rules check`` warnings).

A field the pipeline maps (a Sigma taxonomy name such as ``c-uri``) is Canh's to get right; a field
it leaves as written must be one the log source's events have, or the rule can never match: a
typo, or a field of a log Canh does not collect. Windows rules are left alone (every EventData name
is taken as written, and each channel has its own), and so are log sources no collector feeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

from canh.i18n import t
from canh.rules import locate
from canh.rules.emitted import fields_for
from canh.rules.pipelines import map_field


@dataclass(frozen=True)
class FieldWarning:
    """A field of a rule that no event of its log source carries."""

    path: str | None
    line: int | None
    field: str
    logsource: str
    message: str

    @property
    def where(self) -> str:
        return locate.where(self.path, self.line)


def detection_fields(rule: SigmaRule) -> Iterator[str]:
    """The field names a rule's detections test (as written, before the pipeline), once each."""
    seen: set[str] = set()
    stack: list[Any] = list(rule.detection.detections.values())
    while stack:
        item = stack.pop()
        if isinstance(item, SigmaDetection):
            stack.extend(item.detection_items)
        elif isinstance(item, SigmaDetectionItem) and item.field and item.field not in seen:
            seen.add(item.field)
            yield item.field


def _describe(product: str | None, category: str | None, service: str | None) -> str:
    return ", ".join(
        f"{k}: {v}" for k, v in (("product", product), ("category", category), ("service", service)) if v
    )


def unknown_fields(rule: SigmaRule) -> list[FieldWarning]:
    """Fields of ``rule`` left unmapped by the pipeline that no collector emits for its log source.
    Call it before the rule is compiled (compiling applies the pipeline to the rule in place)."""
    ls = rule.logsource
    product, category, service = ls.product, ls.category, ls.service
    if (product or "").lower() == "windows":
        return []
    routes, emitted, prefixes = fields_for(product, category, service)
    if not routes:
        return []
    out: list[FieldWarning] = []
    path = str(rule.source.path) if rule.source and rule.source.path else None
    start = rule.source.line if rule.source else None
    desc = _describe(product, category, service)
    datasets = ", ".join(sorted({r.split("|", 1)[0] for r in routes}))
    for name in detection_fields(rule):
        if map_field(name, product, category, service) != name:
            continue  # the pipeline maps it: a taxonomy name
        if name in emitted or (prefixes and name.startswith(prefixes)):
            continue
        message = t("rules.field_unknown", field=name, logsource=desc, datasets=datasets)
        line = locate.detail_line(path, start, f"'{name}'", ("detection",))
        out.append(FieldWarning(path, line, name, desc, message))
    return out
