"""``heroes index purge``: delete documents older than the ``[retention]`` policy (audited).

On Elasticsearch, monthly indices holding only old documents are dropped whole; the output
(and ``--dry-run``) names each such index, and counts the boundary month's documents apart.
"""

from __future__ import annotations

import json

import click

from heroes.cli.app import Context, pass_context, run_async
from heroes.cli.index_cmd import index_group
from heroes.console.audit import AuditLog
from heroes.console.retention import cutoffs, purge_report
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
            report = await purge_report(drainer.backend, settings.retention, dry_run=dry_run)
    finally:
        store.close()
    result = {done.kind: done.total for done in report}
    if not dry_run:
        AuditLog.for_data_dir(settings.data_dir).record(
            "purge",
            user="(cli)",
            deleted=result,
            dropped={d.kind: [name for name, _ in d.dropped] for d in report if d.dropped},
            before={c.kind: c.before.isoformat() for c in plan},
        )
    if as_json:
        click.echo(json.dumps({
            "dry_run": dry_run, "deleted": result,
            "indices": {d.kind: [{"index": name, "documents": n} for name, n in d.dropped]
                        for d in report if d.dropped},
            "boundary": {d.kind: d.documents for d in report},
        }))
        return
    verb = "would delete" if dry_run else "deleted"
    drop_verb = "would drop" if dry_run else "dropped"
    by_kind = {d.kind: d for d in report}
    for cut in plan:
        done = by_kind[cut.kind]
        click.echo(f"{cut.kind:<12} older than {cut.days} days: {verb} {done.total}")
        for name, n in done.dropped:
            click.echo(f"{'':<12}   {drop_verb} index {name} whole ({n} documents)")
        if done.dropped:
            click.echo(f"{'':<12}   {verb} {done.documents} documents one by one "
                       "(boundary month)")
