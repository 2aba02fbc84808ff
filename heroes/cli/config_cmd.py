"""``heroes config check|show|defaults``."""

from __future__ import annotations

import json

import click

from config import ConfigError, load_settings
from config.loader import masked
from config.render import render_defaults
from heroes.cli.app import EXIT_PROBLEMS, Context, main, pass_context


@main.group("config")
def config_group() -> None:
    """Check and show settings."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_context
def check(ctx: Context, file: str | None) -> None:
    """Validate FILE (default: the --config file); one line per problem, exit 1 if any."""
    target = file or ctx.config_file
    try:
        load_settings(target, environ={})
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        raise SystemExit(EXIT_PROBLEMS) from None
    click.echo(f"{target or '(defaults)'}: ok")


@config_group.command("show")
@pass_context
def show(ctx: Context) -> None:
    """Print the effective settings as JSON, secrets masked."""
    click.echo(json.dumps(masked(ctx.settings), indent=2, default=str))


@config_group.command("defaults")
def defaults() -> None:
    """Print every option with its default and doc (the contents of config/defaults.toml)."""
    click.echo(render_defaults(), nl=False)
