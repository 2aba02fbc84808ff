"""``heroes index ingest|drain|stats``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from heroes.cli.app import EXIT_PROBLEMS, Context, main, pass_context, run_async
from heroes.ingest import read_jsonl
from heroes.stages import drain_stages
from index.documents import KINDS
from index.store import Store


@main.group("index")
def index_group() -> None:
    """Feed, drain and inspect the index."""


@index_group.command("ingest")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--no-drain", is_flag=True, help="Only append to the spool; leave draining to the writer."
)
@pass_context
@run_async
async def ingest(ctx: Context, file: str, no_drain: bool) -> None:
    """Append the documents of a JSON-lines FILE to the spool, then drain.

    Bad lines are reported as FILE:LINE: field: problem; good lines are kept (exit 1 if any
    line was bad).
    """
    store = Store(ctx.settings)
    report = read_jsonl(Path(file) if file != "-" else None, store.spool.append, name=file)
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(f"spooled {report.accepted} documents, {len(report.problems)} bad lines")
    if not no_drain:
        lock = store.writer_lock()
        if lock.try_acquire():
            lock.release()
            async with store.writer(drain_stages(ctx.settings, store)) as drainer:
                drained = await drainer.drain_all()
            click.echo(
                f"indexed {drained - drainer.counters.rejected} documents"
                + (f", {drainer.counters.rejected} set aside" if drainer.counters.rejected else "")
            )
        else:
            click.echo("another process holds the writer and will index them")
    store.close()
    if report.problems:
        raise SystemExit(EXIT_PROBLEMS)


@index_group.command("drain")
@pass_context
@run_async
async def drain(ctx: Context) -> None:
    """Drain the spool into the backend and exit."""
    store = Store(ctx.settings)
    async with store.writer(drain_stages(ctx.settings, store)) as drainer:
        drained = await drainer.drain_all()
    click.echo(f"drained {drained} documents ({drainer.counters.rejected} set aside)")
    store.close()


@index_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def stats(ctx: Context, as_json: bool) -> None:
    """Documents per kind, spool backlog and set-aside documents."""
    store = Store(ctx.settings)
    async with store.reader() as backend:
        counts = {kind: await backend.count(kind) for kind in KINDS}
        backend_name = backend.name
    result = {
        "backend": backend_name,
        "documents": counts,
        "spool_backlog": store.spool.backlog(),
        "rejected": store.spool.rejected_count(),
        "rejected_sample": store.spool.rejected(10),
    }
    store.close()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"backend: {backend_name}")
    for kind, n in counts.items():
        backlog = result["spool_backlog"].get(kind, 0)
        click.echo(f"  {kind:<12} {n:>10}" + (f"   (+{backlog} spooled)" if backlog else ""))
    if result["rejected"]:
        click.echo(f"set aside: {result['rejected']} documents")
        for item in result["rejected_sample"]:
            click.echo(f"  {item['kind']}/{item['id']}: {item['reason']}")
