"""``heroes audit export|verify``: the console's tamper-evident audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from heroes.cli.app import EXIT_PROBLEMS, Context, fail, main, pass_context
from heroes.console.audit import AuditLog


@main.group("audit")
def audit_group() -> None:
    """Read and check the audit log of console accesses."""


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {text!r} is not an ISO date or time (e.g. 2026-11-28 or 2026-11-28T12:00Z)")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@audit_group.command("export")
@click.option("--since", default=None, help="Only records at or after this ISO date/time (UTC).")
@click.option(
    "--output", "-o", type=click.File("w"), default="-", help="Write here (default stdout)."
)
@pass_context
def export(ctx: Context, since: str | None, output: click.utils.LazyFile) -> None:
    """Write audit records as JSON lines, each with its chain hash."""
    log = AuditLog.for_data_dir(ctx.settings.data_dir)
    count = 0
    for record in log.records(_since(since)):
        output.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    click.echo(f"{count} records", err=True)


@audit_group.command("verify")
@pass_context
def verify(ctx: Context) -> None:
    """Check the chain: exit 1 naming the first record that was edited, deleted or moved."""
    log = AuditLog.for_data_dir(ctx.settings.data_dir)
    problem = log.verify()
    if problem is not None:
        click.echo(f"{log.path}: {problem}", err=True)
        raise SystemExit(EXIT_PROBLEMS)
    count = sum(1 for _ in log.records())
    click.echo(f"{log.path}: {count} records, chain holds")
