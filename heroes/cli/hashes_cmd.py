"""``heroes hashes import|lists|remove``: named lists of flagged values."""

from __future__ import annotations

from pathlib import Path

import click

from errors import BackendUnavailable, WriterLocked
from exchange.importing import EXCHANGE_FORMATS
from heroes.cli.app import (
    EXIT_PROBLEMS,
    EXIT_USER,
    Context,
    fail,
    main,
    pass_context,
    run_async,
)
from heroes.cli.hashes_exchange import import_exchange_file
from heroes.cli.hashes_list_options import list_setting_options, list_settings_from, print_lists
from heroes.cli.hunt_cmd import offer_hunt
from index.hashsets.cluster_lists import cluster_lists_for
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
    type=click.Choice((*FORMATS, *EXCHANGE_FORMATS)),
    help="File format (default: by suffix: .json vics, .csv csv, .vpdq vpdq, else lines; "
    "a MISP event or STIX bundle: misp, stix).",
)
@click.option(
    "--type",
    "type_name",
    type=click.Choice(HASH_TYPES.names()),
    help="Type of values whose column or line does not say.",
)
@click.option("--category", default="", help="Category of values whose entry has none.")
@click.option("--hunt", "then_hunt", is_flag=True,
              help="Then hunt the list over everything already indexed (heroes hunt --list).")
@list_setting_options
@pass_context
def import_cmd(
    ctx: Context,
    file: str,
    list_name: str,
    fmt: str | None,
    type_name: str | None,
    category: str,
    then_hunt: bool,
    **list_options: object,
) -> None:
    """Import FILE into a list; importing the same file again changes nothing.

    Each bad line (or VICS entry) is reported on stderr as FILE:LINE: problem and every
    good one is imported: exit 1 if some lines were bad, 2 if no value was good.
    """
    settings = ctx.settings
    list_settings = list_settings_from(list_options)
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    try:
        report = (import_exchange_file if fmt in EXCHANGE_FORMATS else import_file)(
            Path(file),
            members,
            store.append,
            list_name=list_name,
            fmt=fmt or "",
            type_name=type_name or "",
            category=category,
            max_document_bytes=settings.index.max_document_bytes,
            on_problem=lambda problem: click.echo(problem, err=True),
            list_settings=list_settings,
        )
        lists = cluster_lists_for(settings)
        if lists is not None:
            try:
                lists.publish(members, report.list)
            finally:
                lists.close()
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
        store.close()
    click.echo(
        f"list {report.list}: {report.imported} values added or changed, "
        f"{report.unchanged} unchanged, {report.bad} problems"
    )
    if report.good:
        offer_hunt(settings, report.list, then_hunt)
    if report.bad:
        raise SystemExit(EXIT_PROBLEMS if report.good else EXIT_USER)


@hashes_group.command("lists")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def lists_cmd(ctx: Context, as_json: bool) -> None:
    """Lists with their values per type, settings, and suppressed and held hits."""
    print_lists(ctx.settings, as_json)


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
    lists = cluster_lists_for(settings)
    if lists is not None:
        try:
            lists.withdraw(list_name)
        finally:
            lists.close()
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
