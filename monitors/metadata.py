"""Fetch a target's metadata (BEP 9) once, in a session separate from the watcher.

The watcher must stay metadata-less (see ``monitors.watcher``), so a second session with
libtorrent's ut_metadata plugin dials a few peers the watcher has seen, takes the info
dictionary, turns it into a ``torrent`` document (name, files, sizes, pieces) and drops the
torrent at once. Its torrents are in ``upload_mode | default_dont_download``: it downloads
and serves no piece. No trackers, no DHT, no PEX, no LSD.

Reads the ``probe`` settings section (listen interfaces, metadata_timeout_s). Outcomes per
target: fetched (``on_torrent`` called), timed out (retried when new peers are offered),
every offered peer gone (``on_failed`` called, retried when new peers are offered), failed
(logged with libtorrent's reason).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Callable
from typing import Any

import libtorrent as lt

from config.sections.probe import ProbeSettings
from documents import Torrent, utcnow
from documents.torrent import TorrentFile
from monitors.alert_pump import AlertPump
from monitors.errors import SessionError
from monitors.lt_settings import probe_pack
from monitors.targets import Target
from monitors.torrent_params import add_params

log = logging.getLogger(__name__)


def torrent_document(target: Target, ti: Any) -> Torrent:
    """A ``torrent`` document from a libtorrent ``torrent_info`` (pad files left out)."""
    fs = ti.files()
    files = [TorrentFile(path=fs.file_path(i), size=fs.file_size(i)) for i in range(fs.num_files())
             if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
    hashes = ti.info_hashes()
    v1 = str(hashes.v1) if hashes.has_v1() else target.v1
    v2 = str(hashes.v2) if hashes.has_v2() else target.v2
    now = utcnow()
    return Torrent(infohash=v1 or v2 or target.key, infohash_v2=v2, name=ti.name(), files=files,
                   total_size=sum(f.size for f in files), num_pieces=ti.num_pieces(),
                   piece_length=ti.piece_length(), magnet=lt.make_magnet_uri(ti),
                   first_seen=now, metadata_at=now)


class MetadataFetcher:
    """One short-lived torrent per target until its info dictionary arrived."""

    def __init__(self, settings: ProbeSettings, on_torrent: Callable[[Target, Torrent], None],
                 on_failed: Callable[[Target], None] | None = None):
        self.settings = settings
        self.on_torrent = on_torrent
        # Called when a target's metadata did not come: every peer offered dropped or
        # refused us, or the attempt timed out.
        self.on_failed = on_failed
        self._lost: dict[str, int] = {}
        self.session: lt.session | None = None
        self.pump: AlertPump | None = None
        self.done: set[str] = set()
        self._active: dict[str, tuple[lt.torrent_handle, Target, float]] = {}
        self._dialled: dict[str, set[tuple[str, int]]] = {}
        self._save_dir = tempfile.TemporaryDirectory(prefix="heroes-meta-")
        self.stats: dict[str, int] = {}
        self.fetched = 0
        self.timeouts = 0
        self.failures = 0

    def start(self) -> None:
        pack = probe_pack(self.settings, port=0, dht=False)
        pack.update({"unchoke_slots_limit": 0, "min_reconnect_time": self.settings.min_reconnect_s,
                     "close_redundant_connections": False,
                     # libtorrent dials 30 peers a second by default; discovery offers more.
                     "connection_speed": 500})
        try:
            self.session = lt.session(pack)  # default plugins: ut_metadata is the point here
        except RuntimeError as exc:
            raise SessionError(f"cannot start the metadata session on "
                               f"{self.settings.interfaces(0)!r}: {exc}") from exc
        self.pump = AlertPump(self.session, self._on_alert, "metadata")

    def want(self, target: Target, peers: list[tuple[str, int]]) -> None:
        """Fetch ``target``'s metadata from ``peers`` unless done or under way."""
        if self.session is None or target.key in self.done:
            return
        if target.key not in self._active:
            params = add_params(target, self._save_dir.name)
            f = lt.torrent_flags
            params.flags = (f.upload_mode | f.default_dont_download | f.disable_dht | f.disable_lsd
                            | f.disable_pex)
            handle = self.session.add_torrent(params)
            self._active[target.key] = (handle, target, time.monotonic())
            self._dialled[target.key] = set()
        handle = self._active[target.key][0]
        for ep in peers:
            if ep not in self._dialled[target.key]:
                self._dialled[target.key].add(ep)
                handle.connect_peer(ep, 0)

    async def run(self, stop: asyncio.Event) -> None:
        assert self.pump is not None, "start() first"
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pump.run(stop))
            tg.create_task(self._expire(stop))

    async def _expire(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            except TimeoutError:
                pass
            if self.session is None:
                return
            self.session.post_session_stats()
            now = time.monotonic()
            for key, (handle, target, started) in list(self._active.items()):
                if now - started > self.settings.metadata_timeout_s:
                    log.info("metadata of %s not received in %.0fs; will retry with new peers",
                             key, self.settings.metadata_timeout_s)
                    self.timeouts += 1
                    self._drop(key, handle)
                    if self.on_failed is not None:
                        self.on_failed(target)

    @property
    def active(self) -> int:
        return len(self._active)

    def _drop(self, key: str, handle: lt.torrent_handle) -> None:
        self._active.pop(key, None)
        self._dialled.pop(key, None)
        self._lost.pop(key, None)
        if self.session is not None:
            self.session.remove_torrent(handle)

    def _on_alert(self, alert: Any) -> None:
        if isinstance(alert, lt.metadata_received_alert):
            for key, (handle, target, _) in list(self._active.items()):
                if handle == alert.handle:
                    doc = torrent_document(target, handle.torrent_file())
                    self.done.add(key)
                    self.fetched += 1
                    self._drop(key, handle)
                    log.info("metadata of %s: %r, %d files, %d pieces", key, doc.name,
                             len(doc.files), doc.num_pieces or 0)
                    self.on_torrent(target, doc)
        elif isinstance(alert, lt.peer_disconnected_alert | lt.peer_error_alert):
            self._on_lost(alert)
        elif isinstance(alert, lt.metadata_failed_alert):
            log.warning("metadata of %s failed: %s", alert.handle.info_hashes(), alert.message())
        elif isinstance(alert, lt.session_stats_alert):
            self.stats = {k: int(v) for k, v in alert.values.items() if k.startswith("net.")}

    def _on_lost(self, alert: Any) -> None:
        if not alert.handle.is_valid():
            return
        for key, (handle, target, _) in list(self._active.items()):
            if handle == alert.handle:
                self._lost[key] = self._lost.get(key, 0) + 1
                if self._lost[key] >= len(self._dialled.get(key, ())):
                    # Every peer offered is gone: waiting for the timeout would hold a slot.
                    self.failures += 1
                    self._drop(key, handle)
                    if self.on_failed is not None:
                        self.on_failed(target)
                return

    def payload(self) -> dict[str, int]:
        return {"recv_payload_bytes": self.stats.get("net.recv_payload_bytes", 0),
                "sent_payload_bytes": self.stats.get("net.sent_payload_bytes", 0)}

    def close(self) -> None:
        self.session = None
        self._save_dir.cleanup()
