"""The lab DHT: N libtorrent DHT nodes on 127.0.X.y, stocked with announced infohashes.

One process (``python -m heroes.lab.dht serve``, recorded in the lab's process table,
group ``lab-dht``) runs, in one libtorrent session each:

- node 0, the bootstrap router (configure a sampler or probe with only this one);
- nodes 1..N-1, meshed with ``add_dht_node`` (nodes started together and told only of the
  router stay isolated) and answering BEP 51 with a fresh sample per query;
- a seed on its own address that holds a few generated torrents of synthetic text, some
  named with the lab keyword list's neutral words (:data:`KEYWORDS`), and announces them;
- ``--hashes`` random infohashes announced by nodes 1..20, so each is stored on about
  8 nodes (a stored infohash is what a sampler can find).

With ``--join HOST:PORT`` (the lab swarm's DHT bootstrap) every node also meshes with that
loopback DHT: the two become one, and the swarm's peers, at their next own announce
(libtorrent spreads them over ``dht_announce_interval``), store their torrents on the lab
nodes closest to each infohash, with their real addresses. A sampler that knows only this
router then finds the swarm's torrents and, through ``get_peers``, the swarm's seeds to
fetch their metadata from. ``--expect HEX`` (repeatable) names the swarm's infohashes to
wait for.

The process writes ``<dir>/dht.json`` (router, node endpoints, stored infohashes, the
torrents with their names and which hit a keyword, and under ``joined`` the stored copies
of each expected infohash) and logs ``lab dht ready`` once every announce is stored and
every expected infohash is stored on some lab node (or ``JOIN_WAIT_S`` passed). Stored
peers expire after 45 minutes, so it re-announces every 20.
:func:`up` starts it and returns that info, :func:`down` stops it. Reads no settings.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from heroes.lab.processes import ProcessTable, ReadyCheck

GROUP = "lab-dht"
INFO_FILE = "dht.json"
READY_LINE = "lab dht ready"
KEYWORDS = ("lighthouse", "harbour lights")
KEYWORD_LIST = "lab-keywords"
# The generated torrents and the keywords their names hold.
TORRENTS = (("Lighthouse_Keeper_Logbook_1998", ("lighthouse",)),
            ("Harbour.Lights.Evening.Collection", ("harbour lights",)),
            ("Garden Notes Spring", ()), ("Recipe_Archive_Soups", ()))
ANNOUNCERS = 20
MESH = 8
REANNOUNCE_S = 1200.0
PORT = 19000
# The swarm's peers announce each torrent once per minute (spread over the torrents).
JOIN_WAIT_S = 150.0


def _ip(net: int, n: int) -> str:
    # 250 addresses per /24: 127.net.0.1 .. 127.net.0.250, then 127.net.1.1, ...
    return f"127.{net}.{n // 250}.{n % 250 + 1}"


def _pack(ip: str, port: int, router: str) -> dict[str, Any]:
    import libtorrent as lt

    from monitors.lt_settings import base_settings

    pack = base_settings(ip, port, dht=True, bootstrap=[router] if router else [])
    pack.update({
        "dht_sample_infohashes_interval": 0,  # a fresh random sample for every query
        "dht_block_ratelimit": 100_000, "dht_upload_rate_limit": 10_000_000,
        "dht_max_torrents": 50_000,
        "alert_mask": lt.alert_category.error | lt.alert_category.dht,
    })
    return pack


def _make_torrents(work: Path) -> list[tuple[str, Path]]:
    import libtorrent as lt

    out = []
    for n, (name, _) in enumerate(TORRENTS):
        folder = work / "content" / name
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(n)
        words = ("market", "forum", "notes", "archive", "index", "listing", "weekly")
        for part in range(2):
            text = " ".join(rng.choice(words) for _ in range(3000))
            (folder / f"part{part + 1}.txt").write_text(f"{name} part {part + 1}\n{text}\n")
        fs = lt.file_storage()
        lt.add_files(fs, str(folder))
        ct = lt.create_torrent(fs, 16384, lt.create_torrent.v1_only)
        ct.set_creator("heroes lab")
        lt.set_piece_hashes(ct, str(folder.parent))
        path = work / f"{name}.torrent"
        path.write_bytes(lt.bencode(ct.generate()))
        out.append((name, path))
    return out


def _write_info(work: Path, info: dict[str, Any]) -> None:
    tmp = work / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, work / INFO_FILE)


def serve(work: Path, nodes: int, hashes: int, net: int, join: str,
          expect: tuple[str, ...] = ()) -> None:
    import libtorrent as lt

    work.mkdir(parents=True, exist_ok=True)
    router = f"{_ip(net, 0)}:{PORT}"
    sessions = []
    endpoints = []
    for n in range(nodes):
        ip = _ip(net, n)
        sessions.append(lt.session(_pack(ip, PORT, "" if n == 0 else router), 0))
        endpoints.append((ip, PORT))
    rng = random.Random(nodes * 1000 + hashes)
    for n, ses in enumerate(sessions):
        for ep in rng.sample(endpoints, min(MESH, nodes)):
            if ep != endpoints[n]:
                ses.add_dht_node(ep)
        if join:
            host, _, port = join.rpartition(":")
            ses.add_dht_node((host, int(port)))
    seed_ip = _ip(net, nodes)
    seed = lt.session(_pack(seed_ip, PORT, router))  # default plugins: serves ut_metadata
    for ep in rng.sample(endpoints, min(MESH, nodes)):
        seed.add_dht_node(ep)
    torrents = []
    for (name, path), (_, hit) in zip(_make_torrents(work), TORRENTS, strict=True):
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(str(path))
        params.save_path = str(work / "content")
        params.flags = lt.torrent_flags.seed_mode
        seed.add_torrent(params)
        ih = str(params.ti.info_hashes().v1)
        torrents.append({"infohash": ih, "name": name, "keywords": list(hit)})
    stored = [rng.randbytes(20).hex() for _ in range(hashes)]
    info = {"router": router, "nodes": [f"{ip}:{port}" for ip, port in endpoints],
            "seed": f"{seed_ip}:{PORT}", "stored": stored, "torrents": torrents,
            "keywords": list(KEYWORDS), "keyword_list": KEYWORD_LIST, "pid": os.getpid(),
            "join": join, "joined": {}}
    _write_info(work, info)
    joined: dict[str, int] = {h: 0 for h in expect}

    def pump() -> int:
        count = 0
        for ses in (*sessions, seed):
            for alert in ses.pop_alerts():
                if isinstance(alert, lt.dht_announce_alert):
                    count += 1
                    ih = str(alert.info_hash)
                    if ih in joined:
                        joined[ih] += 1
        return count

    def announce() -> None:
        announcers = sessions[1:ANNOUNCERS + 1] or sessions
        for n, ih in enumerate(stored):
            # Port 6881 is closed on the lab nodes: a peer that is gone, as many real ones are.
            announcers[n % len(announcers)].dht_announce(lt.sha1_hash(bytes.fromhex(ih)),
                                                         6881, 0)
            if n % 500 == 499:
                time.sleep(0.5)  # about 1000 announces a second
        for t in torrents:
            seed.dht_announce(lt.sha1_hash(bytes.fromhex(t["infohash"])), PORT, 0)

    time.sleep(1.0)  # routing tables fill within a second of the mesh
    announce()
    want = 0.9 * min(8, nodes - 1) * (hashes + len(torrents))
    got = 0
    deadline = time.monotonic() + 60
    while got < want and time.monotonic() < deadline:
        time.sleep(0.2)
        got += pump()
    deadline = time.monotonic() + JOIN_WAIT_S
    while not all(joined.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        got += pump()
    info["joined"] = dict(joined)
    _write_info(work, info)
    missing = sorted(h for h, n in joined.items() if not n)
    print(f"{READY_LINE}: {nodes} nodes, {got} stored copies of {hashes + len(torrents)} "
          f"infohashes; joined {join or '-'}: {len(joined) - len(missing)} of {len(joined)} "
          f"expected infohashes stored" + (f" (not {', '.join(missing)})" if missing else ""),
          flush=True)
    last = time.monotonic()
    while True:
        time.sleep(1.0)
        pump()
        if time.monotonic() - last > REANNOUNCE_S:
            announce()
            last = time.monotonic()


def up(lab_dir: Path, *, nodes: int = 100, hashes: int = 3000, net: int = 60,
       join: str = "", expect: Sequence[str] = ()) -> dict[str, Any]:
    """Start the lab DHT under ``lab_dir/dht`` and return its info (see the module doc).

    ``join``: another loopback DHT's node (the lab swarm's bootstrap) to merge with;
    ``expect``: infohashes announced there that must be stored here before it is ready.
    """
    work = Path(lab_dir) / "dht"
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "heroes.lab.dht", "serve", "--dir", str(work),
            "--nodes", str(nodes), "--hashes", str(hashes), "--net", str(net)]
    if join:
        argv += ["--join", join]
    for ih in expect:
        argv += ["--expect", ih]
    ProcessTable.of(lab_dir).start("lab-dht", argv, log=work / "dht.log", group=GROUP,
                                   ports={"router": PORT}, ready=ReadyCheck.log_line(READY_LINE),
                                   timeout_s=120 + (JOIN_WAIT_S if expect else 0))
    return json.loads((work / INFO_FILE).read_text())


def down(lab_dir: Path) -> list[str]:
    return ProcessTable.of(lab_dir).stop(group=GROUP)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="heroes.lab.dht")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", type=Path, required=True)
    s.add_argument("--nodes", type=int, default=100)
    s.add_argument("--hashes", type=int, default=3000)
    s.add_argument("--net", type=int, default=60, help="Second octet of the node addresses.")
    s.add_argument("--join", default="", help="HOST:PORT of another loopback DHT to mesh with.")
    s.add_argument("--expect", action="append", default=[],
                   help="An infohash announced in the joined DHT to wait for (repeatable).")
    args = parser.parse_args(argv)
    serve(args.dir, args.nodes, args.hashes, args.net, args.join, tuple(args.expect))


if __name__ == "__main__":
    main()
