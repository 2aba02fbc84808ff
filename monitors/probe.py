"""The probe role: watch every target, record observations, fetch metadata, keep state.

``Probe`` ties the parts together inside one ``asyncio.TaskGroup``: the watcher session
(peers and levels; it shares ``probe.max_connections`` fairly among the targets, which
``heroes probe`` shows as ``connections_per_target``), the metadata fetcher (``torrent``
documents), a loop re-reading the index for new targets every ``probe.index_refresh_s``
and a loop saving state. On stop it takes a last payload snapshot of both sessions, writes
the run summary (``<data_dir>/probe/<probe_id>/runs.jsonl``) and saves state, so a
restarted probe resumes its targets. Payload bytes must be 0 in both directions; a
non-zero counter is logged as an error and marks the run (``payload_ok`` false).

Reads the ``probe`` settings section and ``data_dir``; the index through
``index.store.Store``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import libtorrent as lt

from config import Settings
from documents import Observation, Torrent, iso, utcnow
from errors import BackendUnavailable
from index.store import Store
from monitors.evidence import open_probe_log, probe_sealer
from monitors.metadata import MetadataFetcher
from monitors.peer_table import evict_oldest
from monitors.peers import Sighting
from monitors.recorder import Recorder
from monitors.shards import target_split
from monitors.targets import Target, TargetState, merge_targets, targets_from_index
from monitors.watcher import Watcher

log = logging.getLogger(__name__)

SAVE_EVERY_S = 5.0
METADATA_PEERS = 3


def probe_version() -> str:
    try:
        own = importlib_metadata.version("heroes")
    except importlib_metadata.PackageNotFoundError:
        own = "0+unknown"
    return f"heroes/{own} libtorrent/{lt.__version__}"


def config_hash(settings: Settings) -> str:
    """SHA-256 of the probe's settings section (what decides how it observes)."""
    body = json.dumps(settings.probe.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def state_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "probe" / settings.probe.probe_id


@dataclass
class RunSummary:
    started: str
    ended: str = ""
    targets: int = 0
    targets_failed: int = 0
    peers_seen: int = 0
    observations: int = 0
    metadata_fetched: int = 0
    watcher_payload: dict[str, int] = field(default_factory=dict)
    metadata_payload: dict[str, int] = field(default_factory=dict)
    payload_ok: bool = True


class Probe:
    """One probe run (the probe role); ``async with Probe(...) as p: await p.run(stop)``.

    Entry loads the saved targets and starts the libtorrent sessions; exit records the run
    summary, saves state and closes the sessions.
    """

    name = "probe"

    def __init__(self, settings: Settings, store: Store, *, targets: Iterable[Target] = (),
                 use_index: bool = True, seed_peers: Iterable[tuple[str, int]] = ()):
        self.settings = settings
        self.cfg = settings.probe
        self.store = store
        self.use_index = use_index
        self.seed_peers = list(seed_peers)  # dialled for every target (e.g. to learn by PEX)
        self.state = TargetState(state_dir(settings) / "state.json")
        self.cli_targets = list(targets)
        self.version = probe_version()
        self.watcher = Watcher(self.cfg, self._on_sightings)
        self.fetcher = MetadataFetcher(self.cfg, self._on_torrent)
        self.recorder = Recorder(
            probe_id=self.cfg.probe_id, version=self.version, spool=store.spool,
            evidence=open_probe_log(settings.data_dir, self.cfg.probe_id),
            target_of=self._target_of, refresh_s=self.cfg.observation_refresh_s,
            extra={"config_hash": config_hash(settings)})
        self.sealer = probe_sealer(settings, self.recorder.evidence)
        # Which targets are this probe's when several split them (probe.shard, Redis).
        self.split = target_split(self.cfg, settings.coordination)
        self.summary = RunSummary(started=iso(utcnow()))
        self.started_at = time.monotonic()
        self.first_seen_at: dict[tuple[str, str, int], float] = {}

    async def __aenter__(self) -> Probe:
        self.state.load()
        for t in self.cli_targets:
            self.state.add(t)
        self.watcher.start()
        if self.cfg.metadata:
            self.fetcher.start()
        await self.split.join()
        for t in merge_targets(self.state.targets()):
            if self.split.owns(t.key):
                self._watch(t)
        self.state.save()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.watcher.final_stats()
        self.summary.ended = iso(utcnow())
        self.summary.targets = len(self.watcher.handles)
        unwatched = sorted([*self.watcher.failed, *self.watcher.pending])
        self.summary.targets_failed = len(unwatched)
        if unwatched:
            log.error("%d targets were never watched (add failed or still pending): %s",
                      len(unwatched), unwatched)
        self.summary.peers_seen = len({k for k, r in self.recorder.peers.items() if r.level >= 1})
        self.summary.observations = self.recorder.recorded
        self.summary.metadata_fetched = self.fetcher.fetched
        self.summary.watcher_payload = self.watcher.payload()
        self.summary.metadata_payload = self.fetcher.payload()
        moved = (self.summary.watcher_payload.get("recv_payload_bytes", 0)
                 + self.summary.watcher_payload.get("sent_payload_bytes", 0)
                 + self.summary.metadata_payload.get("recv_payload_bytes", 0)
                 + self.summary.metadata_payload.get("sent_payload_bytes", 0))
        self.summary.payload_ok = moved == 0
        if moved:
            log.error("payload bytes moved during this probe run: watcher %s, metadata %s",
                      self.summary.watcher_payload, self.summary.metadata_payload)
        self.state.save()
        runs = state_dir(self.settings) / "runs.jsonl"
        with runs.open("a") as fh:
            fh.write(json.dumps(self.summary.__dict__) + "\n")
        self.watcher.close()
        self.fetcher.close()
        await asyncio.to_thread(self.sealer.close)  # the clean-stop tree head
        await self.split.leave()

    def _watch(self, target: Target) -> None:
        self.watcher.add(target)
        rec = self.state.records.get(target.key)
        if rec and rec.num_pieces:
            self.watcher.set_num_pieces(target.key, rec.num_pieces)
        if rec and rec.metadata_done:
            self.fetcher.done.add(target.key)
        for ep in self.seed_peers:
            self.watcher.connect(target.key, ep)

    def add_targets(self, targets: Iterable[Target]) -> int:
        """Watch new targets (while running too); returns how many were new."""
        new = 0
        for t in merge_targets(targets):
            if self.state.add(t):
                new += 1
            if not self.split.owns(t.key):
                continue
            # Watcher.targets includes adds still under way, which must not be sent twice.
            if t.key not in self.watcher.targets and not (
                    t.v1 is None and any(x.v2 == t.v2 for x in self.watcher.targets.values())):
                self._watch(t)
        if new:
            self.state.save()
            log.info("%d new targets (%d watched)", new, len(self.watcher.handles))
        return new

    def _resplit(self) -> None:
        """The live probes changed: watch the targets now ours, drop those now another's."""
        mine = {t.key: t for t in merge_targets(self.state.targets()) if self.split.owns(t.key)}
        dropped = [k for k in list(self.watcher.targets) if k not in mine]
        for key in dropped:
            self.watcher.remove(key)
        self.watcher.prune_artifacts()
        added = [t for k, t in mine.items() if k not in self.watcher.targets]
        for t in added:
            self._watch(t)
        log.info("targets re-split (%s): %d taken over, %d handed on, %d watched",
                 self.split.description, len(added), len(dropped), len(mine))

    def _target_of(self, key: str) -> Target | None:
        return self.watcher.targets.get(key)

    def _on_sightings(self, sightings: list[Sighting]) -> None:
        docs = self.recorder.add(sightings)
        dropped = evict_oldest(self.recorder.peers, self.cfg.max_peers_in_memory)
        if dropped:
            log.info("%d least recently seen peers dropped from memory (recorded already)",
                     dropped)
        now = time.monotonic()
        for s in sightings:
            if s.level >= 1:
                self.first_seen_at.setdefault((s.key, s.ip, s.port), now - self.started_at)
                rec = self.state.records.get(s.key)
                if rec:
                    rec.last_seen = iso(s.at)
        if self.cfg.metadata:
            self._maybe_fetch(sightings)
        if docs:
            log.debug("recorded %d observations", len(docs))

    def _maybe_fetch(self, sightings: list[Sighting]) -> None:
        by_key: dict[str, list[tuple[str, int]]] = {}
        for s in sightings:
            if s.level >= 1 and s.key not in self.fetcher.done:
                by_key.setdefault(s.key, []).append((s.ip, s.port))
        for key, peers in by_key.items():
            target = self.watcher.targets.get(key)
            if target:
                self.fetcher.want(target, peers[:METADATA_PEERS])

    def _on_torrent(self, target: Target, doc: Torrent) -> None:
        self.store.spool.append([doc])
        rec = self.state.records.get(target.key)
        if rec:
            rec.metadata_done = True
            rec.num_pieces = doc.num_pieces
        if doc.num_pieces:
            self.watcher.set_num_pieces(target.key, doc.num_pieces)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.watcher.run(stop))
            tg.create_task(self.sealer.run(stop))
            if self.cfg.metadata:
                tg.create_task(self.fetcher.run(stop))
            tg.create_task(self._save_loop(stop))
            tg.create_task(self.split.run(stop, self._resplit))
            if self.use_index:
                tg.create_task(self._index_loop(stop))

    async def _save_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _wait(stop, SAVE_EVERY_S)
            await asyncio.to_thread(self.state.save)

    async def _index_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with self.store.reader() as backend:
                    found = await targets_from_index(backend)
                self.add_targets(found)
            except BackendUnavailable as exc:
                log.warning("cannot read targets from the index (retrying in %.0fs): %s",
                            self.cfg.index_refresh_s, exc)
            await _wait(stop, self.cfg.index_refresh_s)

    def snapshot(self) -> dict[str, Any]:
        """What ``heroes probe`` shows while running."""
        elapsed = max(time.monotonic() - self.started_at, 1e-6)
        levels: dict[int, int] = {}
        for r in self.recorder.peers.values():
            levels[r.level] = levels.get(r.level, 0) + 1
        return {
            "elapsed_s": round(elapsed, 1),
            "targets": len(self.watcher.handles),
            "targets_pending": len(self.watcher.pending),
            "targets_failed": len(self.watcher.failed),
            "connections_per_target": self.watcher.connection_cap,
            "peers": len(self.recorder.peers),
            "peers_by_level": {f"L{k}": v for k, v in sorted(levels.items())},
            "observations": self.recorder.recorded,
            "observations_per_min": round(self.recorder.recorded * 60 / elapsed, 1),
            "dht_lookups_per_s": round(self.watcher.dht_lookups / elapsed, 2),
            "dht_revisit_s": round(self.watcher.pacer.revisit_in_effect_s, 1),
            "dht_keeping_up": self.watcher.pacer.keeping_up(),
            "dht_lag_s": round(self.watcher.pacer.lag_s(time.monotonic()), 1),
            "metadata_fetched": self.fetcher.fetched,
            "payload": {"watcher": self.watcher.payload(), "metadata": self.fetcher.payload()},
        }

    def observations(self) -> dict[tuple[str, str, int], Any]:
        return dict(self.recorder.peers)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        pass


__all__ = ["Observation", "Probe", "RunSummary", "config_hash", "probe_version", "state_dir"]
