"""``heroes hashes import|lists|remove``: named lists of flagged values."""

from __future__ import annotations

import json
from pathlib import Path

import click

from heroes.cli.app import EXIT_PROBLEMS, Context, fail, main, pass_context, run_async
from index.errors import BackendUnavailable, WriterLocked
from index.hashsets.errors import HashSetError
from index.hashsets.importer import FORMATS, import_file, removed_documents
from index.hashsets.membership import MembershipStore, membership_path
from index.hashsets.registry import HASH_TYPES
from index.store import Store


@main.group("hashes")
def hashes_group() -> None:
    """Import, list and remove lists of flagged values."""


@hashes_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--list", "list_name", default="", help="List name (default: the file name without suffix)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="File format (default: by suffix: .json vics, .csv csv, else lines).",
)
@click.option(
    "--type",
    "type_name",
    type=click.Choice(HASH_TYPES.names()),
    help="Type of values whose column or line does not say.",
)
@click.option("--category", default="", help="Category of values whose entry has none.")
@pass_context
def import_cmd(
    ctx: Context, file: str, list_name: str, fmt: str | None, type_name: str | None, category: str
) -> None:
    """Import FILE into a list. Bad lines are reported as FILE:LINE and the rest imported
    (exit 1 if any line was bad); importing the same file again changes nothing."""
    settings = ctx.settings
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    try:
        report = import_file(
            Path(file),
            members,
            store.append,
            list_name=list_name,
            fmt=fmt or "",
            type_name=type_name or "",
            category=category,
        )
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
        store.close()
    for problem in report.problems:
        click.echo(problem, err=True)
    click.echo(
        f"list {report.list}: {report.imported} values added or changed, "
        f"{report.unchanged} unchanged, {len(report.problems)} problems"
    )
    if report.problems:
        raise SystemExit(EXIT_PROBLEMS)


@hashes_group.command("lists")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def lists_cmd(ctx: Context, as_json: bool) -> None:
    """Lists with their values per type."""
    members = MembershipStore(membership_path(ctx.settings.data_dir))
    try:
        rows = members.lists()
    finally:
        members.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"list": r.list, "type": r.type, "count": r.count, "added_at": r.added_at}
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("no lists")
    for r in rows:
        click.echo(f"{r.list:<24} {r.type:<10} {r.count:>10}  since {r.added_at}")


@hashes_group.command("remove")
@click.option("--list", "list_name", required=True, help="The list to remove.")
@pass_context
@run_async
async def remove_cmd(ctx: Context, list_name: str) -> None:
    """Remove a list: matching stops at once; its hash documents leave the index."""
    settings = ctx.settings
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        gone = members.remove_list(list_name)
    finally:
        members.close()
    if not gone:
        fail(f"no list named {list_name!r}")
    click.echo(f"list {list_name}: {len(gone)} values removed from matching")
    ids = [doc_id for _, doc_id in removed_documents(gone)]
    store = Store(settings)
    try:
        async with store.writer() as drainer:
            deleted = 0
            for start in range(0, len(ids), 10_000):
                deleted += await drainer.backend.delete("hash", ids[start : start + 10_000])
        click.echo(f"{deleted} hash documents deleted from the index")
    except WriterLocked:
        click.echo(
            "the index writer is busy: the hash documents stay searchable until "
            "`heroes hashes remove` is run again while it is free",
            err=True,
        )
        raise SystemExit(EXIT_PROBLEMS) from None
    except BackendUnavailable as exc:
        fail(f"list removed from matching, but the index cannot be reached: {exc}", 3)
    finally:
        store.close()
