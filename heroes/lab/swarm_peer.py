"""One member of the lab swarm: one process, one libtorrent session, one loopback address.

Run as ``python -m heroes.lab.swarm_peer CONFIG.json`` (written by :mod:`heroes.lab.swarm`).
The config names the address, client fingerprint and extended-handshake ``v``, the role
(seed, partial, leecher), DHT bootstrap nodes and the torrents with their data directories.

Every half second the peer writes a status file (atomically) with its pieces per torrent
and, per remote endpoint it was ever connected to, the largest payload byte counters seen
in both directions: the swarm-side proof that a probe moved no content.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import libtorrent as lt

from monitors.lt_settings import base_settings

log = logging.getLogger("heroes.lab.swarm_peer")

STATUS_EVERY_S = 0.5


def peer_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    pack = base_settings(cfg["ip"], cfg["port"], dht=True, bootstrap=cfg["bootstrap"],
                         fingerprint=cfg["fingerprint"], user_agent=cfg["user_agent"])
    pack.update({
        "dht_announce_interval": 60,
        # BEP 51 samples are not cached, so a sampler sees new lab torrents at once.
        "dht_sample_infohashes_interval": 0,
        # A five-node DHT sends every query to the same few nodes: relax the per-IP blocker.
        "dht_block_ratelimit": 100_000,
        "dht_upload_rate_limit": 10_000_000,
        "min_announce_interval": 5,
        "min_reconnect_time": 3,
        "close_redundant_connections": cfg.get("close_redundant", False),
    })
    return pack


def add_torrents(ses: lt.session, cfg: dict[str, Any]) -> list[lt.torrent_handle]:
    handles = []
    for spec in cfg["torrents"]:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(spec["file"])
        params.save_path = spec["save_path"]
        if spec.get("priorities") is not None:
            params.file_priorities = spec["priorities"]
        if cfg["role"] == "seed":
            params.flags |= lt.torrent_flags.seed_mode
        if spec.get("download_limit"):
            params.download_limit = spec["download_limit"]
        handles.append(ses.add_torrent(params))
    return handles


class ConnectionLedger:
    """Largest payload counters seen per (torrent, remote ip, remote port)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], dict[str, Any]] = {}

    def update(self, infohash: str, peers: list[Any]) -> None:
        for p in peers:
            ip, port = p.ip
            key = (infohash, ip, port)
            row = self.rows.setdefault(key, {"infohash": infohash, "ip": ip, "port": port,
                                             "payload_down": 0, "payload_up": 0, "client": ""})
            row["payload_down"] = max(row["payload_down"], p.total_download)
            row["payload_up"] = max(row["payload_up"], p.total_upload)
            row["client"] = p.client.decode("utf-8", "replace") if p.client else row["client"]

    def as_list(self) -> list[dict[str, Any]]:
        return list(self.rows.values())


def torrent_status(handle: lt.torrent_handle) -> dict[str, Any]:
    st = handle.status()
    pieces = list(st.pieces)
    have = sum(1 for b in pieces if b)
    total = len(pieces)
    return {"state": str(st.state), "num_pieces": total, "have": have,
            "fraction": (have / total) if total else 0.0, "finished": st.is_finished,
            "seeding": st.is_seeding, "checking": st.state in (
                lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)}


def write_status(path: Path, status: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1))
    os.replace(tmp, path)


def run(cfg: dict[str, Any]) -> None:
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ses = lt.session(peer_settings(cfg))
    handles = add_torrents(ses, cfg)
    ledger = ConnectionLedger()
    status_path = Path(cfg["status"])
    while not stop:
        ses.wait_for_alert(int(STATUS_EVERY_S * 1000))
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.peer_disconnected_alert | lt.peer_connect_alert
                          | lt.incoming_connection_alert | lt.listen_failed_alert):
                log.info("%s", alert.message())
        torrents = {}
        for h in handles:
            ih = str(h.info_hashes().v1)
            peers = h.get_peer_info()
            ledger.update(ih, peers)
            torrents[ih] = torrent_status(h)
        write_status(status_path, {
            "name": cfg["name"], "pid": os.getpid(), "at": time.time(), "ip": cfg["ip"],
            "port": ses.listen_port(), "dht_nodes": ses.status().dht_nodes,
            "torrents": torrents, "connections": ledger.as_list(),
        })
    log.info("stopping")


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = json.loads(Path(sys.argv[1]).read_text())
    run(cfg)


if __name__ == "__main__":
    main()
