"""The BitTorrent half of the lab world: generated content, torrents, trackers, peers, a DHT.

``up(run_dir)`` writes seeded random content and two torrents (v1-only and hybrid v1+v2)
into ``run_dir``, starts Debian's opentracker (whitelist build) and our tiny HTTP tracker
on 127.0.0.1, and five peers (:mod:`heroes.lab.swarm_peer`), one process each on
127.0.0.2-6 with distinct client fingerprints. The peers form a DHT bootstrapped from
127.0.0.2 (no public routers). ``up`` returns once every peer has finished checking, both
trackers know every peer and a DHT lookup finds every peer; ``down`` stops exactly the
processes ``up`` started (recorded in the lab's process table, group ``swarm``:
:mod:`heroes.lab.processes`); ``status`` reads the peers' status files. ``hashes.txt``
lists the lab torrents' v1 infohashes, one per line,
for the hash-set importer. Only loopback addresses are used; no settings are read.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heroes.lab.processes import (
    LabProcess,
    LabProcessError,
    ProcessTable,
    ReadyCheck,
    log_tail,
)

log = logging.getLogger(__name__)

OPENTRACKER_PORT = 6969
TINY_TRACKER_PORT = 6970
PEER_PORT = 6881
GROUP = "swarm"
PIECE_SIZE = 32 * 1024
READY_TIMEOUT_S = 120.0
CONTENT_SEED = 20261129

# name -> size in bytes; generated from CONTENT_SEED, so every run has the same infohashes.
FILES = {
    "a_video.bin": 600 * 1024,
    "b_archive.bin": 800 * 1024,
    "sub/c_image.bin": 900 * 1024,
    "d_notes.txt": 40_000,
}
CONTENT_NAME = "labcontent"


class SwarmError(Exception):
    """The lab swarm could not be started or read."""


@dataclass(frozen=True)
class PeerSpec:
    name: str
    ip: str
    role: str  # seed, partial, leecher
    fingerprint: str
    user_agent: str
    wants: tuple[str, ...] = ()  # partial peers: the files they hold
    download_limit: int = 0  # bytes/s per torrent (leecher)
    close_redundant: bool = False


PEERS = (
    PeerSpec("p2", "127.0.0.2", "seed", "-qB4630-", "qBittorrent/4.6.3"),
    # Keeps libtorrent's default, which drops "upload to upload" connections.
    PeerSpec("p3", "127.0.0.3", "seed", "-TR4050-", "Transmission 4.0.5", close_redundant=True),
    PeerSpec("p4", "127.0.0.4", "partial", "-DE2110-", "Deluge 2.1.1",
             wants=("a_video.bin", "b_archive.bin")),
    PeerSpec("p5", "127.0.0.5", "partial", "-UT3600-", "uTorrent/3.6.0",
             wants=("sub/c_image.bin",)),
    # Slow enough that it is still incomplete minutes later: its fraction grows as it runs.
    PeerSpec("p6", "127.0.0.6", "leecher", "-BI3500-", "BiglyBT/3.5.0.0", download_limit=6000),
)
BOOTSTRAP = f"{PEERS[0].ip}:{PEER_PORT}"


def _write_content(root: Path) -> None:
    rng = random.Random(CONTENT_SEED)
    words = ["market", "forum", "listing", "price", "shipping", "review", "thread", "reply"]
    for name, size in FILES.items():
        path = root / CONTENT_NAME / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".txt"):
            text = " ".join(rng.choice(words) for _ in range(size // 6))
            data = text.encode()[:size].ljust(size, b".")
        else:
            data = rng.randbytes(size)
        path.write_bytes(data)


def _trackers() -> list[str]:
    return [f"http://127.0.0.1:{TINY_TRACKER_PORT}/announce",
            f"http://127.0.0.1:{OPENTRACKER_PORT}/announce",
            f"udp://127.0.0.1:{OPENTRACKER_PORT}/announce"]


def _make_torrent(content: Path, out: Path, *, v1_only: bool) -> None:
    import libtorrent as lt

    fs = lt.file_storage()
    lt.add_files(fs, str(content / CONTENT_NAME))
    flags = lt.create_torrent.v1_only if v1_only else 0
    ct = lt.create_torrent(fs, PIECE_SIZE, flags)
    for tier, url in enumerate(_trackers()):
        ct.add_tracker(url, tier)
    ct.set_creator("heroes lab")
    lt.set_piece_hashes(ct, str(content))
    out.write_bytes(lt.bencode(ct.generate()))


def _torrent_info(path: Path) -> dict[str, Any]:
    import libtorrent as lt

    ti = lt.torrent_info(str(path))
    hashes = ti.info_hashes()
    v1 = str(hashes.v1) if hashes.has_v1() else None
    v2 = str(hashes.v2) if hashes.has_v2() else None
    fs = ti.files()
    files = [{"path": fs.file_path(i), "size": fs.file_size(i)} for i in range(fs.num_files())
             if not fs.file_flags(i) & lt.file_storage.flag_pad_file]
    return {"file": str(path), "name": ti.name(), "v1": v1, "v2": v2,
            "v2_truncated": v2[:40] if v2 else None, "num_pieces": ti.num_pieces(),
            "piece_length": ti.piece_length(), "files": files,
            "magnet": lt.make_magnet_uri(ti)}


def _priorities(torrent: Path, wants: tuple[str, ...]) -> list[int]:
    import libtorrent as lt

    fs = lt.torrent_info(str(torrent)).files()
    prios = []
    for i in range(fs.num_files()):
        rel = fs.file_path(i).split("/", 1)[-1]
        pad = bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)
        prios.append(4 if rel in wants and not pad else 0)
    return prios


def _table(run_dir: Path, table: ProcessTable | None) -> ProcessTable:
    # Standalone (tests, benchmarks) the swarm keeps its own table in its run directory.
    return table if table is not None else ProcessTable.of(run_dir)


def up(run_dir: Path, table: ProcessTable | None = None) -> dict[str, Any]:
    """Start the swarm in ``run_dir`` and block until it is ready; returns JSON-able info.

    The processes are recorded in ``table`` (default: ``run_dir``'s own).
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    table = _table(run_dir, table)
    if table.running(GROUP):
        down(run_dir, table)
    content = run_dir / "content"
    if not (content / CONTENT_NAME).exists():
        _write_content(content)
    torrents = []
    for name, v1_only in (("v1", True), ("hybrid", False)):
        path = run_dir / f"{name}.torrent"
        if not path.exists():
            _make_torrent(content, path, v1_only=v1_only)
        torrents.append({"label": name, **_torrent_info(path)})
    (run_dir / "hashes.txt").write_text("".join(f"{t['v1']}\n" for t in torrents))

    procs: list[LabProcess] = []
    try:
        procs.extend(_start_trackers(run_dir, torrents, table))
        for spec in PEERS:
            procs.append(_start_peer(run_dir, spec, torrents, table))
        _wait_ready(run_dir, torrents, procs)
    except LabProcessError as exc:
        down(run_dir, table)
        raise SwarmError(str(exc)) from exc
    except BaseException:
        down(run_dir, table)
        raise
    info = _info(run_dir, torrents)
    (run_dir / "swarm.json").write_text(json.dumps(info, indent=1))
    return info


def _start(table: ProcessTable, run_dir: Path, name: str, argv: list[str],
           ports: dict[str, int], ready: ReadyCheck) -> LabProcess:
    return table.start(name, argv, log=run_dir / f"{name}.log", group=GROUP, ports=ports,
                       ready=ready)


def _start_trackers(
    run_dir: Path, torrents: list[dict[str, Any]], table: ProcessTable
) -> list[LabProcess]:
    procs = [_start(table, run_dir, "tiny_tracker", [
        sys.executable, "-m", "heroes.lab.tiny_tracker", "--bind", f"127.0.0.1:{TINY_TRACKER_PORT}",
        "--log", str(run_dir / "tiny_tracker.jsonl")], {"http": TINY_TRACKER_PORT},
        ReadyCheck.tcp(TINY_TRACKER_PORT))]
    binary = shutil.which("opentracker")
    if binary is None:
        log.warning("opentracker is not installed; the lab uses only the tiny tracker")
        return procs
    ot_dir = run_dir / "opentracker"
    ot_dir.mkdir(exist_ok=True)
    # A whitelist build: libtorrent announces a hybrid under its v1 and its truncated v2 hash.
    hashes = [h for t in torrents for h in (t["v1"], t["v2_truncated"]) if h]
    (ot_dir / "whitelist.txt").write_text("".join(f"{h}\n" for h in hashes))
    # opentracker chroots to -d, so the whitelist path is relative to it.
    procs.append(_start(table, run_dir, "opentracker", [
        binary, "-i", "127.0.0.1", "-p", str(OPENTRACKER_PORT), "-P", str(OPENTRACKER_PORT),
        "-d", str(ot_dir), "-w", "whitelist.txt"],
        {"http": OPENTRACKER_PORT, "udp": OPENTRACKER_PORT}, ReadyCheck.tcp(OPENTRACKER_PORT)))
    return procs


def _start_peer(
    run_dir: Path, spec: PeerSpec, torrents: list[dict[str, Any]], table: ProcessTable
) -> LabProcess:
    content = run_dir / "content"
    data = run_dir / "peers" / spec.name
    if spec.role != "seed":
        # Leechers and partial peers start from scratch on every up.
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        for rel in spec.wants:
            dest = data / CONTENT_NAME / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(content / CONTENT_NAME / rel, dest)
    entries = []
    for t in torrents:
        entry: dict[str, Any] = {"file": t["file"]}
        if spec.role == "seed":
            entry["save_path"] = str(content)
        else:
            entry["save_path"] = str(data)
        if spec.role == "partial":
            entry["priorities"] = _priorities(Path(t["file"]), spec.wants)
        if spec.download_limit:
            entry["download_limit"] = spec.download_limit
        entries.append(entry)
    status = run_dir / f"{spec.name}.status.json"
    status.unlink(missing_ok=True)
    cfg = {"name": spec.name, "ip": spec.ip, "port": PEER_PORT, "role": spec.role,
           "fingerprint": spec.fingerprint, "user_agent": spec.user_agent,
           "close_redundant": spec.close_redundant,
           "bootstrap": [] if f"{spec.ip}:{PEER_PORT}" == BOOTSTRAP else [BOOTSTRAP],
           "torrents": entries, "status": str(status)}
    cfg_path = run_dir / f"{spec.name}.json"
    cfg_path.write_text(json.dumps(cfg, indent=1))
    argv = [sys.executable, "-m", "heroes.lab.swarm_peer", str(cfg_path)]
    # Ready once checked and in the DHT: _wait_ready reads the peers' status files.
    return _start(table, run_dir, spec.name, argv, {"bittorrent": PEER_PORT},
                  ReadyCheck.owner(f"{spec.ip}:{PEER_PORT} checked, in the DHT"))


def _read_status(run_dir: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / f"{name}.status.json").read_text())
    except (OSError, ValueError):
        return None


