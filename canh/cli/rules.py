"""``canh rules``: check, test, list, convert and backtest Sigma rules."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from canh.cli.app import Ctx, emit_json, pass_ctx, table
from canh.clock import parse_since
from canh.errors import RuleError
from canh.i18n import t


def _load(ctx: Ctx, paths: tuple[str, ...]) -> Any:
    """Rules from PATHs, or the configured set (pack + config folders) when none is given."""
    from canh.rules.loader import load_config_rules, load_paths

    if paths:
        return load_paths([Path(p) for p in paths])
    cfg = ctx.runtime.config.rules
    return load_config_rules(cfg.paths, cfg.include_pack)


def _placeholders(ctx: Ctx) -> dict[str, list[str]]:
    """rules.placeholders and the files of rules.placeholder_files (a bad address is an error)."""
    from canh.rules.placeholders import of_config

    try:
        cfg = ctx.runtime.config.rules
    except Exception:  # a broken config is reported by the commands that need it
        return {}
    return of_config(cfg)


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
    """Parse, validate and compile rules; print each problem and warning with file:line and the
    reason (exit 1 on any problem; warnings alone leave it 0)."""
    from canh.rules.engine import Engine
    from canh.rules.fieldcheck import unknown_fields
    from canh.rules.validate import validate

    loaded = _load(ctx, paths)
    issues = validate([*loaded.rules, *loaded.correlations], ctx.runtime.config.rules.validators)
    fields = [w for r in loaded.rules for w in unknown_fields(r)]  # before compiling: it maps fields in place
    compiled, unsupported = _compile(ctx, loaded)
    corr_problems: list[Any] = []
    if loaded.correlations:
        corr_problems = Engine(compiled, loaded.correlations).correlation_problems
    rows = [{"where": p.where, "reason": p.reason, "kind": "parse", "error": True} for p in loaded.problems]
    rows += [
        {"where": u.where, "reason": u.reason, "kind": "placeholder" if u.placeholder else "unsupported",
         "error": not u.placeholder}
        for u in unsupported
    ]  # fmt: skip
    rows += [
        {"where": u.path or u.id, "reason": u.reason, "kind": "correlation", "error": True}
        for u in corr_problems
    ]
    rows += [
        {"where": i.where, "reason": f"[{i.validator}] {i.message}", "kind": "validator", "error": i.is_error,
         "validator": i.validator, "severity": i.severity}
        for i in issues
    ]  # fmt: skip
    rows += [
        {"where": w.where, "reason": w.message, "kind": "field", "error": False, "field": w.field}
        for w in fields
    ]
    rows.sort(key=_row_order)
    errors = sum(1 for r in rows if r["error"])
    if as_json:
        emit_json(rows)
    else:
        for row in rows:
            if row["kind"] == "placeholder":
                continue  # inactive, not a warning: said once below
            key = "rules.problem" if row["error"] else "rules.warning"
            ctx.out.print(t(key, where=row["where"], reason=row["reason"]), markup=False)
        _print_inactive(ctx, unsupported)
        ctx.out.print(
            t(
                "rules.check_summary",
                files=loaded.files,
                rules=len(compiled),
                correlations=len(loaded.correlations),
                problems=errors,
                warnings=sum(1 for r in rows if not r["error"] and r["kind"] != "placeholder"),
            )
        )
    if errors:
        sys.exit(1)


def _print_inactive(ctx: Ctx, unsupported: list[Any]) -> None:
    """One line per placeholder that rules wait for (a deployment fills it, e.g. a threat-intel list)."""
    from canh.rules.engine import inactive_notes

    for note in inactive_notes(unsupported):
        ctx.out.print(note, markup=False)


def _row_order(row: dict[str, Any]) -> tuple[str, int, str]:
    """Problems by file and line (``path:12`` sorts as a number), so one file's lines read together."""
    where = str(row["where"])
    path, _, line = where.rpartition(":")
    if line.isdigit():
        return path, int(line), row["reason"]
    return where, 0, row["reason"]


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
    _, unsupported = _compile(ctx, loaded)
    inactive = {u.id: u.waits_for for u in unsupported if u.placeholder}
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
                **({"waits_for": inactive[str(r.id)]} if str(r.id) in inactive else {}),
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
    _print_inactive(ctx, unsupported)
    ctx.out.print(t("rules.listed", n=len(rows)))


