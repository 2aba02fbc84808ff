"""Synthetic peers over flagged and unflagged swarms for the triage tests (innocuous lab data).

Addresses are loopback (IPv4) and link-local (IPv6, for /64 grouping); swarms are flagged
only because a lab hash list names them or a lab keyword rule marked their torrent.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from documents import Document, FlaggedHash, Match, Observation, Torrent
from documents.torrent import TorrentFile
from evidence.registry import open_log, probe_log_name, probe_log_path

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=10)


def _ih(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


SWARM_A = _ih("lab swarm a")  # list "lab-list", category "a" (severity 3 in SEVERITY)
SWARM_B = _ih("lab swarm b")  # category "b" (severity 2)
SWARM_C = _ih("lab swarm c")  # no category (default severity 1)
SWARM_K = _ih("lab swarm k")  # its torrent flagged by a keyword rule
UNFLAGGED_1 = _ih("lab swarm u1")
UNFLAGGED_2 = _ih("lab swarm u2")
SEVERITY = {"a": 3, "b": 2}

TOP = "127.20.0.1"
MID = "127.20.0.2"
L0_ONLY = "127.20.0.3"
OLD = "127.20.0.4"
UNFLAGGED_ONLY = "127.20.0.5"
MOVED_FROM = "127.20.0.6"
MOVED_TO = "127.20.0.7"
V6_A = "fe80::1:1"
V6_B = "fe80::1:2"
V6_OTHER = "fe80:0:0:1::5"
NET64 = "fe80::/64"
MOVING_PEER_ID = "2d7142343632302d" + "6c61626d6f76696e67706565"


def hashes() -> list[Document]:
    return [
        FlaggedHash(value=SWARM_A, type="infohash", list="lab-list", category="a", added_at=T0),
        FlaggedHash(value=SWARM_B, type="infohash", list="lab-list", category="b", added_at=T0),
        FlaggedHash(value=SWARM_C, type="infohash", list="lab-list-2", added_at=T0),
    ]


def torrents() -> list[Document]:
    keyword = Match(list="lab-keywords", type="keyword", value="lamp", field="name",
                    category="b")
    return [
        Torrent(infohash=SWARM_A, name="garden lamp catalogue", first_seen=T0,
                files=[TorrentFile(path="catalogue/lamps.txt", size=4096),
                       TorrentFile(path="catalogue/readme.txt", size=512)],
                total_size=4608, metadata_at=T0),
        Torrent(infohash=SWARM_K, name="lamp manual", first_seen=T0, flagged=True,
                matches=[keyword]),
        Torrent(infohash=UNFLAGGED_1, name="tea recipes", first_seen=T0),
    ]


def obs(ip: str, infohash: str, day: float, days: float, level: int, *, port: int = 6881,
        have: float | None = None, peer_id: str = "", client: str = "",
        ext_v: str = "") -> Observation:
    first = T0 + timedelta(days=day)
    return Observation(infohash=infohash, ip=ip, port=port, sources=["tracker"],
                       first_seen=first, last_seen=first + timedelta(days=days), level=level,
                       have_fraction=have, peer_id=peer_id, client=client, ext_v=ext_v,
                       probe_id="probe-lab")


def observations() -> list[Observation]:
    return [
        obs(TOP, SWARM_A, 0, 8, 3, have=1.0, client="qBittorrent 4.6.2", ext_v="qB 4.6.2",
            peer_id="2d7142343632302d" + "746f70746f70746f70746f70"),
        obs(TOP, SWARM_B, 1, 2, 2, have=0.5, port=51413),
        obs(TOP, SWARM_C, 2, 1, 1),
        obs(MID, SWARM_B, 5, 4, 1),
        obs(MID, SWARM_K, 6, 1, 2, have=0.3),
        *[obs(L0_ONLY, s, 3, 5, 0) for s in (SWARM_A, SWARM_B, SWARM_C, SWARM_K)],
        obs(L0_ONLY, UNFLAGGED_1, 3, 1, 0),
        obs(OLD, SWARM_A, 0, 1, 1),
        obs(UNFLAGGED_ONLY, UNFLAGGED_1, 0, 9, 2, have=1.0),
        obs(UNFLAGGED_ONLY, UNFLAGGED_2, 0, 9, 2, have=1.0),
        obs(MOVED_FROM, SWARM_C, 2, 0.2, 1, peer_id=MOVING_PEER_ID, client="Transmission 4.0"),
        obs(MOVED_TO, SWARM_C, 2.3, 0.5, 1, peer_id=MOVING_PEER_ID, client="Transmission 4.0"),
        obs(V6_A, SWARM_A, 4, 1, 1),
        obs(V6_B, SWARM_B, 4, 1, 1),
        obs(V6_OTHER, SWARM_C, 4, 1, 1),
    ]


def with_evidence(data_dir: Path, docs: list[Observation], *, skip: set[str] = frozenset()
                  ) -> list[Observation]:
    """Append each observation to a probe log as the probe does (two records each: first
    sighting, then last), returning the documents carrying their record hash; observations
    of ``skip`` addresses get none (as if imported from another tool)."""
    log = open_log(data_dir, probe_log_name("probe-lab"), probe_log_path(data_dir, "probe-lab"))
    out = []
    for doc in docs:
        if doc.ip in skip:
            out.append(doc)
            continue
        entry = None
        for seen in (doc.first_seen, doc.last_seen):
            step = doc.model_copy(update={"last_seen": seen})
            data = {"type": "observation", "id": doc.id,
                    **step.model_dump(mode="json", exclude={"chain_hash"})}
            entry = log.append(data)
        assert entry is not None
        out.append(doc.model_copy(update={"chain_hash": entry["hash"]}))
    return out
