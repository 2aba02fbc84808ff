"""``heroes analyse``, ``heroes clusters list|show``, ``heroes timeline VALUE`` and
``heroes relaunch list|confirm|reject|watch|unwatch``: the investigators' analysis.

``analyse`` reads what the index got since the last run (the analysis store under the data
directory keeps the place), updates clusters and relaunch candidates, and spools the
``cluster`` and alert documents; without ``--forever`` it drains them itself when no other
process holds the writer. Reads ``[analysis]``, ``[alerts]`` and the index settings.
"""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click

from alerting.db import alert_db_path
from analysis.clusters import cluster_by_id, cluster_of, clusters
from analysis.common import SuppressionError
from analysis.relaunch import decide, rules_naming
from analysis.runner import AnalyseRole
from analysis.state import AnalysisDB, Relaunch, analysis_db_path
from analysis.timeline import timeline
from documents.cluster import Cluster
from heroes.cli.app import Context, fail, main, pass_context, run_async
from heroes.metrics import with_metrics
from heroes.roles import run_roles
from identifiers import IDENTIFIERS, InvalidIdentifier
from index.store import Store


def _db(ctx: Context) -> AnalysisDB:
    return AnalysisDB(analysis_db_path(ctx.settings.data_dir))


def _onion(value: str) -> str:
    try:
        return IDENTIFIERS.get("onion").parse(value)
    except InvalidIdentifier as exc:
        fail(f"{value!r} is not an onion address: {exc}")


@main.command("analyse")
@click.option("--forever", is_flag=True,
              help="Keep analysing as documents arrive (every analysis.poll_s), draining the "
              "spool when this process holds the writer, until SIGTERM/SIGINT.")
@pass_context
@run_async
async def analyse(ctx: Context, forever: bool) -> None:
    """Update clusters, timelines and relaunch candidates from new and changed documents."""
    store = Store(ctx.settings)
    role = AnalyseRole(store, forever=forever)
    try:
        await _analyse(ctx, store, role, forever)
    except SuppressionError as exc:
        fail(str(exc))
    finally:
        store.close()
    c = role.counters
    click.echo(f"analysed {c.pages} pages and {c.services} service records "
               f"({c.skipped} already analysed, {c.failed} unreadable); "
               f"{c.clusters_written} cluster documents written, {c.relaunches} new relaunch "
               "candidates")


async def _analyse(ctx: Context, store: Store, role: AnalyseRole, forever: bool) -> None:
    if forever:
        await run_roles(with_metrics(ctx.settings, store, [store.drain_role(), role]))
    else:
        await run_roles([role], until=[role])
        lock = store.writer_lock()
        if lock.try_acquire():
            lock.release()
            async with store.writer(with_stages=True) as drainer:
                await drainer.drain_all()
        else:
            click.echo("another process holds the writer and will index the clusters")


@main.group("clusters")
def clusters_group() -> None:
    """Clusters of services linked by shared values, with the reasons."""


@clusters_group.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Clusters shown, largest first.")
@click.option("--offset", type=click.IntRange(0, 9000), default=0, show_default=True,
              help="Clusters skipped first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def list_cmd(ctx: Context, limit: int, offset: int, as_json: bool) -> None:
    """Clusters of two or more members, largest first."""
    store = Store(ctx.settings)
    try:
        total, found = await clusters(store, limit=limit, offset=offset)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"total": total, "clusters": [c.source() for c in found]},
                              indent=2))
        return
    click.echo(f"{total} clusters")
    for c in found:
        types = sorted({e.type for e in c.edges})
        click.echo(f"{c.cluster_id}  size {c.size}  score {c.score:g}  "
                   f"linked by {', '.join(types) or '-'}")


@clusters_group.command("show")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def show_cmd(ctx: Context, key: str, as_json: bool) -> None:
    """The cluster with id KEY, or the one a member KEY (an onion) is in."""
    store = Store(ctx.settings)
    try:
        found = await cluster_by_id(store, key)
        if found is not None and found.merged_into:
            found = await cluster_by_id(store, found.merged_into)
        if found is None or not found.members:
            found = await cluster_of(store, key)
    finally:
        store.close()
    if found is None:
        fail(f"no cluster {key!r} and no cluster with member {key!r}")
    if as_json:
        click.echo(json.dumps(found.source(), indent=2))
        return
    _print_cluster(found)


def _print_cluster(c: Cluster) -> None:
    click.echo(f"cluster {c.cluster_id}: {c.size} members, score {c.score:g}, "
               f"updated {c.updated_at.isoformat(timespec='seconds')}")
    for m in c.members:
        click.echo(f"  {m.kind} {m.key}  seen {m.first_seen:%Y-%m-%d} .. {m.last_seen:%Y-%m-%d}")
    click.echo("edges:")
    for e in c.edges:
        click.echo(f"  {e.a} -- {e.b}: {e.type} {e.value} (weight {e.weight:g})")
        click.echo(f"    {e.a}: {e.a_first_seen:%Y-%m-%d %H:%M} .. {e.a_last_seen:%Y-%m-%d %H:%M}"
                   f" record {e.a_record}")
        click.echo(f"    {e.b}: {e.b_first_seen:%Y-%m-%d %H:%M} .. {e.b_last_seen:%Y-%m-%d %H:%M}"
                   f" record {e.b_record}")


