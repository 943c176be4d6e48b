"""``canh rules``: check, test, list, convert and backtest Sigma rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.clock import parse_since
from canh.errors import RuleError
from canh.events import get
from canh.i18n import t


def _load(ctx: Ctx, paths: tuple[str, ...]) -> Any:
    """Rules from PATHs, or the configured set (pack + config folders) when none is given."""
    from canh.rules.loader import load_config_rules, load_paths

    if paths:
        return load_paths([Path(p) for p in paths])
    cfg = ctx.runtime.config.rules
    return load_config_rules(cfg.paths, cfg.include_pack)


def _placeholders(ctx: Ctx) -> dict[str, list[str]]:
    try:
        return dict(ctx.runtime.config.rules.placeholders)
    except Exception:  # a broken config is reported by the commands that need it
        return {}


def _compile(ctx: Ctx, loaded: Any) -> tuple[Any, Any]:
    from canh.rules.engine import compile_rules

    return compile_rules(loaded.rules, _placeholders(ctx))


@click.group("rules")
def rules_group() -> None:
    """Write, check, test and convert Sigma detection rules."""


@rules_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON problem per line.")
@pass_ctx
def check_cmd(ctx: Ctx, paths: tuple[str, ...], as_json: bool) -> None:
    """Parse and compile rules; print each problem with file:line and the reason (exit 1 on any)."""
    from canh.rules.engine import Engine

    loaded = _load(ctx, paths)
    compiled, unsupported = _compile(ctx, loaded)
    corr_problems: list[Any] = []
    if loaded.correlations:
        try:
            corr_problems = Engine(compiled, loaded.correlations).correlation_problems
        except ImportError:
            corr_problems = []
    rows = [{"where": p.where, "reason": p.reason, "kind": "parse"} for p in loaded.problems]
    rows += [{"where": u.where, "reason": u.reason, "kind": "unsupported"} for u in unsupported]
    rows += [{"where": u.path or u.id, "reason": u.reason, "kind": "correlation"} for u in corr_problems]
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            ctx.out.print(t("rules.problem", where=row["where"], reason=row["reason"]), markup=False)
        ctx.out.print(
            t(
                "rules.check_summary",
                files=loaded.files,
                rules=len(compiled),
                correlations=len(loaded.correlations),
                problems=len(rows),
            )
        )
    if rows:
        sys.exit(1)


@rules_group.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@pass_ctx
def test_cmd(ctx: Ctx, paths: tuple[str, ...]) -> None:
    """Run the rules' test cases (x.tests.yml or a tests: attribute); show why a case failed."""
    from canh.rules.loader import PACK_DIR
    from canh.rules.ruletests import run_paths

    loaded = _load(ctx, paths)
    compiled, _ = _compile(ctx, loaded)
    roots = (
        [Path(p) for p in paths] if paths else [PACK_DIR, *(Path(p) for p in ctx.runtime.config.rules.paths)]
    )
    results = run_paths(roots, compiled, loaded.correlations)
    failed = 0
    cases = 0
    for res in results:
        cases += len(res.cases)
        if res.ok:
            ctx.out.print(t("rules.test_pass", path=res.path, n=len(res.cases)), markup=False)
            continue
        failed += 1
        if res.error:
            ctx.out.print(t("rules.test_error", path=res.path, reason=res.error), markup=False)
        for case in res.cases:
            if case.ok:
                continue
            key = "rules.test_missed" if case.expect else "rules.test_false_alarm"
            ctx.out.print(t(key, path=res.path, n=case.index), markup=False)
            for line in case.explain:
                ctx.out.print("    " + line, markup=False)
    for p in loaded.problems:
        ctx.out.print(t("rules.problem", where=p.where, reason=p.reason), markup=False)
    ctx.out.print(t("rules.test_summary", files=len(results), cases=cases, failed=failed))
    if failed or loaded.problems or not results:
        if not results:
            ctx.out.print(t("rules.test_none"))
        sys.exit(1)


@rules_group.command("list")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON rule per line.")
@pass_ctx
def list_cmd(ctx: Ctx, paths: tuple[str, ...], as_json: bool) -> None:
    """The rules that would run: id, title, level, log source, ATT&CK techniques."""
    from canh.rules.engine import attack_ids

    loaded = _load(ctx, paths)
    rows: list[dict[str, Any]] = []
    for r in loaded.rules:
        ls = r.logsource
        rows.append(
            {
                "id": str(r.id or ""),
                "title": r.title,
                "level": str(r.level.name).lower() if r.level else None,
                "status": str(r.status.name).lower() if r.status else None,
                "logsource": {
                    k: v
                    for k, v in (("product", ls.product), ("category", ls.category), ("service", ls.service))
                    if v
                },
                "author": r.author,
                "techniques": attack_ids(str(x) for x in r.tags or []),
                "path": str(r.source.path) if r.source else None,
                "type": "rule",
            }
        )
    for c in loaded.correlations:
        rows.append(
            {
                "id": str(c.id or ""),
                "title": c.title,
                "level": str(c.level.name).lower() if c.level else None,
                "type": f"correlation:{c.type.name.lower()}",
                "path": str(c.source.path) if c.source else None,
                "author": c.author,
            }
        )
    if as_json:
        emit_json(rows)
        return
    cols = [t("rules.col_id"), t("col.level"), t("rules.col_title"), t("rules.col_logsource"), "ATT&CK"]
    ctx.out.print(
        table(
            None,
            cols,
            (
                (
                    str(r["id"])[:_SHOWN_ID],
                    r.get("level"),
                    r["title"],
                    "/".join(r.get("logsource", {}).values()) or r.get("type"),
                    ", ".join(r.get("techniques", [])),
                )
                for r in rows
            ),
            one_line=True,
            flex=(2, 3),
        )
    )
    ctx.out.print(t("rules.listed", n=len(rows)))


