"""``heroes hashes set|quarantine``: list settings and the flood quarantine of values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from errors import BackendUnavailable, WriterLocked
from heroes.cli.app import EXIT_DEPENDENCY, EXIT_PROBLEMS, Context, fail, pass_context, run_async
from heroes.cli.hashes_cmd import hashes_group
from heroes.cli.hashes_list_options import list_setting_options, list_settings_from
from heroes.cli.hunt_cmd import offer_hunt
from heroes.cli.peers_cmd import audit
from index.hashsets.errors import HashSetError
from index.hashsets.importer import refresh_documents, removed_documents
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.hashsets.quarantine import QuarantinedValue
from index.hashsets.registry import HASH_TYPES
from index.store import Store


@hashes_group.command("set")
@click.argument("name")
@list_setting_options
@pass_context
def set_cmd(ctx: Context, name: str, **options: Any) -> None:
    """Change the settings of list NAME (a list may be given settings before its values)."""
    settings = list_settings_from(options)
    if not settings:
        fail("nothing to change: give --source, --trust, --distance, --state or --negative/--flag")
    members = MembershipStore(membership_path(ctx.settings.data_dir))
    store = Store(ctx.settings)
    try:
        before = members.list_info(name)
        info = members.set_list(name, **settings)
        if (before.kind, before.state) != (info.kind, info.state):
            # The hash documents carry both: the probe reads them from the index.
            refresh_documents(members, name, store.append)
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
        store.close()
    distance = "default" if info.distance is None else info.distance
    click.echo(
        f"list {info.name}: {info.kind}, {info.state}, distance {distance}, "
        f"trust {info.trust}, source {info.source or '-'}"
    )
    if info.active and not info.negative and before != info:
        # Resumed, made a flag list or given a wider distance: what is indexed may hit now.
        offer_hunt(ctx.settings, info.name, False)


@hashes_group.group("quarantine")
def quarantine_group() -> None:
    """Values the flood quarantine holds (more than matching.flood_hits hits in
    matching.flood_window_s): list them, release them (their held hits become hits) or
    remove them from their lists (their held hits are dropped)."""


@quarantine_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def quarantine_list_cmd(ctx: Context, as_json: bool) -> None:
    """Quarantined values with the number of hits each holds."""
    members = MembershipStore(membership_path(ctx.settings.data_dir))
    try:
        held = members.quarantine.entries()
        lists = {(q.type, q.value): sorted({e.list for e in members.lookup(q.type, q.value)})
                 for q in held}
    finally:
        members.close()
    rows = [
        {"type": q.type, "value": q.value, "lists": lists[(q.type, q.value)],
         "since": _when(q.since), "held": q.held, "alerted": q.alerted}
        for q in held
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no values in quarantine")
    for r in rows:
        click.echo(f"{r['type']:<8} {r['value']}  {r['held']:>6} held  since {r['since']}  "
                   f"lists {', '.join(r['lists']) or '-'}")


@quarantine_group.command("release")
@click.argument("value")
@click.option("--type", "type_name", type=click.Choice(HASH_TYPES.names()),
              help="The value's type, when the same text is quarantined as several.")
@pass_context
def release_cmd(ctx: Context, value: str, type_name: str | None) -> None:
    """Release VALUE: it is never quarantined again and its held hits go back to be
    matched, flagged and alerted (audited)."""
    settings = ctx.settings
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    try:
        q = _one(members, value, type_name)
        docs = members.quarantine.release(q.type, q.value)
        store.append(docs)
    finally:
        members.close()
        store.close()
    audit(settings, "quarantine_release", target=f"{q.type}:{q.value}", released=len(docs))
    click.echo(f"{q.type} {q.value} released: {len(docs)} held documents spooled to be "
               "matched again")


@quarantine_group.command("remove")
@click.argument("value")
@click.option("--type", "type_name", type=click.Choice(HASH_TYPES.names()),
              help="The value's type, when the same text is quarantined as several.")
@pass_context
@run_async
async def remove_value_cmd(ctx: Context, value: str, type_name: str | None) -> None:
    """Remove VALUE from every list holding it; its held hits are dropped (audited)."""
    settings = ctx.settings
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        q = _one(members, value, type_name)
        held = q.held
        gone = members.quarantine.remove(q.type, q.value)
    finally:
        members.close()
    audit(settings, "quarantine_remove", target=f"{q.type}:{q.value}",
          removed_from=sorted({e.list for e in gone}))
    lists = ", ".join(sorted({e.list for e in gone})) or "-"
    click.echo(f"{q.type} {q.value} removed from {lists}; {held} held hits dropped")
    await _delete_hash_documents(Store(settings), gone)


def _one(members: MembershipStore, raw: str, type_name: str | None) -> QuarantinedValue:
    found = []
    for q in members.quarantine.entries():
        if type_name and q.type != type_name:
            continue
        try:
            same = HASH_TYPES.normalize(q.type, raw) == q.value
        except HashSetError:
            same = False
        if same:
            found.append(q)
    if not found:
        fail(f"no value {raw!r} in quarantine (heroes hashes quarantine list)")
    if len(found) > 1:
        fail(f"{raw!r} is quarantined as {', '.join(q.type for q in found)}: give --type")
    return found[0]


async def _delete_hash_documents(store: Store, gone: list[Entry]) -> None:
    ids = [doc_id for _, doc_id in removed_documents(gone)]
    try:
        async with store.writer() as drainer:
            deleted = await drainer.backend.delete("hash", ids) if ids else 0
        click.echo(f"{deleted} hash documents deleted from the index")
    except WriterLocked:
        click.echo("the index writer is busy: the value's hash documents stay searchable "
                   "until its list is imported or removed again", err=True)
        raise SystemExit(EXIT_PROBLEMS) from None
    except BackendUnavailable as exc:
        fail(f"removed from matching, but the index cannot be reached: {exc}", EXIT_DEPENDENCY)
    finally:
        store.close()


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
