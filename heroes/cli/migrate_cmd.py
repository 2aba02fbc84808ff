"""``heroes index migrate --to elasticsearch``: copy the embedded index into Elasticsearch.

Reads the embedded index of the data directory (``index.*`` settings) and writes to the
cluster of the ``elasticsearch.*`` settings, whatever ``index.backend`` says. Holds the index
writer lock while it runs, so no drain changes the embedded index under it; switch
``index.backend`` to ``elasticsearch`` afterwards.
"""

from __future__ import annotations

import json

import click

from documents import KINDS
from heroes.cli.app import EXIT_PROBLEMS, Context, UserError, pass_context, run_async
from heroes.cli.index_cmd import index_group
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy import TantivyBackend
from index.migrate import copy_index
from index.store import Store


@index_group.command("migrate")
@click.option("--to", "target", type=click.Choice(["elasticsearch"]), required=True,
              help="The backend to copy into (configured in the elasticsearch section).")
@click.option("--kind", "kinds", type=click.Choice(list(KINDS)), multiple=True,
              help="Copy only this kind (repeatable). Default: every kind.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Documents read and written per request.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def migrate(ctx: Context, target: str, kinds: tuple[str, ...], batch_size: int,
                  as_json: bool) -> None:
    """Copy every document of the embedded index into Elasticsearch.

    Safe to run again: documents keep their ids, so a second run overwrites, never
    duplicates. Exit 1 if any document could not be copied (each is listed).
    """
    settings = ctx.settings
    store = Store(settings)
    lock = store.embedded_writer_lock()
    if not lock.try_acquire():
        raise UserError("another process holds the index writer lock (a drain is running): "
                        "stop it first, so that nothing changes during the copy")
    source = TantivyBackend(store.data_dir / "index", settings.index)
    dest = ElasticsearchBackend(settings.elasticsearch)
    try:
        await source.open(writer=False)
        await dest.open(writer=True)
        report = await copy_index(source, dest, batch_size=batch_size, kinds=kinds or None)
    finally:
        await dest.close()
        await source.close()
        lock.release()
        store.close()
    summary = {kind: {"read": r.source, "copied": r.copied, "in_target": r.target}
               for kind, r in report.kinds.items()}
    if as_json:
        click.echo(json.dumps({"target": target, "kinds": summary, "problems": report.problems},
                              indent=2))
    else:
        click.echo(f"copied into {target} ({', '.join(settings.elasticsearch.hosts)}):")
        for kind, row in summary.items():
            click.echo(f"  {kind:<12} {row['copied']:>10} of {row['read']:<10} "
                       f"(now {row['in_target']} there)")
        for problem in report.problems:
            click.echo(f"not copied: {problem}", err=True)
    if report.problems:
        raise SystemExit(EXIT_PROBLEMS)
