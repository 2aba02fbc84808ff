"""``heroes index purge``: delete documents older than the ``[retention]`` policy (audited)."""

from __future__ import annotations

import json

import click

from heroes.cli.app import Context, pass_context, run_async
from heroes.cli.index_cmd import index_group
from heroes.console.audit import AuditLog
from heroes.console.retention import cutoffs, purge
from index.store import Store


@index_group.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def purge_cmd(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Delete documents older than [retention] allows, per kind; the audit log records it."""
    settings = ctx.settings
    plan = cutoffs(settings.retention)
    if not plan:
        click.echo("retention keeps everything ([retention] sets no limit)")
        return
    store = Store(settings)
    try:
        async with store.writer() as drainer:
            result = await purge(drainer.backend, settings.retention, dry_run=dry_run)
    finally:
        store.close()
    if not dry_run:
        AuditLog.for_data_dir(settings.data_dir).record(
            "purge",
            user="(cli)",
            deleted=result,
            before={c.kind: c.before.isoformat() for c in plan},
        )
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "deleted": result}))
        return
    verb = "would delete" if dry_run else "deleted"
    for cut in plan:
        click.echo(f"{cut.kind:<12} older than {cut.days} days: {verb} {result.get(cut.kind, 0)}")
