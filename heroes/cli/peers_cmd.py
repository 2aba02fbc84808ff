"""``heroes peers list|show|export|assign|release``: peer triage from the command line.

Ranks the peers of flagged swarms (:mod:`triage`), explains one, writes the records of a
legal request (CSV or JSON), and records who in the unit works on a peer. Every view and
export of a peer, and every assignment, is recorded in the audit log. ``--since`` and
``--until`` take the time syntax of :mod:`config.timespec` (``7d``, ``now-12h``, ISO 8601).
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from config import Settings
from heroes.cli.app import Context, fail, main, pass_context, run_async
from heroes.console.audit import AuditLog
from index.store import Store
from triage import export as export_mod
from triage.args import parse_ip, parse_min_level, parse_range
from triage.assignments import Assignments, assignments_path
from triage.errors import TriageError
from triage.peer import PeerNotFound
from triage.ranking import Scope
from triage.service import Triage


def cli_user() -> str:
    return f"(cli) {getpass.getuser()}"


def audit(settings: Settings, action: str, **details: Any) -> None:
    AuditLog.for_data_dir(settings.data_dir, settings.evidence).record(
        action, user=cli_user(), **details)


@contextlib.asynccontextmanager
async def open_triage(settings: Settings) -> AsyncIterator[Triage]:
    store = Store(settings)
    try:
        async with store.reader() as backend:
            triage = Triage(backend, settings.triage, settings.enrichment,
                            Path(settings.data_dir))
            try:
                yield triage
            finally:
                triage.close()
    finally:
        store.close()


def _scope(since: str | None, until: str | None, min_level: int, now: datetime) -> Scope:
    start, end = parse_range(since, until, now)
    return Scope(since=start, until=end, min_level=parse_min_level(min_level))


SINCE = click.option("--since", metavar="TIME", default=None,
                     help="Only sightings last seen at this time or later: 7d, now-12h, "
                          "2026-11-28T12:00Z.")
UNTIL = click.option("--until", metavar="TIME", default=None,
                     help="Only sightings last seen before this time (same syntax).")
MIN_LEVEL = click.option("--min-level", type=int, default=0, show_default=True,
                         help="Only observations of this evidence level or higher (0..3).")


@main.group("peers")
def peers_group() -> None:
    """Rank, explain, export and assign the peers of flagged swarms."""


@peers_group.command("list")
@SINCE
@UNTIL
@MIN_LEVEL
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=50, show_default=True,
              help="Show this many peers.")
@click.option("--by-64", "by64", is_flag=True, help="One row per IPv6 /64 network.")
@click.option("--json", "as_json", is_flag=True, help="Print the ranked peers as JSON.")
@pass_context
@run_async
async def list_cmd(ctx: Context, since: str | None, until: str | None, min_level: int,
                   limit: int, by64: bool, as_json: bool) -> None:
    """Rank the peers of flagged swarms by the priority score ([triage] weights)."""
    settings = ctx.settings
    now = datetime.now(UTC)
    try:
        scope = _scope(since, until, min_level, now)
        async with open_triage(settings) as triage:
            rows = await triage.rows(scope, now, prefix64=by64, limit=limit)
    except TriageError as exc:
        fail(str(exc))
    audit(settings, "view", target="peers", since=since, until=until, min_level=min_level,
          shown=len(rows))
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo("no peer seen in a flagged swarm")
        return
    click.echo(f"{'#':>4} {'score':>7} {'peer':<28} {'swarms':>6} {'sev':>3} {'lvl':>3} "
               f"{'days':>6} {'have':>5}  last seen             assigned")
    for r in rows:
        tier = "" if r["handshake"] else " (L0)"
        who = r["assignment"]["case_number"] if r["assignment"] else ""
        click.echo(f"{r['rank']:>4} {r['score']:>7.2f} {r['ip'] + tier:<28} {r['swarms']:>6} "
                   f"{r['severity']:>3} L{r['level']:<2} {r['days']:>6.1f} "
                   f"{r['completeness']:>5.0%}  {r['last_seen']}  {who}")
        for hint in r["hints"]:
            click.echo(f"{'':>13}{hint}")


@peers_group.command("show")
@click.argument("ip")
@SINCE
@UNTIL
@MIN_LEVEL
@click.option("--json", "as_json", is_flag=True, help="Print every fact as JSON.")
@pass_context
@run_async
async def show_cmd(ctx: Context, ip: str, since: str | None, until: str | None,
                   min_level: int, as_json: bool) -> None:
    """Explain one peer: its swarms, levels, times, place, hints and score terms."""
    settings = ctx.settings
    now = datetime.now(UTC)
    try:
        address = parse_ip(ip)
        scope = _scope(since, until, min_level, now)
        async with open_triage(settings) as triage:
            data = await triage.peer(address, scope, now)
    except TriageError as exc:
        fail(str(exc))
    except PeerNotFound as exc:
        fail(str(exc))
    audit(settings, "view", target=f"peer/{address}")
    if as_json:
        click.echo(json.dumps(data, indent=1))
        return
    for line in describe(data):
        click.echo(line)


def describe(data: dict[str, Any]) -> list[str]:
    """The facts of ``heroes peers show`` as lines for people."""
    lines = [f"peer {data['ip']}" + (f" (in {data['prefix64']})" if data["prefix64"] else "")]
    if data["rank"]:
        lines.append(f"rank {data['rank']} of {data['ranked']}")
    where = data["location"]
    if where:
        lines.append("location " + ", ".join(str(where[k]) for k in (
            "country", "region", "network", "asn", "as_org") if where.get(k))
            + f" (databases built {where.get('geoip_db_built') or where.get('asn_db_built')})")
    a = data.get("assignment")
    if a:
        lines.append(f"assigned case {a['case_number']} to {a['analyst']} ({a['assigned_at']})")
    lines += [f"ports {', '.join(map(str, data['ports']))}",
              f"clients {', '.join(data['clients']) or '-'}; peer ids "
              f"{', '.join(data['peer_id_prefixes']) or '-'}; v {', '.join(data['ext_v']) or '-'}",
              f"first seen {data['first_seen']}, last seen {data['last_seen']}, "
              f"{len(data['days_active'])} days with sightings",
              f"highest level L{data['highest_level']}", "flagged swarms:"]
    for s in data["swarms"]:
        why = "; ".join(f"{r['list']}/{r['category'] or '-'} sev {r['severity']}"
                        for r in s["reasons"])
        have = "" if s["have_fraction"] is None else f" have {s['have_fraction']:.0%}"
        lines.append(f"  {s['infohash']} {s['name'] or '(no metadata)'} L{s['level']}{have} "
                     f"[{why}] {s['first_seen']} .. {s['last_seen']}")
    if data["score"]:
        lines.append("score:")
        lines += [f"  {line}" for line in data["score"]["explain"]]
    lines += [f"hint: {h['text']}" for h in data["hints"]]
    hours = " ".join(f"{h:02d}:{n}" for h, n in enumerate(data["hours_utc"]) if n)
    lines.append(f"hours (UTC) {hours}")
    return lines


@peers_group.command("export")
@click.argument("ip")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (.csv or .json).")
@click.option("--format", "fmt", type=click.Choice(export_mod.FORMATS), default=None,
              help="csv or json (default: from the file name).")
@click.option("--bundle", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the same records as a signed evidence bundle into this new "
                   "directory (records, inclusion proofs, signed heads, key; "
                   "`heroes evidence verify` checks it).")
@pass_context
@run_async
async def export_cmd(ctx: Context, ip: str, out: Path | None, fmt: str | None,
                     bundle: Path | None) -> None:
    """Write every sighting of IP in a flagged swarm for a legal request: port, UTC time to
    the second, infohash, torrent name and files, level, probe and evidence record hash."""
    settings = ctx.settings
    if out is None and bundle is None:
        fail("out: give --out FILE (.csv or .json), --bundle DIR, or both")
    try:
        address = parse_ip(ip)
        chosen = export_mod.format_of(out, fmt) if out is not None else None
        async with open_triage(settings) as triage:
            table, meta = await triage.export_table(address)
            flagged = await triage.flagged_infohashes()
        if out is not None and chosen is not None:
            export_mod.write(out, chosen, address, table, meta)
    except (TriageError, PeerNotFound) as exc:
        fail(str(exc))
    manifest = signed_bundle(settings, address, flagged, bundle) if bundle else None
    audit(settings, "export", target=f"peer/{address}", file=str(out) if out else None,
          bundle=str(bundle) if bundle else None, rows=len(table))
    if out is not None:
        click.echo(f"{len(table)} sightings of {address} written to {out} "
                   f"({meta['without_evidence_records']} without evidence records)")
    if manifest is not None:
        click.echo(f"signed bundle of {manifest.get('records')} records in {bundle}")


def signed_bundle(settings: Settings, ip: str, flagged: set[str], bundle: Path
                  ) -> dict[str, Any]:
    """The peer's evidence records as a signed export (:mod:`evidence.export`)."""
    from evidence.errors import EvidenceError
    from evidence.export import Source, export
    from evidence.keys import load_signing_key
    from evidence.sealer import Sealer
    from heroes import __version__
    from monitors.evidence import observation_summary, probe_logs, settings_sha256
    from triage.sightings import record_filter

    data_dir = Path(settings.data_dir)
    logs = probe_logs(data_dir)
    if not logs:
        fail(f"bundle: no probe evidence log under {data_dir / 'evidence'}")
    try:
        key = load_signing_key(settings.evidence.signing_key_file)
        Sealer.from_settings(settings.evidence, logs, data_dir=data_dir).seal_once()
        tsa_ca = (Path(settings.evidence.tsa_ca_file).expanduser()
                  if settings.evidence.tsa_ca_file else None)
        return export([Source(log, record_filter(ip, flagged)) for log in logs], bundle,
                      key=key, data_dir=data_dir, tool_version=__version__,
                      config_sha256=settings_sha256(settings), selector={"ip": ip},
                      tsa_ca=tsa_ca, summary=observation_summary)
    except EvidenceError as exc:  # KeyMissing too: its message says how to make a key
        fail(f"bundle: {exc}")


