"""DHT discovery (BEP 51): find infohashes nobody has flagged yet, fetch their metadata.

:class:`Discoverer` (the ``discover`` role of ``heroes probe discover``) runs one read-only
DHT session that walks the DHT with ``sample_infohashes``: it learns nodes from its routing
table (``dht_live_nodes``: router nodes are never in it, and a node with nothing stored
lists no nodes) and from the replies, asks each node again after the interval the node
states (at least ``node_gap_s``: libtorrent nodes block an address sending more than 5
packets a second), times unanswered queries out itself (a silent node posts nothing) and
drops a node after two misses.

Each sampled infohash passes an exact window of the most recently sampled ones (a repeat
costs nothing) and :class:`SeenFilter` (a Bloom filter, which only sorts: "new" or
"probably seen"); both kinds then go to the index, the authority on what is known, so a
false positive of the filter never loses a new infohash. A new one is written as a
``torrent`` document whose ``found_by`` names ``dht-sample``, the time and the node; its
peers are looked up (``dht_get_peers``) and its metadata fetched through the existing
no-payload metadata session (BEP 9, :mod:`monitors.metadata`), ``metadata_batch`` at a time.
With ``scrape`` on, the node that sampled it (it stores the infohash) is asked for a BEP 33
scrape (:mod:`monitors.scrape`), which gives the swarm-size estimate on the torrent. The
drain then classifies the torrent (hash and keyword lists); the probe watches it once it is
flagged.

Reads the ``probe`` settings section (``discovery``, routers, DHT defences, listen address
of the metadata session) and ``data_dir``; writes through ``index.store.Store``.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import logging
import math
import os
import time
import warnings
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libtorrent as lt

from config import Settings
from documents import Torrent, document_id, utcnow
from documents.torrent import FoundBy
from errors import BackendUnavailable
from index.store import Store
from monitors.alert_pump import AlertPump
from monitors.errors import SessionError
from monitors.lt_settings import DhtDefences, session_pack
from monitors.metadata import MetadataFetcher
from monitors.scrape import scrape
from monitors.targets import Target

log = logging.getLogger(__name__)

METHOD = "dht-sample"
LIVE_NODES_EVERY_S = 2.0
EMPTY_NODE_GAP_S = 3600.0
MISSES_TO_DROP = 2
PEERS_TIMEOUT_S = 15.0
INDEX_BATCH = 500
RECENT = 100_000  # exact window of the latest distinct samples, skipped without a look-up
STATUS_EVERY_S = 2.0


class SeenFilter:
    """A Bloom filter of infohashes (0.1 % false positives at ``capacity``); resets when full."""

    def __init__(self, capacity: int, fp_rate: float = 0.001):
        self.capacity = capacity
        self.bits = max(64, math.ceil(-capacity * math.log(fp_rate) / math.log(2) ** 2))
        self.hashes = max(1, round(self.bits / capacity * math.log(2)))
        self._array = bytearray((self.bits + 7) // 8)
        self.count = 0

    def _positions(self, value: str) -> list[int]:
        digest = hashlib.blake2b(value.encode(), digest_size=16).digest()
        a, b = int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:], "little") | 1
        return [(a + i * b) % self.bits for i in range(self.hashes)]

    def add(self, value: str) -> bool:
        """Remember ``value``; True when it was (probably) not seen before."""
        positions = self._positions(value)
        if all(self._array[p >> 3] >> (p & 7) & 1 for p in positions):
            return False
        if self.count >= self.capacity:
            self._array = bytearray(len(self._array))
            self.count = 0
        for p in positions:
            self._array[p >> 3] |= 1 << (p & 7)
        self.count += 1
        return True


@dataclass
class Rates:
    started: float = field(default_factory=time.monotonic)
    queries: int = 0
    answers: int = 0
    samples: int = 0
    distinct: int = 0
    known_in_index: int = 0
    new: int = 0
    metadata: int = 0
    no_peers: int = 0
    scraped: int = 0


def _ep(raw: Any) -> tuple[str, int]:
    return str(raw[0]), int(raw[1])


class Discoverer:
    """BEP 51 sampling, dedup, metadata and torrent documents (see the module docstring)."""

    name = "discover"

    def __init__(self, settings: Settings, store: Store, *, keep_found: bool = False):
        self.settings = settings
        # Every distinct infohash sampled, for measurements (unbounded: not for long runs).
        self.found: set[str] | None = set() if keep_found else None
        self.cfg = settings.probe.discovery
        self.probe_cfg = settings.probe
        self.store = store
        self.session: lt.session | None = None
        self.pump: AlertPump | None = None
        self.fetcher = MetadataFetcher(settings.probe, self._on_torrent, self._on_no_metadata)
        self.seen = SeenFilter(self.cfg.filter_capacity)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.rates = Rates()
        self._due: list[tuple[float, tuple[str, int]]] = []
        self._known: dict[tuple[str, int], float] = {}
        self._inflight: dict[tuple[str, int], float] = {}
        self._misses: dict[tuple[str, int], int] = {}
        self._fresh: deque[tuple[str, str, Any]] = deque()  # (hex, node, at) to check
        self._queue: deque[str] = deque()  # new, waiting for peers and metadata
        self._looking: dict[str, float] = {}  # get_peers under way
        self._origin: dict[str, tuple[str, Any]] = {}  # hex -> (node, at) of its first sample
        self._tokens = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self.status_path = (Path(settings.data_dir) / "probe" / settings.probe.probe_id
                            / "discover-status.json")

    # -- lifecycle -------------------------------------------------------------------------

    def _pack(self) -> dict[str, Any]:
        iface = self.cfg.listen_interfaces
        pack = session_pack(iface, dht=True, bootstrap=self.probe_cfg.dht_bootstrap_nodes,
                            defences=DhtDefences.of(self.probe_cfg),
                            user_agent=self.probe_cfg.user_agent or None)
        # 'ro' queries: stays out of others' routing tables, stores and answers nothing.
        pack.update({"dht_read_only": True, "dht_block_ratelimit": 100_000})
        return pack

    async def __aenter__(self) -> Discoverer:
        try:
            self.session = lt.session(self._pack(), 0)
        except RuntimeError as exc:
            raise SessionError(f"probe.discovery.listen_interfaces "
                               f"{self.cfg.listen_interfaces!r}: cannot start: {exc}") from exc
        self.pump = AlertPump(self.session, self._on_alert, "discover")
        self.fetcher.start()
        for node in self.probe_cfg.dht_bootstrap_nodes:
            host, _, port = node.rpartition(":")
            host = host.strip("[]")
            if host.replace(".", "").isdigit() or ":" in host:
                self._schedule((host, int(port)), 0.0)  # routers take queries too
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.write_status()
        self.fetcher.close()
        self.session = None

    async def run(self, stop: asyncio.Event) -> None:
        assert self.pump is not None, "enter first"
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pump.run(stop))
            tg.create_task(self.fetcher.run(stop))
            tg.create_task(self._crawl(stop))
            tg.create_task(self._pipeline(stop))
            tg.create_task(self._status_loop(stop))

    # -- sampling --------------------------------------------------------------------------

    def _schedule(self, ep: tuple[str, int], due: float) -> None:
        self._known[ep] = due
        heapq.heappush(self._due, (due, ep))

    def _learn(self, nodes: Any) -> None:
        now = time.monotonic()
        for n in nodes:
            ep = _ep(n["endpoint"])
            if ep not in self._known:
                self._schedule(ep, now)

    def _live_nodes(self) -> None:
        assert self.session is not None
        ids = self.session.dht_state().get(b"node-id") or []
        for entry in ids:
            self.session.dht_live_nodes(lt.sha1_hash(bytes(entry[:20])))

    def _dht_nodes(self) -> int:
        assert self.session is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return int(self.session.status().dht_nodes)

    async def _crawl(self, stop: asyncio.Event) -> None:
        assert self.session is not None
        while not stop.is_set() and self._dht_nodes() == 0:
            await _wait(stop, 0.05)
        last_live = 0.0
        last = time.monotonic()
        while not stop.is_set() and self.session is not None:
            now = time.monotonic()
            if now - last_live >= LIVE_NODES_EVERY_S:
                self._live_nodes()
                last_live = now
            self._expire(now)
            self._tokens = min(self._tokens + (now - last) * self.cfg.rate_per_s,
                               max(self.cfg.rate_per_s, 1.0))
            last = now
            while self._tokens >= 1 and self._due and self._due[0][0] <= now:
                due, ep = heapq.heappop(self._due)
                if self._known.get(ep) != due or ep in self._inflight:
                    continue  # rescheduled since, dropped, or under way
                self.session.dht_sample_infohashes(ep, lt.sha1_hash(os.urandom(20)))
                self._inflight[ep] = now
                self.rates.queries += 1
                self._tokens -= 1
            await _wait(stop, 0.02)

    def _expire(self, now: float) -> None:
        for ep, sent in list(self._inflight.items()):
            if now - sent > self.cfg.query_timeout_s:
                del self._inflight[ep]
                self._misses[ep] = self._misses.get(ep, 0) + 1
                if self._misses[ep] >= MISSES_TO_DROP:
                    self._known.pop(ep, None)
                else:
                    self._schedule(ep, now + self.cfg.node_gap_s)

    def _on_sample(self, alert: Any) -> None:
        ep = _ep(alert.endpoint)
        self._inflight.pop(ep, None)
        self._misses.pop(ep, None)
        self.rates.answers += 1
        at = utcnow()
        node = f"[{ep[0]}]:{ep[1]}" if ":" in ep[0] else f"{ep[0]}:{ep[1]}"
        for h in alert.samples:
            self.rates.samples += 1
            hexed = str(h)
            if hexed in self._recent:
                self._recent.move_to_end(hexed)
                continue
            self._recent[hexed] = None
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            if self.seen.add(hexed):
                self.rates.distinct += 1
                if self.found is not None:
                    self.found.add(hexed)
            # "Probably seen" may be the filter's false positive: the index decides.
            self._fresh.append((hexed, node, at))
        self._learn(alert.nodes)
        now = time.monotonic()
        gap = max(alert.interval.total_seconds(), self.cfg.node_gap_s)
        self._schedule(ep, now + (gap if alert.num_samples else EMPTY_NODE_GAP_S))

    # -- new infohashes: index check, skeleton document, peers, metadata -------------------

    async def _pipeline(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _wait(stop, 0.25)
            if self._fresh:
                batch = [self._fresh.popleft() for _ in range(min(INDEX_BATCH, len(self._fresh)))]
                try:
                    await self._check_index(batch)
                except BackendUnavailable as exc:
                    log.warning("cannot read the index (retrying): %s", exc)
                    self._fresh.extendleft(reversed(batch))
            self._dispatch()

    async def _check_index(self, batch: list[tuple[str, str, Any]]) -> None:
        ids = {document_id("torrent", [h]): (h, node, at) for h, node, at in batch}
        async with self.store.reader() as backend:
            known = await backend.get("torrent", list(ids))
        docs = []
        for doc_id, (h, node, at) in ids.items():
            if doc_id in known:
                self.rates.known_in_index += 1
                continue
            self.rates.new += 1
            self._origin[h] = (node, at)
            self._queue.append(h)
            docs.append(Torrent(infohash=h, first_seen=at,
                                found_by=[FoundBy(method=METHOD, at=at, node=node)]))
        if docs:
            self.store.spool.append(docs)

    def _dispatch(self) -> None:
        if self.session is None:
            return
        now = time.monotonic()
        for h, since in list(self._looking.items()):
            if now - since > PEERS_TIMEOUT_S:
                del self._looking[h]
                self.rates.no_peers += 1
        while self._queue and len(self._looking) < self.cfg.metadata_batch:
            h = self._queue.popleft()
            self._looking[h] = now
            self.session.dht_get_peers(lt.sha1_hash(bytes.fromhex(h)))

    def _on_peers(self, alert: Any) -> None:
        h = str(alert.info_hash)
        if h not in self._looking:
            return
        peers = [_ep(p) for p in alert.peers()]
        if peers:
            self.fetcher.want(Target(h, None, (), "discovery"), peers[:3])

    def _on_no_metadata(self, target: Target) -> None:
        if self._looking.pop(target.key, None) is not None:
            self._origin.pop(target.key, None)
            self.rates.no_peers += 1

    def _on_torrent(self, target: Target, doc: Torrent) -> None:
        self._looking.pop(target.key, None)
        node, at = self._origin.pop(target.key, ("", utcnow()))
        doc = doc.model_copy(update={"first_seen": at, "found_by": [
            FoundBy(method=METHOD, at=at, node=node)]})
        self.rates.metadata += 1
        self.store.spool.append([doc])
        if self.cfg.scrape and node:
            task = asyncio.get_running_loop().create_task(self._scrape(target.key, node))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _scrape(self, infohash: str, node: str) -> None:
        host, _, port = node.rpartition(":")
        found = await scrape((host.strip("[]"), int(port)), infohash, self.cfg.query_timeout_s)
        if found is None:
            return
        now = utcnow()
        self.rates.scraped += 1
        self.store.spool.append([Torrent(infohash=infohash, first_seen=now, swarm_seeds=found[0],
                                         swarm_peers=found[1], swarm_estimated_at=now)])

    def _on_alert(self, alert: Any) -> None:
        if isinstance(alert, lt.dht_sample_infohashes_alert):
            self._on_sample(alert)
        elif isinstance(alert, lt.dht_live_nodes_alert):
            self._learn(alert.nodes)
        elif isinstance(alert, lt.dht_get_peers_reply_alert):
            self._on_peers(alert)

    # -- rates -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        r = self.rates
        elapsed = max(time.monotonic() - r.started, 1e-6)
        return {
            "elapsed_s": round(elapsed, 1),
            "nodes_known": len(self._known),
            "queries": r.queries, "answers": r.answers,
            "samples_per_s": round(r.samples / elapsed, 1),
            "distinct": r.distinct, "known_in_index": r.known_in_index, "new": r.new,
            "new_per_min": round(r.new * 60 / elapsed, 1),
            "metadata_fetched": r.metadata,
            "metadata_per_min": round(r.metadata * 60 / elapsed, 1),
            "no_peers": r.no_peers, "scraped": r.scraped,
            "backlog": len(self._fresh) + len(self._queue) + len(self._looking),
            "payload": self.fetcher.payload(),
        }

    def write_status(self) -> None:
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"at": utcnow().isoformat(), **self.snapshot()}))
        os.replace(tmp, self.status_path)

    async def _status_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _wait(stop, STATUS_EVERY_S)
            await asyncio.to_thread(self.write_status)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        pass