def _peer_ready(spec: PeerSpec, status: dict[str, Any] | None) -> bool:
    if not status or not status["torrents"]:
        return False
    for t in status["torrents"].values():
        if t["checking"]:
            return False
        if spec.role in ("seed", "partial") and not t["finished"]:
            return False
    return status["dht_nodes"] > 0 or spec.ip + f":{PEER_PORT}" == BOOTSTRAP


def _tracker_ready(run_dir: Path, torrents: list[dict[str, Any]]) -> bool:
    try:
        lines = (run_dir / "tiny_tracker.jsonl").read_text().splitlines()
    except OSError:
        return False
    seen: dict[str, set[str]] = {}
    for line in lines:
        entry = json.loads(line)
        seen.setdefault(entry["info_hash"], set()).add(entry["ip"])
    want = {p.ip for p in PEERS}
    return all(want <= seen.get(t["v1"], set()) for t in torrents)


def _wait_ready(run_dir: Path, torrents: list[dict[str, Any]], procs: list[LabProcess]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = "peers"
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise SwarmError(f"lab swarm process {p.name} exited during start-up:\n"
                                 + log_tail(p.log, 20))
        if all(_peer_ready(s, _read_status(run_dir, s.name)) for s in PEERS):
            waiting = "tracker announces"
            if _tracker_ready(run_dir, torrents):
                waiting = "DHT announces"
                if _dht_ready(torrents, deadline):
                    return
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}\n{log_tail(p.log, 20)}" for p in procs)
    raise SwarmError(f"lab swarm not ready after {READY_TIMEOUT_S:.0f}s (waiting for {waiting})\n"
                     + logs)