@peers_group.command("assign")
@click.argument("ip")
@click.option("--case", "case_number", required=True, help="The unit's case number.")
@click.option("--analyst", required=True, help="Who works on this peer.")
@click.option("--note", default="", help="A short note for colleagues.")
@pass_context
def assign_cmd(ctx: Context, ip: str, case_number: str, analyst: str, note: str) -> None:
    """Mark a peer (address or IPv6 /64) as assigned, so others in the unit see it."""
    settings = ctx.settings
    peer = _peer_key(ip)
    store = Assignments(assignments_path(settings.data_dir))
    try:
        item = store.assign(peer, case_number, analyst, cli_user(), note)
    except TriageError as exc:
        fail(str(exc))
    finally:
        store.close()
    audit(settings, "assign", target=f"peer/{peer}", case_number=item.case_number,
          analyst=item.analyst)
    click.echo(f"{peer} assigned: case {item.case_number}, analyst {item.analyst}")


@peers_group.command("release")
@click.argument("ip")
@pass_context
def release_cmd(ctx: Context, ip: str) -> None:
    """Remove a peer's assignment (kept in its history)."""
    settings = ctx.settings
    peer = _peer_key(ip)
    store = Assignments(assignments_path(settings.data_dir))
    try:
        item = store.release(peer, cli_user())
    finally:
        store.close()
    if item is None:
        fail(f"{peer} is not assigned")
    audit(settings, "release", target=f"peer/{peer}", case_number=item.case_number)
    click.echo(f"{peer} released (was case {item.case_number})")


def _peer_key(value: str) -> str:
    if "/" in value:
        try:
            net = ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            fail(f"ip: not an IP address or network: {value!r:.80}")
        return str(net)
    try:
        return parse_ip(value)
    except TriageError as exc:
        fail(str(exc))