def _find_rule(ctx: Ctx, ref: str) -> Any:
    """A rule by file path, id, name or exact title (searched in the configured set)."""
    from canh.rules.loader import load_paths

    path = Path(ref)
    if path.is_file():
        loaded = load_paths([path])
        if loaded.problems:
            p = loaded.problems[0]
            raise RuleError("rules.invalid", where=p.where, reason=p.reason)
        if not loaded.rules:
            raise RuleError("rules.not_found", ref=ref)
        return loaded.rules[0]
    loaded = _load(ctx, ())
    for r in loaded.rules:
        if ref in (str(r.id), r.name, r.title):
            return r
    # A unique id prefix, as `canh rules list` shows ids (and as git takes commit prefixes).
    if len(ref) >= _MIN_PREFIX:
        hits = [r for r in loaded.rules if str(r.id).startswith(ref.lower())]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise RuleError("rules.ambiguous", ref=ref, n=len(hits), ids=", ".join(str(r.id) for r in hits[:5]))
    raise RuleError("rules.not_found", ref=ref)


_MIN_PREFIX = 6
_SHOWN_ID = 8


@rules_group.command("convert")
@click.argument("rule")
@click.option(
    "--to", "target", type=click.Choice(["lucene", "eql", "esql"]), default="lucene", show_default=True
)
@pass_ctx
def convert_cmd(ctx: Ctx, rule: str, target: str) -> None:
    """Convert RULE (a file, id or title) to an Elasticsearch query with Canh's field mapping."""
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaError

    from canh.rules.pipelines import canh_pipeline

    sigma_rule = _find_rule(ctx, rule)
    if target == "lucene":
        from sigma.backends.elasticsearch import LuceneBackend as Backend
    elif target == "eql":
        from sigma.backends.elasticsearch import EqlBackend as Backend  # type: ignore[assignment]
    else:
        from sigma.backends.elasticsearch import ESQLBackend as Backend  # type: ignore[assignment]
    backend = Backend(canh_pipeline(_placeholders(ctx)))
    try:
        queries = backend.convert(SigmaCollection([sigma_rule]))
    except SigmaError as err:
        raise RuleError("rules.convert_failed", where=rule, reason=str(err)) from err
    for q in queries:
        click.echo(q)


@rules_group.command("backtest")
@click.argument("rule")
@click.option("--since", default="7d", show_default=True, help="Duration back from now or ISO time.")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000), help="Matches shown."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON matching event per line.")
@pass_ctx
def backtest_cmd(ctx: Ctx, rule: str, since: str, limit: int, as_json: bool) -> None:
    """Run RULE over the stored events of the period and list the events it matches."""
    from canh.rules.engine import Engine, compile_rules

    sigma_rule = _find_rule(ctx, rule)
    compiled, bad = compile_rules([sigma_rule], _placeholders(ctx))
    if bad:
        raise RuleError("rules.unsupported", where=bad[0].path or rule, reason=bad[0].reason)
    engine = Engine(compiled)
    rt = ctx.runtime
    scanned = 0
    hits: list[dict[str, Any]] = []
    total = 0
    for event in rt.store.scan("events", "*", since=parse_since(since, rt.clock)):
        scanned += 1
        _, matched = engine.match_rules(event)
        if matched:
            total += 1
            if len(hits) < limit:
                hits.append(event)
    if as_json:
        emit_json(hits)
        return
    cols = [ctx.time_header(), t("col.host"), t("col.source"), t("col.dataset"), t("col.message")]
    ctx.out.print(
        table(
            None,
            cols,
            (
                (
                    ctx.when(e.get("@timestamp")),
                    get(e, "host.name"),
                    get(e, "source.ip"),
                    get(e, "event.dataset"),
                    (get(e, "message") or get(e, "event.original") or "")[:160],
                )
                for e in hits
            ),
        )
    )
    ctx.out.print(t("rules.backtest_summary", scanned=scanned, matched=total, rule=compiled[0].title))


COMMANDS = [rules_group]
