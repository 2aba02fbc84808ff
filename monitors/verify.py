"""Single-source verification: the only code path of the project that downloads pieces.

Run only by an investigator (``heroes probe verify INFOHASH --peer IP:PORT``); no setting
can start it. A fresh session whose IP filter blocks every address except the named
peer's dials that one peer, takes the metadata (BEP 9), then downloads a few pieces the
peer announced and lets libtorrent check them against the piece hashes
(``piece_finished_alert`` vs ``hash_failed_alert``). Every block's sender is checked
(``block_finished_alert`` carries the endpoint); a block from anyone else aborts the run.
The session never unchokes anybody, so it uploads nothing. The bytes live in a temporary
directory that is always removed; only with ``keep_to`` are the verified pieces written
out (``piece-<index>.bin``) for the case file.

Reads the ``probe`` settings section (listen interfaces, user_agent).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libtorrent as lt

from config.sections.probe import ProbeSettings
from monitors.errors import VerificationError
from monitors.lt_settings import probe_pack
from monitors.peers import FLAG_SEED, decode_client
from monitors.targets import Target
from monitors.torrent_params import add_params

log = logging.getLogger(__name__)


@dataclass
class VerifyResult:
    infohash: str
    peer: tuple[str, int]
    verified: list[int] = field(default_factory=list)
    hash_failed: list[int] = field(default_factory=list)
    piece_sha256: dict[int, str] = field(default_factory=dict)
    blocks_from: dict[str, int] = field(default_factory=dict)
    payload_received: int = 0
    payload_sent: int = 0
    peer_id: str = ""
    client: str = ""
    ext_v: str = ""
    num_pieces: int = 0
    kept_to: str | None = None
    work_dir: str = ""
    seconds: float = 0.0

    def detail(self) -> dict[str, Any]:
        return {"verification": "single-source", "enforced_by": "ip_filter+connect_peer",
                "peer": f"{self.peer[0]}:{self.peer[1]}", "verified_pieces": self.verified,
                "hash_failed": self.hash_failed,
                "piece_sha256": {str(k): v for k, v in sorted(self.piece_sha256.items())},
                "blocks_from": self.blocks_from, "payload_received": self.payload_received,
                "payload_sent": self.payload_sent, "num_pieces": self.num_pieces,
                "kept_to": self.kept_to}


def single_peer_filter(ip: str) -> lt.ip_filter:
    """Blocks every IPv4 and IPv6 address except ``ip``."""
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1)
    f.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1)
    f.add_rule(ip, ip, 0)
    return f


def choose_pieces(have: list[bool], seed: bool, num_pieces: int, count: int) -> list[int]:
    """``count`` pieces the peer has, spread over the torrent."""
    if seed:
        owned = list(range(num_pieces))
    else:
        owned = [i for i in range(min(num_pieces, len(have))) if have[i]]
    if not owned:
        return []
    if len(owned) <= count:
        return owned
    step = len(owned) / count
    return sorted({owned[int(i * step)] for i in range(count)})


class SingleSourceVerifier:
    def __init__(self, settings: ProbeSettings, target: Target, peer: tuple[str, int], *,
                 pieces: int = 3, keep_to: Path | None = None, timeout_s: float = 120.0):
        self.settings = settings
        self.target = target
        self.peer = peer
        self.pieces = pieces
        self.keep_to = keep_to
        self.timeout_s = timeout_s

    async def run(self) -> VerifyResult:
        work = Path(tempfile.mkdtemp(prefix="heroes-verify-"))
        result = VerifyResult(self.target.key, self.peer, work_dir=str(work))
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.to_thread(self._run, work, result), self.timeout_s)
        except TimeoutError as exc:
            raise VerificationError(
                f"verification of {self.target.key} from {self.peer[0]}:{self.peer[1]} did not "
                f"finish in {self.timeout_s:.0f}s (verified so far: {result.verified})") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
            result.seconds = round(time.monotonic() - started, 3)
        return result

    def _run(self, work: Path, result: VerifyResult) -> None:
        ip, port = self.peer
        pack = probe_pack(self.settings, port=0, dht=False)
        # Never unchoke anyone: pieces we now hold are served to nobody.
        pack.update({"unchoke_slots_limit": 0, "close_redundant_connections": False})
        try:
            ses = lt.session(pack)
        except RuntimeError as exc:
            raise VerificationError(f"cannot start the verification session: {exc}") from exc
        ses.set_ip_filter(single_peer_filter(ip))
        params = add_params(self.target, str(work))
        f = lt.torrent_flags
        params.flags = (f.default_dont_download | f.apply_ip_filter | f.disable_dht | f.disable_lsd
                        | f.disable_pex)
        handle = ses.add_torrent(params)
        handle.connect_peer(self.peer, 0)
        chosen: list[int] = []
        pending: set[int] = set()
        reads: set[int] = set()
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if not chosen and handle.status().has_metadata:
                chosen = self._choose(handle, result)
                if chosen:
                    pending = set(chosen)
                    prios = [0] * result.num_pieces
                    for i in chosen:
                        prios[i] = 7
                    handle.prioritize_pieces(prios)
                else:
                    handle.connect_peer(self.peer, 0)
            ses.wait_for_alert(200)
            for alert in ses.pop_alerts():
                self._on_alert(alert, handle, result, pending, reads)
            if chosen and not pending and len(reads) == len(result.verified):
                break
        else:
            raise VerificationError(
                f"verification of {self.target.key} from {ip}:{port} did not finish in "
                f"{self.timeout_s:.0f}s (verified so far: {sorted(result.verified)}, "
                f"waiting for {sorted(pending) or 'metadata and the peer bitfield'})")
        ses.post_session_stats()
        end = time.monotonic() + 2
        while time.monotonic() < end:
            ses.wait_for_alert(100)
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.session_stats_alert):
                    result.payload_received = int(alert.values["net.recv_payload_bytes"])
                    result.payload_sent = int(alert.values["net.sent_payload_bytes"])
                    end = 0
        ses.remove_torrent(handle)
        del ses

    def _choose(self, handle: lt.torrent_handle, result: VerifyResult) -> list[int]:
        ti = handle.torrent_file()
        result.num_pieces = ti.num_pieces()
        for info in handle.get_peer_info():
            if tuple(info.ip) != self.peer:
                continue
            if info.flags & (128 | 64):  # still connecting or in the handshake
                return []
            pid = bytes(info.pid.to_bytes())
            result.peer_id = pid.hex()
            result.client = decode_client(pid)
            raw = info.client
            result.ext_v = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            return choose_pieces([bool(b) for b in info.pieces], bool(info.flags & FLAG_SEED),
                                 result.num_pieces, self.pieces)
        return []

    def _on_alert(self, alert: Any, handle: lt.torrent_handle, result: VerifyResult,
                  pending: set[int], reads: set[int]) -> None:
        if isinstance(alert, lt.block_finished_alert):
            sender = tuple(alert.endpoint)
            ep = f"{sender[0]}:{sender[1]}"
            result.blocks_from[ep] = result.blocks_from.get(ep, 0) + 1
            if sender != self.peer:
                raise VerificationError(f"a block of piece {alert.piece_index} came from {ep}, "
                                        f"not from {self.peer[0]}:{self.peer[1]}; aborted")
        elif isinstance(alert, lt.piece_finished_alert):
            pending.discard(alert.piece_index)
            result.verified.append(alert.piece_index)
            handle.read_piece(alert.piece_index)
        elif isinstance(alert, lt.hash_failed_alert):
            pending.discard(alert.piece_index)
            result.hash_failed.append(alert.piece_index)
        elif isinstance(alert, lt.read_piece_alert):
            data = bytes(alert.buffer)
            reads.add(alert.piece)
            result.piece_sha256[alert.piece] = hashlib.sha256(data).hexdigest()
            if self.keep_to is not None:
                self.keep_to.mkdir(parents=True, exist_ok=True)
                (self.keep_to / f"piece-{alert.piece}.bin").write_bytes(data)
                result.kept_to = str(self.keep_to)
