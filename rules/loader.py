"""Loading Sigma rule files: the shipped pack and the folders named in config.

YAML is read with libyaml's ``CSafeLoader`` (about 10x faster than the pure-Python loader pySigma
uses), then each document is handed to pySigma as a dict. A file that fails is reported with its
path, line and pySigma's reason; every other file still loads. Correlation rules are kept apart for
the Correlator, and their references are resolved across all the files loaded together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from canh.rules import locate

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing: slower but correct
    _Loader = yaml.SafeLoader

PACK_DIR = Path(__file__).parent / "pack"
RULE_SUFFIXES = (".yml", ".yaml")
TESTS_SUFFIX = ".tests"  # x.tests.yml holds the test cases of x.yml, never a rule


@dataclass(frozen=True)
class RuleProblem:
    """One file (or document) that could not be loaded: where, and pySigma's reason."""

    path: str
    line: int | None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass
class LoadedRules:
    """Parsed rules (pySigma objects), correlation rules, and the problems met on the way."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0


def is_rule_file(path: Path) -> bool:
    """A Sigma rule file by name: ``*.yml``/``*.yaml`` that is not a ``*.tests.yml`` case file."""
    return path.suffix in RULE_SUFFIXES and not path.stem.endswith(TESTS_SUFFIX)


def iter_rule_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Rule files under each path (a file is taken as is), in a stable order."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from (f for f in sorted(path.rglob("*")) if f.is_file() and is_rule_file(f))
        else:
            yield path


_KEY_HINTS = (
    ("condition", "detection"),
    ("detection", "detection"),
    ("modifier", "detection"),
    ("logsource", "logsource"),
    ("log source", "logsource"),
    ("status", "status"),
    ("level", "level"),
    ("date", "date"),
    ("modified", "modified"),
    ("identifier", "id"),
    (" id", "id"),
    ("title", "title"),
    ("tag", "tags"),
    ("correlation", "correlation"),
    ("related", "related"),
)


def _clean(reason: str, path: Path) -> str:
    """pySigma's message without the location it appends (we print file:line in front)."""
    reason = re.sub(r"\s+in rule .*$|\s*\(in .*\)$", "", reason)
    for where in (str(path.resolve()), str(path)):
        reason = reason.replace(f" in {where}", "")
    return reason.strip()


def _problem(path: Path, text: str, err: Exception, doc_line: int | None = None) -> RuleProblem:
    """A problem with the best line we can name: YAML marks, pySigma's location, the line holding
    what the message quotes (``source.ip|bogus``, the regex, the undefined detection), or the key."""
    line: int | None = None
    reason = str(err)
    if isinstance(err, yaml.MarkedYAMLError) and err.problem_mark is not None:
        line = err.problem_mark.line + 1
        reason = f"{err.problem or 'YAML error'}" + (f" ({err.context})" if err.context else "")
        return RuleProblem(str(path), line, reason)
    if isinstance(err, SigmaError):
        src = getattr(err, "source", None)
        reason = _clean(str(err), path)
        if isinstance(src, SigmaRuleLocation) and src.line and src.line != doc_line:
            line = src.line
        if line is None:
            low = type(err).__name__.lower() + " " + reason.lower()
            keys = [key for hint, key in _KEY_HINTS if hint in low]
            lines = text.splitlines()
            lo, hi = locate.doc_span(lines, doc_line or 1)
            needles = [("|" + t if "modifier" in low else t) for t in locate.tokens(reason)]
            needles += locate.tokens(reason)
            line = locate.find_line(lines, lo, hi, needles)
            for key in keys:
                if line is not None:
                    break
                line = locate.key_line(lines, lo, hi, key)
    return RuleProblem(str(path), line or doc_line, reason.strip() or type(err).__name__)


def parse_text(text: str, path: Path, out: LoadedRules) -> list[SigmaRule | SigmaCorrelationRule]:
    """Parse one file's text; problems go to ``out.problems``, the parsed rules are returned (each
    with its document's first line in ``rule.source.line``)."""
    try:
        raw = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as err:
        out.problems.append(_problem(path, text, err))
        return []
    docs = [d for d in raw if d is not None]
    if not docs:
        out.problems.append(RuleProblem(str(path), None, "no YAML document in the file"))
        return []
    if not all(isinstance(d, dict) for d in docs):
        out.problems.append(RuleProblem(str(path), 1, "a rule must be a YAML mapping"))
        return []
    source = SigmaRuleLocation(path)
    try:
        coll = SigmaCollection.from_dicts(docs, collect_errors=True, source=source, resolve_references=False)
    except SigmaError as err:
        out.problems.append(_problem(path, text, err, 1))
        return []
    except Exception as err:  # pySigma raises plain errors on some malformed shapes
        out.problems.append(RuleProblem(str(path), 1, f"{type(err).__name__}: {err}"))
        return []
    # One rule per document unless the file uses the old `action:` collection directives.
    starts = locate.doc_starts(text, raw) if len(coll.rules) == len(docs) else []
    good: list[SigmaRule | SigmaCorrelationRule] = []
    reported = False
    for i, rule in enumerate(coll.rules):
        start = starts[i] if starts else 1
        if rule.errors:
            out.problems.extend(_problem(path, text, e, start) for e in rule.errors[:1])
            reported = True
            continue
        if isinstance(rule, SigmaRule | SigmaCorrelationRule):
            if starts:
                rule.source = SigmaRuleLocation(path, line=start)
            good.append(rule)
    if coll.errors and not good and not reported:  # an error no rule carries (the file as a whole)
        out.problems.extend(_problem(path, text, e, 1) for e in coll.errors[:1])
    return good


def load_paths(paths: Sequence[Path | str]) -> LoadedRules:
    """Load every rule file under ``paths``; correlations get their rule references resolved."""
    out = LoadedRules()
    parsed: list[SigmaRule | SigmaCorrelationRule] = []
    for path in iter_rule_files(paths):
        out.files += 1
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            out.problems.append(RuleProblem(str(path), None, str(err)))
            continue
        parsed.extend(parse_text(text, path, out))
    rules = [r for r in parsed if isinstance(r, SigmaRule)]
    correlations = [r for r in parsed if isinstance(r, SigmaCorrelationRule)]
    if correlations:
        coll = SigmaCollection(list(parsed), resolve_references=False)
        for corr in correlations:
            try:
                corr.resolve_rule_references(coll)
            except SigmaError as err:
                where = corr.source.path if corr.source else Path("?")
                out.problems.append(RuleProblem(str(where), None, str(err)))
                continue
            out.correlations.append(corr)
    out.rules = rules
    return out


def load_config_rules(paths: Sequence[str], include_pack: bool = True) -> LoadedRules:
    """The rules a deployment runs: the shipped pack (unless turned off) plus the configured folders."""
    roots: list[Path] = []
    if include_pack and PACK_DIR.is_dir():
        roots.append(PACK_DIR)
    roots.extend(Path(p).expanduser() for p in paths)
    return load_paths(roots)
