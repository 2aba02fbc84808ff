"""The watcher: one metadata-less libtorrent session that finds and grades the peers of targets.

The session is built without libtorrent's default plugins, so it has no ut_metadata: the
torrents it holds never get their info dictionary, and without it libtorrent can neither
request a block nor serve one. ``upload_mode | default_dont_download`` is a second guard.
Peers come from trackers (only when ``probe.announce`` is on: every tracker request
registers the probe), from read-only, lookup-only DHT queries paced by
``probe.dht_rate_per_s`` and ``probe.dht_revisit_s`` (:mod:`monitors.pacing`), and from PEX
(``probe.pex``).

Targets are added with ``async_add_torrent``: a blocking add waits for libtorrent's network
thread once per torrent, which delays the first peers of a large target list by seconds.
A target's handle is recorded when its ``add_torrent_alert`` reports success; peers to dial
before then are kept until it does. A failed add is logged with the infohash and retried
``ADD_RETRIES`` times, then the target is listed in ``Watcher.failed``.

The session also logs every message peers send (alert category ``peer_log``); the
handshake, extended handshake, bitfield and HAVE messages of each connection are kept
(:mod:`monitors.artifacts`) and handed over with the sightings, whose level never exceeds
what those messages prove. Logging sends nothing: no INTERESTED, no REQUEST.

The connection budget is shared: every torrent is capped at ``probe.max_connections``
divided by the number of targets, at least two connections (:mod:`monitors.budget`), so a
few big swarms cannot take every slot from the small ones. A new target is added with the
cap in effect; when targets come or go, the next poll sets the new cap on every handle.

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
from datetime import UTC, datetime
from typing import Any

import libtorrent as lt

from config.sections.probe import ProbeSettings
from documents import utcnow
from monitors.alert_pump import AlertPump
from monitors.artifacts import INCOMING, KEPT, ConnectionArtifacts, LogEvent, parse_log
from monitors.budget import per_torrent_cap
from monitors.errors import SessionError
from monitors.lt_settings import probe_pack, raise_open_files
from monitors.pacing import LookupPacer
from monitors.peers import Sighting, sighting_from_peer_info
from monitors.targets import Target
from monitors.torrent_params import add_params

log = logging.getLogger(__name__)

SOURCE_DHT = 2
# A failed add is tried again this many times, ADD_RETRY_S * attempt seconds apart.
ADD_RETRIES = 3
ADD_RETRY_S = 2.0
# Peer-log lines of connections not yet attached to a torrent (incoming, before the
# infohash is read) are held for at most this many endpoints.
MAX_UNATTACHED = 10_000


def watcher_settings(settings: ProbeSettings) -> dict[str, Any]:
    pack = probe_pack(settings, dht=settings.dht)
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
    # The peer log carries the messages peers send us: the raw artifacts of observations.
    pack["alert_mask"] = pack["alert_mask"] | lt.alert_category.peer_log
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
        self.connection_cap = per_torrent_cap(settings.max_connections, 0)
        self._caps_applied = 0  # the cap every handle carries (0: a handle may differ)
        self.pacer = LookupPacer(settings.dht_revisit_s, settings.dht_rate_per_s)
        self._warned_pace = False
        self._save_dir = tempfile.TemporaryDirectory(prefix="heroes-watch-")
        self.stats: dict[str, int] = {}
        self._stats_seen = 0
        self.dht_lookups = 0
        self.dht_replies = 0
        self.pump: AlertPump | None = None
        # (target key, ip, port) -> what the peer sent on its current connection.
        self.artifacts: dict[tuple[str, str, int], ConnectionArtifacts] = {}
        self._unattached: dict[tuple[str, int], list[tuple[LogEvent, datetime]]] = {}

    def start(self) -> None:
        raise_open_files(self.settings.max_connections)
        try:
            self.session = lt.session(watcher_settings(self.settings), 0)
        except RuntimeError as exc:
            raise SessionError(
                f"probe.listen_interfaces {self.settings.interfaces()!r}: "
                f"cannot start the watcher: {exc}") from exc
        if self.settings.pex:
            self.session.add_extension("ut_pex")
        self.pump = AlertPump(self.session, self._on_alert, "watcher")
        log.info("watcher on %s, port %d (announce %s, DHT %s, PEX %s)",
                 self.settings.interfaces(), self.session.listen_port(), self.settings.announce,
                 self.settings.dht,
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

    def remove(self, key: str) -> None:
        """Stop watching ``key`` (another probe watches it now)."""
        target = self.targets.pop(key, None)
        if target is None:
            return
        self._attempts.pop(key, None)
        self._deferred.pop(key, None)
        self._peer_count.pop(key, None)
        self.pacer.remove(key)
        for h in (target.v1, target.v2_truncated):
            if h and self._by_sha1.get(h) == key:
                del self._by_sha1[h]
        handle = self.handles.pop(key, None)
        if handle is not None and self.session is not None:
            self.session.remove_torrent(handle)

    def prune_artifacts(self) -> None:
        """Forget the connections of targets no longer watched (after :meth:`remove`)."""
        for conn in [c for c in self.artifacts if c[0] not in self.targets]:
            del self.artifacts[conn]

    def _params(self, target: Target) -> lt.add_torrent_params:
        params = add_params(target, self._save_dir.name)
        params.flags = torrent_flags(self.settings)
        params.max_connections = self._current_cap()
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
            elif key is None and self.session is not None:
                self.session.remove_torrent(alert.handle)  # removed while its add was under way
            return
        if failed:
            self._add_failed(key, alert.error.message())
            return
        del self._attempts[key]
        handle = alert.handle
        self.handles[key] = handle
        if alert.params.max_connections != self._current_cap():
            self._caps_applied = 0  # added under an older cap: the next poll corrects it
        for endpoint, source in self._deferred.pop(key, []):
            handle.connect_peer(endpoint, source)
        if self.settings.dht:
            target = self.targets[key]
            self.pacer.add(key, 1 + (target.v1 is not None and target.v2 is not None),
                           time.monotonic())

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

    def _current_cap(self) -> int:
        return per_torrent_cap(self.settings.max_connections, len(self.targets))

    def share_connections(self) -> int:
        """Give every handle the per-torrent cap for the current number of targets."""
        cap = self._current_cap()
        if self._caps_applied != cap:
            if cap != self.connection_cap:
                log.info("connection budget: %d targets share %d connections, at most %d each",
                         len(self.targets), self.settings.max_connections, cap)
            for handle in self.handles.values():
                handle.set_max_connections(cap)
            self.connection_cap = self._caps_applied = cap
        return cap

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
        """Paced lookups: each target every dht_revisit_s, at most dht_rate_per_s overall."""
        assert self.session is not None
        # Start as soon as the routing table has a node; the bootstrap alert can come late.
        while not stop.is_set() and self._dht_nodes() == 0:
            await _wait(stop, 0.1)
        while not stop.is_set():
            now = time.monotonic()
            for key in self.pacer.take(now):
                target = self.targets.get(key)
                if target is None or self.session is None:
                    continue
                for h in {target.v1, target.v2_truncated} - {None}:
                    self.session.dht_get_peers(lt.sha1_hash(bytes.fromhex(h)))
                    self.dht_lookups += 1
            self._check_pace()
            # Wake at least 10 times a second: a burst of new targets must not wait.
            await _wait(stop, min(self.pacer.next_due(time.monotonic()), 0.1))

    def _check_pace(self) -> None:
        keeping_up = self.pacer.keeping_up()
        if not keeping_up and not self._warned_pace:
            log.warning("cannot keep up with the DHT lookups: %d targets need %.0f lookups/s to "
                        "be revisited every %.0fs, probe.dht_rate_per_s is %.0f; each target is "
                        "looked up every %.0fs instead", len(self.pacer),
                        self.pacer.needed_rate_per_s, self.settings.dht_revisit_s,
                        self.settings.dht_rate_per_s, self.pacer.revisit_in_effect_s)
        elif keeping_up and self._warned_pace:
            log.info("DHT lookups keep up again (every %.0fs)", self.settings.dht_revisit_s)
        self._warned_pace = not keeping_up

    async def _poll(self, stop: asyncio.Event) -> None:
        assert self.session is not None
        while not stop.is_set():
            self._retry_due()
            self.share_connections()
            self.session.post_torrent_updates()
            self.session.post_session_stats()
            await _wait(stop, self.settings.peer_poll_s)
            self.poll_peers()

    def poll_peers(self) -> None:
        # Messages logged before this poll must be in the artifacts before peer_info is read.
        if self.pump is not None:
            self.pump.drain()
        at = utcnow()
        found: list[Sighting] = []
        own = self.settings.own_ips()
        for key, count in list(self._peer_count.items()):
            if count <= 0:
                continue
            handle = self.handles.get(key)
            if handle is None:
                continue
            for info in handle.get_peer_info():
                ip, port = info.ip
                s = sighting_from_peer_info(key, info, self.num_pieces.get(key), at,
                                            self.artifacts.get((key, ip, port)), captured=True)
                if s.ip not in own:
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
        if isinstance(alert, lt.peer_log_alert):
            self._on_peer_log(alert)
        elif isinstance(alert, lt.peer_disconnected_alert):
            self._on_disconnected(alert)
        elif isinstance(alert, lt.dht_get_peers_reply_alert):
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

    def _on_peer_log(self, alert: Any) -> None:
        message = alert.message()
        # Cheap filter first: most of the peer log is libtorrent's own I/O bookkeeping.
        if " <== " not in message and " <<< HANDSHAKE " not in message:
            return
        event = parse_log(message, alert.log_message())
        if event is None or event.direction not in INCOMING or event.event not in KEPT:
            return
        at = _utc(alert.timestamp())
        ip, port = alert.ip
        key = self._key_of(alert.handle) if alert.handle.is_valid() else None
        if key is None:
            # An incoming connection names its torrent only with the infohash it sends.
            if len(self._unattached) < MAX_UNATTACHED or (ip, port) in self._unattached:
                self._unattached.setdefault((ip, port), []).append((event, at))
            return
        target = self.targets.get(key)
        conn = self.artifacts.get((key, ip, port))
        if conn is None or (event.event == "HANDSHAKE" and event.text == "BitTorrent protocol"):
            info_hash = (target.v1 or target.v2_truncated or key) if target else key
            conn = self.artifacts[(key, ip, port)] = ConnectionArtifacts(info_hash=info_hash)
            for early, early_at in self._unattached.pop((ip, port), []):
                conn.feed(early, early_at)
        conn.feed(event, at)

    def _on_disconnected(self, alert: Any) -> None:
        ip, port = alert.ip
        self._unattached.pop((ip, port), None)
        key = self._key_of(alert.handle) if alert.handle.is_valid() else None
        if key is not None:
            self.artifacts.pop((key, ip, port), None)

    def _on_dht_reply(self, alert: Any) -> None:
        key = self._by_sha1.get(str(alert.info_hash))
        if key is None:
            return
        self.dht_replies += 1
        at = utcnow()
        own = self.settings.own_ips()
        found = []
        for ip, port in alert.peers():
            if ip in own:
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


def _utc(when: datetime) -> datetime:
    # The bindings hand over libtorrent's system_clock time as a naive local datetime.
    # (astimezone reads a naive datetime as local time.)
    return when.astimezone(UTC)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        pass