@main.command("timeline")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def timeline_cmd(ctx: Context, value: str, as_json: bool) -> None:
    """Where and when a phone number or e-mail address VALUE appeared, service by service."""
    db = _db(ctx)
    try:
        found = timeline(db, value)
    except InvalidIdentifier as exc:
        fail(f"{value!r} is neither a phone number nor an e-mail address: {exc}")
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps({"type": found.type, "value": found.value,
                               "spans": [_span(s) for s in found.spans]}, indent=2))
        return
    if not found.spans:
        click.echo(f"{found.type} {found.value}: not seen")
        return
    click.echo(f"{found.type} {found.value}: {len(found.spans)} services")
    for s in found.spans:
        click.echo(f"  {s.first_seen:%Y-%m-%d %H:%M} .. {s.last_seen:%Y-%m-%d %H:%M}  "
                   f"{s.service}  {s.pages} pages  {', '.join(s.langs) or '-'}")


def _span(s: Any) -> dict[str, Any]:
    data = asdict(s)
    data["first_seen"] = s.first_seen.isoformat()
    data["last_seen"] = s.last_seen.isoformat()
    return data


@main.group("relaunch")
def relaunch_group() -> None:
    """Watched services that went down and came back under a new onion."""


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else "-"


@relaunch_group.command("list")
@click.option("--status", type=click.Choice(["candidate", "confirmed", "rejected"]),
              help="Only relaunches in this state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def relaunch_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """Relaunch candidates and decisions, oldest first, with their evidence."""
    db = _db(ctx)
    try:
        found = db.relaunches(status or "")
        watches = db.watches()
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps({"relaunches": [asdict(r) for r in found],
                               "watches": [{"host": h, "since_ms": s, "moved_from": m}
                                           for h, s, m in watches]}, indent=2))
        return
    click.echo(f"{len(watches)} watched services")
    for host, since, moved in watches:
        click.echo(f"  {host}  since {_when(since)}" + (f"  (moved from {moved})" if moved
                                                       else ""))
    if not found:
        click.echo("no relaunches")
    for r in found:
        _print_relaunch(r)


def _print_relaunch(r: Relaunch) -> None:
    click.echo(f"{r.old} -> {r.new}  {r.status}  {r.links} links, confidence "
               f"{r.confidence:.2f}, found {_when(r.found_ms)}"
               + (f", by {r.decided_by} at {_when(r.decided_ms)}" if r.decided_by else ""))
    for e in r.evidence:
        click.echo(f"  {e['type']} {e['value']}: old {e['old_first_seen']} .. "
                   f"{e['old_last_seen']}, new {e['new_first_seen']} .. {e['new_last_seen']}")


def _decide(ctx: Context, old: str, new: str, status: str) -> None:
    old, new = _onion(old), _onion(new)
    db = _db(ctx)
    try:
        if db.relaunch(old, new) is None:
            fail(f"no relaunch candidate {old} -> {new} (see heroes relaunch list)")
        if not decide(db, alert_db_path(ctx.settings.data_dir), old, new, status,
                      getpass.getuser(), int(time.time() * 1000)):
            fail(f"{old} -> {new} is already decided (see heroes relaunch list)")
        click.echo(f"{old} -> {new}: {status}"
                   + (f"; watches follow {new}" if status == "confirmed" else ""))
        named = rules_naming(ctx.settings.alerts.rules, old) if status == "confirmed" else []
        if named:
            click.echo(f"alert rules naming {old} now match {new} too: {', '.join(named)}")
    finally:
        db.close()


@relaunch_group.command("confirm")
@click.argument("old")
@click.argument("new")
@pass_context
def relaunch_confirm(ctx: Context, old: str, new: str) -> None:
    """Confirm that NEW is OLD relaunched: the watch and the alert rules naming OLD follow NEW."""
    _decide(ctx, old, new, "confirmed")


@relaunch_group.command("reject")
@click.argument("old")
@click.argument("new")
@pass_context
def relaunch_reject(ctx: Context, old: str, new: str) -> None:
    """Reject the candidate: NEW is not OLD relaunched."""
    _decide(ctx, old, new, "rejected")


@relaunch_group.command("watch")
@click.argument("onion")
@pass_context
def relaunch_watch(ctx: Context, onion: str) -> None:
    """Watch ONION: when it goes down, newer onions sharing its values are candidates."""
    host = _onion(onion)
    db = _db(ctx)
    try:
        db.watch(host, int(time.time() * 1000))
    finally:
        db.close()
    click.echo(f"watching {host}")


@relaunch_group.command("unwatch")
@click.argument("onion")
@pass_context
def relaunch_unwatch(ctx: Context, onion: str) -> None:
    """Stop watching ONION."""
    host = _onion(onion)
    db = _db(ctx)
    try:
        found = db.unwatch(host)
    finally:
        db.close()
    if not found:
        fail(f"{host} is not watched")
    click.echo(f"no longer watching {host}")
