"""``heroes probe`` (watch swarms, drain the spool) and ``heroes probe verify``."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import signal
from pathlib import Path

import click

from heroes.cli.app import (
    EXIT_DEPENDENCY,
    EXIT_PROBLEMS,
    Context,
    fail,
    main,
    pass_context,
    run_async,
)
from heroes.stages import drain_stages
from index.chainlog import ChainLog
from index.documents import utcnow
from index.errors import BackendUnavailable
from index.store import Store
from monitors.errors import SessionError, TargetError, VerificationError
from monitors.evidence import log_path
from monitors.probe import Probe, config_hash, probe_version
from monitors.recorder import Recorder
from monitors.targets import Target, parse_target
from monitors.verify import SingleSourceVerifier

log = logging.getLogger(__name__)


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
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Probe(settings, store, targets=targets, use_index=use_index) as probe:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(probe.run(stop))
                if drain:
                    tg.create_task(_drain(store, stop))
                tg.create_task(_show(probe, stop, as_json, every))
                if duration:
                    tg.create_task(_stop_after(stop, duration))
    except SessionError as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    except TargetError as exc:
        fail(str(exc))
    finally:
        store.close()
    summary = probe.summary.__dict__
    click.echo(json.dumps(summary) if as_json else _format_summary(summary))
    if not probe.summary.payload_ok:
        raise SystemExit(EXIT_PROBLEMS)


async def _drain(store: Store, stop: asyncio.Event) -> None:
    try:
        await store.drain_role(stop, drain_stages(store.settings, store))
    except BackendUnavailable as exc:
        # The probe goes on: observations wait in the spool for the next drain.
        log.error("cannot drain into the index (observations stay in the spool): %s", exc)


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    stop.set()


async def _show(probe: Probe, stop: asyncio.Event, as_json: bool, every: float) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        snap = probe.snapshot()
        if as_json:
            click.echo(json.dumps(snap))
        else:
            levels = " ".join(f"{k}={v}" for k, v in snap["peers_by_level"].items()) or "-"
            pay = snap["payload"]["watcher"]
            click.echo(f"[{snap['elapsed_s']:>7.1f}s] targets {snap['targets']}  peers "
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
                        evidence=ChainLog(log_path(settings.data_dir, cfg.probe_id)),
                        target_of=lambda _key: target, refresh_s=cfg.observation_refresh_s,
                        extra={"config_hash": config_hash(settings)})
    doc = None
    if result.verified:
        identity = {"peer_id": result.peer_id, "client": result.client, "ext_v": result.ext_v}
        doc = recorder.record_verified(target.key, endpoint[0], endpoint[1],
                                       sorted(result.verified), utcnow(), result.detail(), identity)
    store.close()
    click.echo(json.dumps({**result.detail(), "infohash": target.key,
                           "level": 3 if doc else None,
                           "observation": doc.id if doc else None,
                           "chain_hash": doc.chain_hash if doc else None,
                           "work_dir_removed": not Path(result.work_dir).exists()}, indent=1))
    if not result.verified or result.hash_failed:
        raise SystemExit(EXIT_PROBLEMS)
