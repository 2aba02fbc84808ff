"""``heroes index ingest|drain|stats``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from documents import KINDS
from documents.reader import UnreadableInput
from heroes.cli.app import EXIT_PROBLEMS, EXIT_USER, Context, fail, main, pass_context, run_async
from heroes.ingest import read_jsonl
from heroes.metrics import with_metrics
from heroes.roles import run_roles
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

    Each bad line is reported on stderr as FILE:LINE: field: problem (not JSON, not UTF-8,
    a duplicate key, too big or too deeply nested, a field of the wrong type...) and every
    good line is kept: exit 1 if some lines were bad, 2 if no line was good.
    """
    store = Store(ctx.settings)
    try:
        report = read_jsonl(
            Path(file) if file != "-" else None,
            store.spool.append,
            name=file,
            max_bytes=ctx.settings.index.max_document_bytes,
            on_problem=lambda problem: click.echo(problem, err=True),
        )
    except UnreadableInput as exc:
        store.close()
        fail(str(exc))
    click.echo(f"spooled {report.accepted} documents, {report.bad} bad lines")
    if not no_drain:
        lock = store.writer_lock()
        if lock.try_acquire():
            lock.release()
            async with store.writer(with_stages=True) as drainer:
                drained = await drainer.drain_all()
            click.echo(
                f"indexed {drained - drainer.counters.rejected} documents"
                + (f", {drainer.counters.rejected} set aside" if drainer.counters.rejected else "")
            )
        else:
            click.echo("another process holds the writer and will index them")
    store.close()
    if report.bad:
        raise SystemExit(EXIT_PROBLEMS if report.accepted else EXIT_USER)


@index_group.command("drain")
@click.option("--forever", is_flag=True,
              help="Keep draining as documents arrive, until SIGTERM/SIGINT (the drain as a "
              "service; serves [metrics] listen when set).")
@pass_context
@run_async
async def drain(ctx: Context, forever: bool) -> None:
    """Drain the spool into the backend and exit (with --forever: when stopped)."""
    store = Store(ctx.settings)
    if forever:
        role = store.drain_role()
        try:
            await run_roles(with_metrics(ctx.settings, store, [role]))
        finally:
            store.close()
        click.echo(f"drained {role.drained} documents ({role.rejected} set aside)")
        return
    try:
        async with store.writer(with_stages=True) as drainer:
            drained = await drainer.drain_all()
    finally:
        store.close()
    click.echo(f"drained {drained} documents ({drainer.counters.rejected} set aside)")


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
