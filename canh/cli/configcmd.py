"""``canh config check|show``: validate the configuration file."""

from __future__ import annotations

from typing import Any

import click
import yaml

from canh.cli.app import Ctx, pass_ctx
from canh.config import check_sources, load_config, read_config_text, resolve_paths
from canh.i18n import t


@click.group("config")
def config_group() -> None:
    """Check or show the configuration."""


@config_group.command("check")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@pass_ctx
def check_cmd(ctx: Ctx, path: str | None) -> None:
    """Validate the config file and each source's options; errors name the file, line and key."""
    paths = resolve_paths(ctx.home, path or ctx.config)
    cfg = load_config(paths, required=True)
    check_sources(cfg, read_config_text(paths), str(paths.config))
    ctx.out.print(t("config.ok", path=paths.config))


@config_group.command("show")
@pass_ctx
def show_cmd(ctx: Ctx) -> None:
    """Print the effective configuration (defaults filled in) as YAML, secrets masked."""
    cfg = redact(ctx.runtime.config.model_dump(mode="json"))
    ctx.out.print(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), markup=False)


# Secrets in canh.yml are never echoed: a config shown on screen or pasted into a ticket leaks nothing.
SECRET_KEYS = frozenset({"password", "api_key", "token", "secret"})


def redact(node: Any) -> Any:
    """The config with every secret value replaced by a mask (the *_file keys name files, not secrets)."""
    if isinstance(node, dict):
        return {k: ("********" if k in SECRET_KEYS and v else redact(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [redact(v) for v in node]
    return node


COMMANDS = [config_group]