def _dht_ready(torrents: list[dict[str, Any]], deadline: float) -> bool:
    """True once a read-only DHT lookup of every lab torrent returns every peer."""
    import libtorrent as lt

    from monitors.lt_settings import base_settings

    pack = base_settings("127.0.0.99", 0, dht=True, bootstrap=[BOOTSTRAP])
    pack.update({"dht_read_only": True, "dht_block_ratelimit": 100_000})
    ses = lt.session(pack, 0)
    want = {p.ip for p in PEERS}
    found: dict[str, set[str]] = {t["v1"]: set() for t in torrents}
    try:
        next_query = 0.0
        end = min(deadline, time.monotonic() + 30)
        while time.monotonic() < end:
            if time.monotonic() >= next_query and ses.status().dht_nodes > 0:
                for ih in found:
                    ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(ih)))
                next_query = time.monotonic() + 2.0
            ses.wait_for_alert(200)
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.dht_get_peers_reply_alert):
                    found[str(alert.info_hash)].update(ip for ip, _ in alert.peers())
            if all(want <= ips for ips in found.values()):
                return True
        return False
    finally:
        del ses


def down(run_dir: Path, table: ProcessTable | None = None) -> list[str]:
    """Stop exactly the processes :func:`up` started in ``run_dir``; returns their names."""
    return _table(Path(run_dir), table).stop(group=GROUP)


