"""The watcher: one metadata-less libtorrent session that finds and grades the peers of targets.

The session is built without libtorrent's default plugins, so it has no ut_metadata: the
torrents it holds never get their info dictionary, and without it libtorrent can neither
request a block nor serve one. ``upload_mode | default_dont_download`` is a second guard.
Peers come from trackers (only when ``probe.announce`` is on: every tracker request
registers the probe), from read-only, lookup-only DHT queries paced by
``probe.dht_rate_per_s`` and ``probe.dht_interval_s``, and from PEX (``probe.pex``).

Targets are added with ``async_add_torrent``: a blocking add waits for libtorrent's network
thread once per torrent, which delays the first peers of a large target list by seconds.
A target's handle is recorded when its ``add_torrent_alert`` reports success; peers to dial
before then are kept until it does. A failed add is logged with the infohash and retried
``ADD_RETRIES`` times, then the target is listed in ``Watcher.failed``.

Reads the ``probe`` settings section. Outcomes per peer: a :class:`~monitors.peers.Sighting`
for every DHT-reported address (level 0) and for every connected peer at each poll.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import libtorrent as lt

from config.sections.probe import ProbeSettings
from index.documents import utcnow
from monitors.alert_pump import AlertPump
from monitors.errors import SessionError
from monitors.lt_settings import base_settings
from monitors.peers import Sighting, sighting_from_peer_info
from monitors.targets import Target
from monitors.torrent_params import add_params

log = logging.getLogger(__name__)

SOURCE_DHT = 2
STATS_EVERY_S = 1.0
# A failed add is tried again this many times, ADD_RETRY_S * attempt seconds apart.
ADD_RETRIES = 3
ADD_RETRY_S = 2.0


def watcher_settings(settings: ProbeSettings) -> dict[str, Any]:
    pack = base_settings(settings.listen_ip, settings.listen_port, dht=settings.dht,
                         bootstrap=settings.dht_bootstrap_nodes,
                         user_agent=settings.user_agent or None)
    pack.update({
        # 'ro' DHT queries: never enters other nodes' routing tables, stores and answers nothing.
        "dht_read_only": True,
        # Our own blocker would otherwise drop replies from a busy node during paced rounds.
        "dht_block_ratelimit": 100_000,
        "min_reconnect_time": settings.min_reconnect_s,
        "close_redundant_connections": False,
        "connections_limit": settings.max_connections,
        # Watched torrents are never queued: every one of them stays active.
        "active_limit": -1, "active_downloads": -1, "active_seeds": -1, "active_checking": -1,
        "active_tracker_limit": -1, "active_dht_limit": -1, "active_lsd_limit": 0,
        "unchoke_slots_limit": 0,
        "max_peerlist_size": 4000,
    })
    return pack


def torrent_flags(settings: ProbeSettings) -> int:
    f = lt.torrent_flags
    flags = f.upload_mode | f.default_dont_download | f.disable_lsd | f.disable_dht
    if not settings.pex:
        flags |= f.disable_pex
    return flags


class Watcher:
    """Holds every target as a metadata-less torrent and reports sightings."""

    def __init__(self, settings: ProbeSettings, on_sightings: Callable[[list[Sighting]], None]):
        self.settings = settings
        self.on_sightings = on_sightings
        self.session: lt.session | None = None
        self.handles: dict[str, lt.torrent_handle] = {}
        # Watched targets and those whose add is still under way (not yet in ``handles``).
        self.targets: dict[str, Target] = {}
        self.failed: dict[str, str] = {}  # key -> libtorrent's reason, after the last retry
        self._attempts: dict[str, int] = {}  # adds sent per target still waiting for success
        self._retry: list[tuple[float, str]] = []  # (due time, key) of failed adds
        self._deferred: dict[str, list[tuple[tuple[str, int], int]]] = {}  # dials before the handle
        self.num_pieces: dict[str, int] = {}
        self._by_sha1: dict[str, str] = {}  # v1 or truncated v2 hex -> target key
        self._peer_count: dict[str, int] = {}
        # (due time, insertion number, key): equal due times keep the order targets came in.
        self._due: list[tuple[float, int, str]] = []
        self._seq = 0
        self._save_dir = tempfile.TemporaryDirectory(prefix="heroes-watch-")
        self.stats: dict[str, int] = {}
        self._stats_seen = 0
        self.dht_lookups = 0
        self.dht_replies = 0
        self.pump: AlertPump | None = None

    def start(self) -> None:
        try:
            self.session = lt.session(watcher_settings(self.settings), 0)
        except RuntimeError as exc:
            raise SessionError(
                f"probe.listen_ip/listen_port {self.settings.listen_ip!r}:"
                f"{self.settings.listen_port}: cannot start the watcher: {exc}") from exc
        if self.settings.pex:
            self.session.add_extension("ut_pex")
        self.pump = AlertPump(self.session, self._on_alert, "watcher")
        log.info("watcher on %s:%d (announce %s, DHT %s, PEX %s)", self.settings.listen_ip,
                 self.session.listen_port(), self.settings.announce, self.settings.dht,
                 self.settings.pex)

    @property
    def listen_port(self) -> int:
        return self.session.listen_port() if self.session else 0

    @property
    def pending(self) -> list[str]:
        """Keys of targets whose add has not succeeded yet (sent, or waiting for a retry)."""
        return list(self._attempts)

    def add(self, target: Target) -> None:
        """Start watching ``target``; its handle arrives with the ``add_torrent_alert``."""
        if target.key in self.targets or self.session is None:
            return
        self.targets[target.key] = target
        self.failed.pop(target.key, None)
        for h in (target.v1, target.v2_truncated):
            if h:
                self._by_sha1[h] = target.key
        self._attempts[target.key] = 0
        self._submit(target.key)

    def _params(self, target: Target) -> lt.add_torrent_params:
        params = add_params(target, self._save_dir.name)
        params.flags = torrent_flags(self.settings)
        if self.settings.announce:
            params.trackers = list(dict.fromkeys([*target.trackers, *self.settings.trackers]))
        return params

    def _submit(self, key: str) -> None:
        assert self.session is not None
        self._attempts[key] += 1
        try:
            self.session.async_add_torrent(self._params(self.targets[key]))
        except RuntimeError as exc:
            self._add_failed(key, str(exc))

    def _on_added(self, alert: Any) -> None:
        key = self._key_of_hashes(alert.params.info_hashes)
        failed = alert.error.value() != 0  # the error_code is truthy even on success
        if key is None or key not in self._attempts:
            if failed:
                log.error("libtorrent could not add an unknown torrent: %s", alert.message())
            return
        if failed:
            self._add_failed(key, alert.error.message())
            return
        del self._attempts[key]
        handle = alert.handle
        self.handles[key] = handle
        for endpoint, source in self._deferred.pop(key, []):
            handle.connect_peer(endpoint, source)
        if self.settings.dht:
            self._seq += 1
            heapq.heappush(self._due, (0.0, self._seq, key))

    def _add_failed(self, key: str, reason: str) -> None:
        attempts = self._attempts[key]
        if attempts <= ADD_RETRIES:
            delay = ADD_RETRY_S * attempts
            log.error("cannot watch %s (attempt %d of %d, retrying in %.0fs): %s", key, attempts,
                      ADD_RETRIES + 1, delay, reason)
            heapq.heappush(self._retry, (time.monotonic() + delay, key))
            return
        # Reported, not dropped: Watcher.failed and the run summary list it, and a later
        # add() of the same target (the probe's next index read) starts over.
        log.error("cannot watch %s: giving up after %d attempts: %s", key, attempts, reason)
        self.failed[key] = reason
        del self._attempts[key]
        self._deferred.pop(key, None)
        target = self.targets.pop(key)
        for h in (target.v1, target.v2_truncated):
            if h and self._by_sha1.get(h) == key:
                del self._by_sha1[h]

    def _retry_due(self) -> None:
        now = time.monotonic()
        while self._retry and self._retry[0][0] <= now:
            _, key = heapq.heappop(self._retry)
            if key in self._attempts and self.session is not None:
                self._submit(key)

    def connect(self, key: str, endpoint: tuple[str, int], source: int = 0) -> None:
        handle = self.handles.get(key)
        if handle is not None:
            handle.connect_peer(endpoint, source)
        elif key in self._attempts:
            dials = self._deferred.setdefault(key, [])
            if (endpoint, source) not in dials:
                dials.append((endpoint, source))

    def set_num_pieces(self, key: str, num_pieces: int) -> None:
        self.num_pieces[key] = num_pieces

    async def run(self, stop: asyncio.Event) -> None:
        assert self.pump is not None, "start() first"
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pump.run(stop))
            tg.create_task(self._poll(stop))
            if self.settings.dht:
                tg.create_task(self._dht_rounds(stop))

    def _dht_nodes(self) -> int:
        assert self.session is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return int(self.session.status().dht_nodes)

    async def _dht_rounds(self, stop: asyncio.Event) -> None:
        """Paced lookups: each target every dht_interval_s, at most dht_rate_per_s overall."""
        assert self.session is not None
        gap = 1.0 / self.settings.dht_rate_per_s
        # Start as soon as the routing table has a node; the bootstrap alert can come late.
        while not stop.is_set() and self._dht_nodes() == 0:
            await _wait(stop, 0.1)
        while not stop.is_set():
            now = time.monotonic()
            if not self._due or self._due[0][0] > now:
                await _wait(stop, min(1.0, self._due[0][0] - now) if self._due else 1.0)
                continue
            _, seq, key = heapq.heappop(self._due)
            target = self.targets.get(key)
            if target is None:
                continue
            for h in (target.v1, target.v2_truncated):
                if h:
                    self.session.dht_get_peers(lt.sha1_hash(bytes.fromhex(h)))
                    self.dht_lookups += 1
            heapq.heappush(self._due, (now + self.settings.dht_interval_s, seq, key))
            await _wait(stop, gap)

    async def _poll(self, stop: asyncio.Event) -> None:
        assert self.session is not None
        while not stop.is_set():
            self._retry_due()
            self.session.post_torrent_updates()
            self.session.post_session_stats()
            await _wait(stop, self.settings.peer_poll_s)
            self.poll_peers()

    def poll_peers(self) -> None:
        at = utcnow()
        found: list[Sighting] = []
        own = self.settings.listen_ip
        for key, count in list(self._peer_count.items()):
            if count <= 0:
                continue
            handle = self.handles.get(key)
            if handle is None:
                continue
            for info in handle.get_peer_info():
                s = sighting_from_peer_info(key, info, self.num_pieces.get(key), at)
                if s.ip != own:
                    found.append(s)
        if found:
            self.on_sightings(found)

    def _key_of(self, handle: lt.torrent_handle) -> str | None:
        return self._key_of_hashes(handle.info_hashes())

    def _key_of_hashes(self, hashes: lt.info_hash_t) -> str | None:
        if hashes.has_v1():
            key = self._by_sha1.get(str(hashes.v1))
            if key:
                return key
        if hashes.has_v2():
            return self._by_sha1.get(str(hashes.v2)[:40])
        return None

    def _on_alert(self, alert: Any) -> None:
        if isinstance(alert, lt.dht_get_peers_reply_alert):
            self._on_dht_reply(alert)
        elif isinstance(alert, lt.add_torrent_alert):
            self._on_added(alert)
        elif isinstance(alert, lt.state_update_alert):
            for st in alert.status:
                key = self._key_of(st.handle)
                if key:
                    self._peer_count[key] = st.num_peers
        elif isinstance(alert, lt.session_stats_alert):
            self.stats = {k: int(v) for k, v in alert.values.items()
                          if k.startswith(("net.", "dht.dht_nodes", "peer.num_peers_connected"))}
            self._stats_seen += 1
        elif isinstance(alert, lt.tracker_reply_alert):
            log.debug("tracker %s: %d peers", alert.tracker_url, alert.num_peers)
        elif isinstance(alert, lt.tracker_error_alert):
            log.info("tracker %s: %s", alert.tracker_url, alert.message())
        elif isinstance(alert, lt.peer_connect_alert):
            key = self._key_of(alert.handle)
            if key:
                self._peer_count[key] = max(1, self._peer_count.get(key, 0))

    def _on_dht_reply(self, alert: Any) -> None:
        key = self._by_sha1.get(str(alert.info_hash))
        if key is None:
            return
        self.dht_replies += 1
        at = utcnow()
        own = self.settings.listen_ip
        found = []
        for ip, port in alert.peers():
            if ip == own:
                continue
            # A DHT answer alone proves nothing: level 0 until the address answers us.
            found.append(Sighting(key=key, ip=ip, port=port, at=at, sources=frozenset({"dht"})))
            self.connect(key, (ip, port), SOURCE_DHT)
        if found:
            self.on_sightings(found)

    def payload(self) -> dict[str, int]:
        return {"recv_payload_bytes": self.stats.get("net.recv_payload_bytes", 0),
                "sent_payload_bytes": self.stats.get("net.sent_payload_bytes", 0),
                "recv_bytes": self.stats.get("net.recv_bytes", 0),
                "sent_bytes": self.stats.get("net.sent_bytes", 0)}

    async def final_stats(self) -> None:
        """Ask for a last stats snapshot and wait for it (bounded)."""
        if self.session is None or self.pump is None:
            return
        self.session.post_session_stats()
        deadline = time.monotonic() + 2.0
        seen = self._stats_seen
        while time.monotonic() < deadline and self._stats_seen == seen:
            await asyncio.to_thread(self.session.wait_for_alert, 100)
            self.pump.drain()

    def close(self) -> None:
        self.session = None  # the session's destructor closes every connection
        self._save_dir.cleanup()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        pass
