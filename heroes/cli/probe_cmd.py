"""``heroes probe`` (watch swarms, drain the spool) and ``heroes probe verify``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from documents import utcnow
from errors import BackendUnavailable
from heroes.cli.app import (
    EXIT_DEPENDENCY,
    EXIT_PROBLEMS,
    Context,
    fail,
    main,
    pass_context,
    run_async,
)
from heroes.metrics import snapshot_sources, with_metrics
from heroes.roles import Role, run_roles
from index.store import Store
from monitors.errors import SessionError, TargetError, VerificationError
from monitors.evidence import open_probe_log, probe_sealer
from monitors.probe import Probe, config_hash, probe_version, state_dir
from monitors.recorder import Recorder
from monitors.targets import Target, parse_target
from monitors.verify import SingleSourceVerifier


def _targets(values: tuple[str, ...]) -> list[Target]:
    try:
        return [parse_target(v) for v in values]
    except TargetError as exc:
        fail(f"--hash: {exc}")


@main.group("probe", invoke_without_command=True)
@click.option("--hash", "hashes", multiple=True, metavar="H",
              help="Also watch this infohash (40/64 hex) or magnet link; repeatable.")
@click.option("--duration", type=click.FloatRange(min=0.1), metavar="S",
              help="Stop after S seconds (default: run until interrupted).")
@click.option("--no-index", is_flag=True, help="Do not read targets from the index.")
@click.option("--no-drain", is_flag=True, help="Leave draining the spool to another process.")
@click.option("--json", "as_json", is_flag=True, help="Status lines as JSON.")
@click.option("--every", type=click.FloatRange(min=0.2), default=5.0, show_default=True,
              help="Seconds between status lines.")
@click.pass_context
def probe_group(click_ctx: click.Context, hashes: tuple[str, ...], duration: float | None,
                no_index: bool, no_drain: bool, as_json: bool, every: float) -> None:
    """Watch the swarms of every flagged infohash and record the peers in them.

    Targets: hash-list entries of type infohash and torrents in the index (re-read while
    running), targets of earlier runs, and --hash. Peers come from the DHT and PEX, and
    from trackers only when probe.announce is on. No content is requested or served;
    payload counters are checked at the end (exit 1 if any byte moved). While running it
    also drains the spool into the index unless --no-drain.
    """
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj
    _run_probe(ctx, _targets(hashes), duration, not no_index, not no_drain, as_json, every)


@run_async
async def _run_probe(ctx: Context, targets: list[Target], duration: float | None, use_index: bool,
                     drain: bool, as_json: bool, every: float) -> None:
    settings = ctx.settings
    store = Store(settings)
    stop = asyncio.Event()
    if duration:
        asyncio.get_running_loop().call_later(duration, stop.set)
    try:
        probe = Probe(settings, store, targets=targets, use_index=use_index)
        # The drain opens first and closes last: what the probe spools on stop is drained.
        roles: list[Role] = [probe, _Status(probe.snapshot, _probe_line, as_json, every,
                                             state_dir(probe.settings) / STATUS_FILE)]
        if drain:
            roles.insert(0, store.drain_role())
        await run_roles(with_metrics(settings, store, roles,
                                     sources=snapshot_sources("probe", probe.snapshot)), stop)
    except (SessionError, BackendUnavailable) as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    except TargetError as exc:
        fail(str(exc))
    finally:
        store.close()
    summary = probe.summary.__dict__
    click.echo(json.dumps(summary) if as_json else _format_summary(summary))
    if not probe.summary.payload_ok:
        raise SystemExit(EXIT_PROBLEMS)


class _Status:
    """Prints a status line every ``every`` seconds while a role runs (and, when ``path`` is
    given, writes the snapshot there for ``heroes probe status``)."""

    name = "status"

    def __init__(self, snapshot: Callable[[], dict[str, Any]],
                 line: Callable[[dict[str, Any]], str], as_json: bool, every: float,
                 path: Path | None = None):
        self.snapshot, self.line, self.as_json, self.every = snapshot, line, as_json, every
        self.path = path

    async def __aenter__(self) -> _Status:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
            snap = self.snapshot()
            if self.path is not None:
                await asyncio.to_thread(write_status, self.path, snap)
            click.echo(json.dumps(snap) if self.as_json else self.line(snap))


def _probe_line(snap: dict[str, Any]) -> str:
    levels = " ".join(f"{k}={v}" for k, v in snap["peers_by_level"].items()) or "-"
    pay = snap["payload"]["watcher"]
    return (f"[{snap['elapsed_s']:>7.1f}s] targets {snap['targets']}  peers "
            f"{snap['peers']} ({levels})  observations {snap['observations']} "
            f"({snap['observations_per_min']}/min)  DHT {snap['dht_lookups_per_s']}/s  "
            f"metadata {snap['metadata_fetched']}  payload "
            f"{pay['recv_payload_bytes']}/{pay['sent_payload_bytes']} B")


def _format_summary(s: dict[str, object]) -> str:
    return (f"probe run {s['started']} - {s['ended']}: {s['targets']} targets, "
            f"{s['peers_seen']} peers handshaken, {s['observations']} observations, "
            f"{s['metadata_fetched']} metadata; payload watcher {s['watcher_payload']} "
            f"metadata {s['metadata_payload']} -> {'ok (0 bytes)' if s['payload_ok'] else 'MOVED'}")


def _endpoint(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    try:
        ip = str(ipaddress.ip_address(host))
        number = int(port)
        if not sep or not 0 < number < 65536:
            raise ValueError
    except ValueError:
        fail(f"--peer: expected IP:PORT, got {value!r}")
    return ip, number


@probe_group.command("verify")
@click.argument("infohash")
@click.option("--peer", required=True, metavar="IP:PORT", help="The one peer to download from.")
@click.option("--pieces", type=click.IntRange(1, 64), default=3, show_default=True,
              help="How many pieces to download and verify.")
@click.option("--keep-to", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the verified pieces here (default: discard the bytes).")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Give up after this many seconds.")
@pass_context
@run_async
async def verify_cmd(ctx: Context, infohash: str, peer: str, pieces: int, keep_to: Path | None,
                     timeout: float) -> None:
    """Download a few pieces of INFOHASH from one peer only and verify them (level 3).

    An IP filter blocks every other address; libtorrent checks each piece against the
    torrent's piece hashes and names the sender of every block. The observation is
    recorded at level 3 with the verified piece indices. The bytes are deleted unless
    --keep-to is given. This is the only command that downloads content.
    """
    settings = ctx.settings
    try:
        target = parse_target(infohash)
    except TargetError as exc:
        fail(f"INFOHASH: {exc}")
    endpoint = _endpoint(peer)
    verifier = SingleSourceVerifier(settings.probe, target, endpoint, pieces=pieces,
                                    keep_to=keep_to, timeout_s=timeout)
    try:
        result = await verifier.run()
    except VerificationError as exc:
        fail(str(exc), EXIT_PROBLEMS)
    store = Store(settings)
    cfg = settings.probe
    recorder = Recorder(probe_id=cfg.probe_id, version=probe_version(), spool=store.spool,
                        evidence=open_probe_log(settings.data_dir, cfg.probe_id),
                        target_of=lambda _key: target, refresh_s=cfg.observation_refresh_s,
                        extra={"config_hash": config_hash(settings)})
    doc = None
    if result.verified:
        identity = {"peer_id": result.peer_id, "client": result.client, "ext_v": result.ext_v}
        doc = recorder.record_verified(target.key, endpoint[0], endpoint[1],
                                       sorted(result.verified), utcnow(), result.detail(), identity)
    await asyncio.to_thread(probe_sealer(settings, recorder.evidence).close)
    store.close()
    click.echo(json.dumps({**result.detail(), "infohash": target.key,
                           "level": 3 if doc else None,
                           "observation": doc.id if doc else None,
                           "chain_hash": doc.chain_hash if doc else None,
                           "work_dir_removed": not Path(result.work_dir).exists()}, indent=1))
    if not result.verified or result.hash_failed:
        raise SystemExit(EXIT_PROBLEMS)


STATUS_FILE = "status.json"
DISCOVER_STATUS_FILE = "discover-status.json"


def write_status(path: Path, snap: dict[str, Any]) -> None:
    """The running probe's last status line, for ``heroes probe status``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": utcnow().isoformat(), **snap}))
    tmp.replace(path)