def _select(ctx: Ctx, ref: str) -> list[Any]:
    """What RULE names: every rule and correlation of a file, or the one rule or correlation with
    that id, name, exact title or unique id prefix (searched in the configured set)."""
    from canh.rules.loader import load_paths

    path = Path(ref)
    if path.is_file():
        loaded = load_paths([path])
        if loaded.problems:
            # A correlation may reference rules of other files: resolve it among the configured ones.
            cfg = ctx.runtime.config.rules
            from canh.rules.loader import PACK_DIR

            roots = [*([PACK_DIR] if cfg.include_pack else []), *(Path(p).expanduser() for p in cfg.paths)]
            wider = load_paths([*roots, path])
            mine = [p for p in wider.problems if Path(p.path).resolve() == path.resolve()]
            if not mine:
                loaded = wider
            else:
                loaded.problems = mine
        if loaded.problems:
            p = loaded.problems[0]
            raise RuleError("rules.invalid", where=p.where, reason=p.reason)
        here = path.resolve()
        items = [
            r
            for r in _in_file_order([*loaded.rules, *loaded.correlations])
            if r.source and Path(r.source.path).resolve() == here
        ]
        if not items:
            raise RuleError("rules.not_found", ref=ref)
        return items
    loaded = _load(ctx, ())
    every = [*loaded.rules, *loaded.correlations]
    for r in every:
        if ref in (str(r.id), r.name, r.title):
            return [r]
    # A unique id prefix, as `canh rules list` shows ids (and as git takes commit prefixes).
    if len(ref) >= _MIN_PREFIX:
        hits = [r for r in every if str(r.id).startswith(ref.lower())]
        if len(hits) == 1:
            return hits
        if hits:
            raise RuleError(
                "rules.ambiguous", ref=ref, n=len(hits), ids=", ".join(str(r.id) for r in hits[:5])
            )
    raise RuleError("rules.not_found", ref=ref)


def _in_file_order(items: list[Any]) -> list[Any]:
    """Rules and correlations of a file in the order the file has them."""
    return sorted(
        items, key=lambda r: (str(r.source.path) if r.source else "", getattr(r.source, "line", 0) or 0)
    )


_MIN_PREFIX = 6
_SHOWN_ID = 8


@rules_group.command("convert")
@click.argument("rule")
@click.option(
    "--to", "target", type=click.Choice(["lucene", "eql", "esql"]), default="lucene", show_default=True
)
@pass_ctx
def convert_cmd(ctx: Ctx, rule: str, target: str) -> None:
    """Convert RULE (a file, id or title: every rule and correlation it names) to Elasticsearch
    queries with Canh's field mapping; a correlation with no single query says why in one line."""
    from canh.rules.convert import convert

    items = _select(ctx, rule)
    results = convert(items, target, _placeholders(ctx))
    printed = 0
    for res in results:
        # Queries go to stdout (to pipe into Elasticsearch); what they are and why one is missing to stderr.
        if len(results) > 1 and res.queries:
            ctx.err.print(t("rules.convert_header", title=res.title, kind=res.kind), markup=False)
        if res.reason is not None:
            ctx.err.print(
                t("rules.convert_none", title=res.title, kind=res.kind, target=target, reason=res.reason),
                markup=False,
            )
        for q in res.queries:
            click.echo(q)
            printed += 1
    if not printed:
        reasons = "; ".join(r.reason for r in results if r.reason) or target
        raise RuleError("rules.convert_failed", where=rule, reason=reasons)


@rules_group.command("backtest")
@click.argument("rule")
@click.option("--since", default="7d", show_default=True, help="Duration back from now or ISO time.")
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000), help="Matches shown."
)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON matching event (or correlation hit) per line."
)
@pass_ctx
def backtest_cmd(ctx: Ctx, rule: str, since: str, limit: int, as_json: bool) -> None:
    """Run RULE (a rule, a correlation, or every one of a file) over the stored events of the period,
    in time order, and list the events it matches and the correlation hits it raises."""
    from canh.rules.backtest import Backtest

    items = _select(ctx, rule)
    test = Backtest.of(items, _placeholders(ctx), limit=limit)
    rt = ctx.runtime
    test.run(rt.store.scan("events", "*", since=parse_since(since, rt.clock)))
    if as_json:
        emit_json([*test.events, *(h.as_json() for h in test.hits)])
        return
    if test.events or not test.hits:
        from canh.cli.events import print_events

        print_events(ctx, test.events)
    if test.hits:
        cols = [
            ctx.time_header(),
            t("rules.col_title"),
            t("rules.col_group"),
            t("rules.col_value"),
            t("rules.col_events"),
        ]
        ctx.out.print(
            table(
                None,
                cols,
                (
                    (
                        ctx.when(h.first.isoformat()),
                        h.title,
                        ", ".join(f"{k}={v}" for k, v in h.group.items()),
                        h.value,
                        h.events,
                    )
                    for h in test.hits
                ),
            )
        )
    if len(test.counts) == 1 and not test.correlations:
        ((title, n),) = test.counts.items()
        ctx.out.print(t("rules.backtest_summary", scanned=test.scanned, matched=n, rule=title))
        return
    for title, n in test.counts.items():
        ctx.out.print(t("rules.backtest_rule", rule=title, matched=n), markup=False)
    for title, n in test.correlations.items():
        ctx.out.print(t("rules.backtest_correlation", rule=title, hits=n), markup=False)
    ctx.out.print(t("rules.backtest_scanned", scanned=test.scanned))


COMMANDS = [rules_group]
