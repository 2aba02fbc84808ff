"""``heroes config check|show|defaults``."""

from __future__ import annotations

import json

import click

from alerting.rules import SKIPPED_KINDS
from config import Problem, Settings
from config.errors import key_path
from config.loader import FileCheck, check_file, masked
from config.render import render_defaults
from documents import KINDS
from errors import QueryError
from heroes.cli.app import EXIT_PROBLEMS, Context, main, pass_context
from query.querystring import parse_query_string


@main.group("config")
def config_group() -> None:
    """Check and show settings."""


def rule_query_problems(settings: Settings, checked: FileCheck) -> list[Problem]:
    """A problem for each alert rule whose query parses for none of the kinds it watches."""
    problems = []
    watched = [kind for kind in KINDS if kind not in SKIPPED_KINDS]
    for i, rule in enumerate(settings.alerts.rules):
        if not rule.query.strip():
            continue
        errors: list[QueryError] = []
        for kind in rule.kinds or watched:
            try:
                parse_query_string(rule.query, kind)
                break
            except QueryError as exc:
                errors.append(exc)
        else:
            loc = ("alerts", "rules", i, "query")
            problems.append(
                Problem(checked.source, checked.line_of(loc), key_path(loc),
                        f"{rule.query!r}: {errors[0] if errors else 'no kind to apply it to'}")
            )
    return problems


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@pass_context
def check(ctx: Context, file: str | None) -> None:
    """Validate FILE (default: the --config file) as it stands, without the environment.

    One line per problem, FILE:LINE: key: what (bad values, alert-rule queries that do
    not parse, secrets written in the file instead of the environment); exit 1 if any.
    """
    target = file or ctx.config_file
    if target is None:
        click.echo("(defaults): ok")
        return
    checked = check_file(target)
    problems = list(checked.problems)
    if checked.settings is not None:
        problems.extend(rule_query_problems(checked.settings, checked))
    if problems:
        for problem in sorted(problems, key=lambda p: p.line or 0):
            click.echo(str(problem))
        raise SystemExit(EXIT_PROBLEMS)
    click.echo(f"{target}: ok")


@config_group.command("show")
@pass_context
def show(ctx: Context) -> None:
    """Print the effective settings as JSON, secrets and credentials in URLs masked."""
    click.echo(json.dumps(masked(ctx.settings), indent=2, default=str))


@config_group.command("defaults")
def defaults() -> None:
    """Print every option with its default and doc (the contents of config/defaults.toml)."""
    click.echo(render_defaults(), nl=False)