@probe_group.command("discover")
@click.option("--for", "seconds", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Stop after this many seconds (default: run until interrupted).")
@click.option("--no-drain", is_flag=True, help="Leave draining the spool to another process.")
@click.option("--json", "as_json", is_flag=True, help="Status lines as JSON.")
@click.option("--every", type=click.FloatRange(min=0.2), default=5.0, show_default=True,
              help="Seconds between status lines.")
@pass_context
@run_async
async def discover_cmd(ctx: Context, seconds: float | None, no_drain: bool, as_json: bool,
                       every: float) -> None:
    """Walk the DHT with BEP 51 samples and index the torrents nobody flagged yet.

    Each new infohash becomes a torrent document (found_by dht-sample, with the time and
    the node); its metadata is fetched without payload (BEP 9). The drain classifies it
    against the hash and keyword lists, and `heroes probe` watches it once it is flagged.
    Prints samples/s, new infohashes/min, metadata fetched/min and the backlog.
    """
    from monitors.discovery import Discoverer

    settings = ctx.settings
    store = Store(settings)
    stop = asyncio.Event()
    if seconds:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    discoverer = Discoverer(settings, store)
    try:
        roles: list[Role] = [discoverer,
                             _Status(discoverer.snapshot, _discover_line, as_json, every)]
        if not no_drain:
            roles.insert(0, store.drain_role())
        await run_roles(with_metrics(settings, store, roles,
                                     sources=snapshot_sources("discover", discoverer.snapshot)),
                        stop)
    except (SessionError, BackendUnavailable) as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    finally:
        store.close()
    snap = discoverer.snapshot()
    click.echo(json.dumps(snap) if as_json else _discover_line(snap))
    pay = snap["payload"]
    if pay["recv_payload_bytes"] or pay["sent_payload_bytes"]:
        raise SystemExit(EXIT_PROBLEMS)


def _discover_line(snap: dict[str, Any]) -> str:
    return (f"[{snap['elapsed_s']:>7.1f}s] nodes {snap['nodes_known']}  samples "
            f"{snap['samples_per_s']}/s  new {snap['new']} ({snap['new_per_min']}/min)  "
            f"metadata {snap['metadata_fetched']} ({snap['metadata_per_min']}/min)  backlog "
            f"{snap['backlog']}")


@probe_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@pass_context
def status_cmd(ctx: Context, as_json: bool) -> None:
    """The last status of every probe and discovery run of this data directory.

    Probes: targets, peers by level, DHT pacing (revisit in effect, keeping up). Discovery:
    samples/s, new infohashes/min, metadata fetched/min, backlog. Each says when it was
    written; a stopped process leaves its last one.
    """
    root = Path(ctx.settings.data_dir) / "probe"
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(root.glob(f"*/{STATUS_FILE}")) + sorted(
            root.glob(f"*/{DISCOVER_STATUS_FILE}")):
        kind = "discover" if path.name == DISCOVER_STATUS_FILE else "probe"
        try:
            found.setdefault(path.parent.name, {})[kind] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            found.setdefault(path.parent.name, {})[kind] = {"error": f"{path}: {exc}"}
    if as_json:
        click.echo(json.dumps(found, indent=1))
        return
    if not found:
        click.echo(f"no probe status under {root}")
        return
    for probe_id, parts in found.items():
        for problem in (p["error"] for p in parts.values() if "error" in p):
            click.echo(f"{probe_id}: unreadable status: {problem}")
        parts = {k: v for k, v in parts.items() if "error" not in v}
        if "probe" in parts:
            s = parts["probe"]
            click.echo(f"{probe_id} probe at {s.get('at')}: targets {s.get('targets')}, peers "
                       f"{s.get('peers')} {s.get('peers_by_level')}, DHT every "
                       f"{s.get('dht_revisit_s')}s (keeping up: {s.get('dht_keeping_up')})")
        if "discover" in parts:
            click.echo(f"{probe_id} discover at {parts['discover'].get('at')}: "
                       + _discover_line(parts["discover"]))