def _info(run_dir: Path, torrents: list[dict[str, Any]]) -> dict[str, Any]:
    peers = []
    for spec in PEERS:
        st = _read_status(run_dir, spec.name) or {"torrents": {}}
        peers.append({
            "name": spec.name, "ip": spec.ip, "port": PEER_PORT, "role": spec.role,
            "fingerprint": spec.fingerprint, "client": spec.user_agent,
            "fractions": {ih: t["fraction"] for ih, t in st["torrents"].items()},
        })
    return {
        "run_dir": str(run_dir), "torrents": torrents, "peers": peers,
        "trackers": _trackers(), "dht_bootstrap": BOOTSTRAP,
        "hash_list": str(run_dir / "hashes.txt"),
    }


def status(run_dir: Path, table: ProcessTable | None = None) -> dict[str, Any]:
    """Which swarm processes run, and each peer's current pieces and connections."""
    run_dir = Path(run_dir)
    procs = [p for p in _table(run_dir, table).records(GROUP) if p.stopped_at is None]
    return {
        "running": bool(procs) and all(p.alive() for p in procs),
        "processes": [{"name": p.name, "pid": p.pid, "alive": p.alive()} for p in procs],
        "peers": {s.name: _read_status(run_dir, s.name) for s in PEERS},
        "info": json.loads((run_dir / "swarm.json").read_text())
        if (run_dir / "swarm.json").exists() else None,
    }


def payload_with(run_dir: Path, ips: set[str]) -> dict[str, int]:
    """Payload bytes the swarm exchanged with any of ``ips`` (from the peers' status files)."""
    down_b = up_b = 0
    for spec in PEERS:
        st = _read_status(Path(run_dir), spec.name) or {"connections": []}
        for row in st["connections"]:
            if row["ip"] in ips:
                down_b += row["payload_down"]
                up_b += row["payload_up"]
    return {"swarm_received": down_b, "swarm_sent": up_b}
