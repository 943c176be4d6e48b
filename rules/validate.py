"""pySigma's rule validators (``sigma.validators.core``) plus two of Canh's, each issue with file:line.

The default set is every core validator except those that judge SigmaHQ's own conventions rather
than a rule (file names, a generic log source preferred to an event id) and those that download a
catalogue from the network on first use (ATT&CK, D3FEND, CAR, CVE: a SOC network may have no
Internet; ``attacktag`` can be named in ``rules.validators`` where it has). Canh adds
``level_existence`` (a rule without a level would alert as ``medium`` by default) and
``attack_technique_format`` (``attack.t99999`` is no ATT&CK technique: T and four digits, ``.NNN``
for a sub-technique). High and medium severity issues are errors, low ones warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule, SigmaRuleTag
from sigma.validators.base import (
    SigmaRuleValidator,
    SigmaTagValidator,
    SigmaValidationIssue,
    SigmaValidationIssueSeverity,
)

from canh.errors import ConfigError
from canh.rules import locate

NOT_BY_DEFAULT = frozenset(
    {
        "duplicate_filename",  # SigmaHQ's file naming; the pack has linux/ and windows/ rules of one name
        "filename_length",
        "specific_instead_of_generic_logsource",  # advice: Canh routes both forms
        "attacktag",  # these four download their catalogue on first use
        "d3_fendtag",
        "cartag",
        "cvetag",
        "tlpv1_tag",  # tlptag accepts both versions; each of these flags the other's tags
        "tlpv2_tag",
    }
)
_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")


@dataclass
class LevelMissingIssue(SigmaValidationIssue):
    description: ClassVar[str] = "Rule has no level (its alerts would be medium by default)"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.MEDIUM


class LevelExistenceValidator(SigmaRuleValidator):
    """Every rule says how serious its alerts are."""

    def validate(self, rule: SigmaRule | SigmaCorrelationRule) -> list[SigmaValidationIssue]:
        return [] if rule.level is not None else [LevelMissingIssue([rule])]


@dataclass
class AttackTechniqueFormatIssue(SigmaValidationIssue):
    description: ClassVar[str] = "ATT&CK technique tag is not T and four digits (.NNN for a sub-technique)"
    severity: ClassVar[SigmaValidationIssueSeverity] = SigmaValidationIssueSeverity.MEDIUM
    tag: SigmaRuleTag


class AttackTechniqueFormatValidator(SigmaTagValidator):
    """An ``attack.t...`` tag names a technique in ATT&CK's id form (checked offline)."""

    def validate_tag(self, tag: SigmaRuleTag) -> list[SigmaValidationIssue]:
        name = tag.name.lower()
        if (
            tag.namespace == "attack"
            and name[:1] == "t"
            and name[1:2].isdigit()
            and not _TECHNIQUE.fullmatch(name)
        ):
            return [AttackTechniqueFormatIssue([self.rule], tag)]
        return []


CANH_VALIDATORS: dict[str, type[SigmaRuleValidator]] = {
    "level_existence": LevelExistenceValidator,
    "attack_technique_format": AttackTechniqueFormatValidator,
}


def known() -> dict[str, type[SigmaRuleValidator]]:
    """Every validator by name: pySigma's core ones and Canh's."""
    from sigma.validators.core import validators as core

    return {**core, **CANH_VALIDATORS}


def default_names() -> list[str]:
    """The validators run when ``rules.validators`` is not set."""
    return sorted(n for n in known() if n not in NOT_BY_DEFAULT)


@dataclass(frozen=True)
class RuleIssue:
    """One validator issue about one rule, located."""

    path: str | None
    line: int | None
    validator: str
    severity: str
    message: str

    @property
    def where(self) -> str:
        return locate.where(self.path, self.line)

    @property
    def is_error(self) -> bool:
        return self.severity in ("high", "medium")


# Where an issue is, by the key it concerns (when the issue names no value to look for).
_KEYS = {
    "identifier": ("id", "title"),
    "title": ("title",),
    "reference": ("references",),
    "tag": ("tags",),
    "level": ("title",),
    "condition": ("detection",),
    "detection": ("detection",),
}


def _details(issue: SigmaValidationIssue) -> list[str]:
    return [
        str(getattr(issue, f.name))
        for f in fields(issue)
        if f.name not in ("rules", "severity", "description") and getattr(issue, f.name, None) is not None
    ]


def _locate(issue: SigmaValidationIssue, rule: Any) -> tuple[str | None, int | None]:
    src = getattr(rule, "source", None)
    path = str(src.path) if src is not None and src.path else None
    start = src.line if src is not None else None
    keys: tuple[str, ...] = ()
    name = type(issue).__name__.lower()
    for hint, ks in _KEYS.items():
        if hint in name:
            keys = ks
            break
    details = _details(issue)
    reason = " ".join(f"'{d}'" for d in details)
    return path, locate.detail_line(path, start, reason, keys)


def validators_named(names: Sequence[str] | None) -> dict[str, type[SigmaRuleValidator]]:
    """The validator classes to run; unknown names are a configuration error."""
    every = known()
    chosen = default_names() if names is None else list(names)
    unknown = [n for n in chosen if n not in every]
    if unknown:
        raise ConfigError(
            "config.bad_validator",
            where="rules.validators",
            value=", ".join(unknown),
            known=", ".join(sorted(every)),
        )
    return {n: every[n] for n in chosen}


def validate(
    rules: Iterable[SigmaRule | SigmaCorrelationRule], names: Sequence[str] | None = None
) -> list[RuleIssue]:
    """Run the validators over the rules (together: uniqueness is checked across all of them)."""
    items = list(rules)
    out: list[RuleIssue] = []
    for name, cls in validators_named(names).items():
        try:
            validator = cls()
        except TypeError:  # a validator that needs configuration we do not have
            continue
        issues: list[SigmaValidationIssue] = []
        for rule in items:
            issues.extend(validator.validate(rule))
        issues.extend(validator.finalize())
        for issue in issues:
            detail = ", ".join(_details(issue))
            message = issue.description + (f": {detail}" if detail else "")
            for rule in issue.rules:  # an id shared by two rules: one line at each
                path, line = _locate(issue, rule)
                out.append(RuleIssue(path, line, name, issue.severity.name.lower(), message))
    return sorted(out, key=lambda i: (i.path or "", i.line or 0, i.validator))
