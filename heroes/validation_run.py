"""The run behind ``heroes validate``: the probe and the crawler against a fresh lab world.

In a directory of its own (``work``): the lab world of ``heroes demo``
(:func:`heroes.lab.world.up`, Tor network, onion sites and swarm) comes up, the validation
settings are written to ``work/validation.toml``, the real ``heroes crawl`` crawls the onion
sites from the directory seed in a child process, and :class:`monitors.probe.Probe` watches
the lab torrents until every lab peer reached its level (or the timeout). Then the findings
are compared with the lab's ground truth (:mod:`heroes.validation`) and the world is
brought down, whatever happened. Nothing of the installation's own data is touched; only
its signing key is used, by the caller. Reads no settings: the caller passes the
directory, ports and timeouts.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from config import Settings, load_settings
from documents import iso, utcnow
from heroes import __version__
from heroes.validation import (
    Check,
    ExpectedPeer,
    build_report,
    compare_entities,
    compare_media,
    compare_payload,
    compare_peers,
)

log = logging.getLogger(__name__)

Say = Callable[[str], None]
PROBE_IP = "127.0.0.71"
PROBE_ID = "validation-probe"
LAB_SEED = 1
SCAN_MAX_BYTES = 200_000_000


@dataclass(frozen=True)
class Limits:
    crawl_s: float = 300.0
    probe_s: float = 120.0


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def config_text(world: dict[str, Any], signing_key_file: Path | None = None) -> str:
    """The validation's settings: the lab Tor client attached, the probe on the lab swarm,
    and the installation's signing key, so the run's own logs are sealed with it."""
    swarm = world["swarm"]
    tables = {
        "tor": {"mode": "attach", "control_ports": [world["control"]["port"]],
                "socks_ports": [world["socks"]["port"]], "bootstrap_timeout_s": 60.0},
        "crawler": {"connect_timeout_s": 20.0, "read_timeout_s": 30.0},
        "probe": {"probe_id": PROBE_ID, "listen_ip": PROBE_IP, "announce": True,
                  "trackers": swarm["trackers"], "dht_bootstrap_nodes": [swarm["dht_bootstrap"]],
                  "dht_revisit_s": 2.0, "peer_poll_s": 0.25, "metadata_timeout_s": 20.0,
                  # Every lab DHT node shares 127.0.0.0/8: the real-network defences keep one.
                  "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
                  "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False},
    }
    if signing_key_file is not None:
        tables["evidence"] = {"signing_key_file": str(signing_key_file)}
    lines = ["# Written by `heroes validate` for its lab world; meaningless elsewhere.", ""]
    for name, values in tables.items():
        lines += [f"[{name}]", *(f"{k} = {_toml(v)}" for k, v in values.items()), ""]
    return "\n".join(lines)


def config_hash(settings: Settings) -> str:
    body = json.dumps(settings.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _tor_version(tor: str) -> str:
    try:
        done = subprocess.run([tor, "--version"], capture_output=True, text=True, timeout=20,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    first = (done.stdout.strip().splitlines() or ["unknown"])[0]
    return first.removeprefix("Tor version ").rstrip(".")


def versions(tor: str) -> dict[str, str]:
    import libtorrent as lt

    out = {"heroes": __version__, "python": platform.python_version(),
           "libtorrent": str(lt.__version__), "tor": _tor_version(tor)}
    for dist in ("scrapy", "warcio", "stem"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def crawl(config: Path, data_dir: Path, seed: str, timeout_s: float) -> Check:
    """The real ``heroes crawl`` in a child process (Scrapy's reactor runs once a process)."""
    # Only the validation's own file decides the settings (its hash is in the report).
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_")}
    argv = [sys.executable, "-m", "heroes.cli", "--config", str(config), "--data-dir",
            str(data_dir), "crawl", seed, "--job", "validation", "--json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False, env=env)
    except subprocess.TimeoutExpired:
        return Check("crawl finished", False, "exit 0", "timeout",
                     f"no end within {timeout_s:.0f}s")
    summary: dict[str, Any] = {}
    if "{" in done.stdout:
        try:
            summary = json.loads(done.stdout[done.stdout.index("{"):])
        except ValueError:
            summary = {}
    found = {"exit": done.returncode, **{k: summary.get(k) for k in
                                         ("pages", "page_errors", "services_up", "media_hashed")}}
    detail = "" if done.returncode == 0 else (done.stdout + done.stderr)[-1500:]
    return Check("crawl finished", done.returncode == 0, "exit 0", found, detail)


async def _indexed(settings: Settings, kind: str) -> list[dict[str, Any]]:
    from index.store import Store
    from query.model import Search

    store = Store(settings)
    try:
        result = await store.search(Search(kind=kind, size=10_000))
    finally:
        store.close()
    return [hit["_source"] for hit in result["hits"]["hits"]]


def _expected_peers(swarm_info: dict[str, Any]) -> list[ExpectedPeer]:
    from heroes.lab import swarm

    status = swarm.status(Path(swarm_info["run_dir"]))["peers"]
    out = []
    for spec in swarm.PEERS:
        torrents = (status.get(spec.name) or {}).get("torrents", {})
        out.append(ExpectedPeer(spec.name, spec.ip, swarm.PEER_PORT, spec.role,
                                spec.fingerprint, spec.user_agent,
                                {ih: float(t.get("fraction", 0.0)) for ih, t in torrents.items()}))
    return out


def _ready(probe: Any, keys: list[str], peers: list[ExpectedPeer]) -> bool:
    for key in keys:
        for peer in peers:
            rec = probe.recorder.peers.get((key, peer.ip, peer.port))
            if rec is None or rec.level < peer.min_level:
                return False
            if peer.role != "leecher" and rec.have_fraction is None:
                return False
    return True


async def run_probe(settings: Settings, swarm_info: dict[str, Any],
                    timeout_s: float) -> tuple[Any, list[str]]:
    """The probe on the lab torrents until every lab peer reached its level."""
    from heroes.lab import swarm
    from index.store import Store
    from monitors.probe import Probe
    from monitors.targets import parse_target

    targets = [parse_target(t["magnet"]) for t in swarm_info["torrents"]]
    keys = [t.key for t in targets]
    specs = [ExpectedPeer(s.name, s.ip, swarm.PEER_PORT, s.role, s.fingerprint, s.user_agent)
             for s in swarm.PEERS]
    store = Store(settings)
    stop = asyncio.Event()
    try:
        async with Probe(settings, store, targets=targets, use_index=False) as probe:
            task = asyncio.create_task(probe.run(stop))
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and not task.done():
                if _ready(probe, keys, specs):
                    break
                await asyncio.sleep(0.25)
            stop.set()
            await task
    finally:
        store.close()
    return probe, keys


def _evidence_records(data_dir: Path) -> dict[tuple[str, str, int], dict[str, Any]]:
    """The newest record of each peer in the probe's evidence log(s)."""
    from monitors.artifacts import canonical_sha256

    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for path in sorted((data_dir / "evidence").glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                data = json.loads(line).get("data") or {}
            except (ValueError, AttributeError):
                continue
            if data.get("type") != "observation":
                continue
            art = data.get("artifacts")
            data = {**data, "artifacts": bool(art) and data.get("artifacts_sha256")
                    == canonical_sha256(art)}
            key = (str(data.get("infohash")), str(data.get("ip")), int(data.get("port", 0)))
            if key not in out or int(data.get("level", 0)) >= int(out[key].get("level", 0)):
                out[key] = data
    return out


def _media_blobs(lab_dir: Path, truth: dict[str, Any]) -> list[bytes]:
    blobs = []
    for url in truth["media"]:
        host, path = url.split("/")[2], url.split("/", 3)[3]
        service = next(n for n, s in truth["services"].items() if s["onion"] == host)
        blobs.append((lab_dir / "sites" / service / path).read_bytes())
    return blobs


def _gunzip(data: bytes) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return b""


def _in_a_lab(path: Path, cache: dict[Path, bool]) -> bool:
    """Whether ``path`` lies in a lab world's directory (any lab: tests may run beside us);
    its site files are where media come from, not something the tool wrote."""
    for parent in path.parents:
        if parent not in cache:
            cache[parent] = (parent / "ground_truth.json").exists()
        if cache[parent]:
            return True
    return False


def scan_for_media(roots: list[Path], blobs: list[bytes], since: float,
                   skip: Path) -> tuple[list[str], int]:
    """Files (changed since ``since``) holding any media body; gzip files decompressed too."""
    hits, scanned = [], 0
    labs: dict[Path, bool] = {}
    for root in roots:
        for path in root.rglob("*"):
            try:
                if (not path.is_file() or path.is_symlink() or skip in path.parents
                        or path.stat().st_mtime < since
                        or path.stat().st_size > SCAN_MAX_BYTES or _in_a_lab(path, labs)):
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            scanned += 1
            if path.name.endswith(".gz"):
                data += _gunzip(data)
            if any(blob in data for blob in blobs):
                hits.append(str(path))
    return hits, scanned


def run(work: Path, *, key_id: str, base_port: int, limits: Limits = Limits(),
        tor: str = "tor", signing_key_file: Path | None = None,
        say: Say = lambda _: None) -> dict[str, Any]:
    """Validate against a fresh lab world in ``work``; returns the (unsigned) report."""
    from crawler.extract.entities import ENTITY_KEYS
    from heroes.lab import swarm, world

    work.mkdir(parents=True, exist_ok=True)
    lab_dir, data_dir = (work / "lab").resolve(), (work / "data").resolve()
    started, since = iso(utcnow()), time.time()
    checks: list[Check] = []
    say(f"lab world up in {lab_dir} (base port {base_port})")
    info = world.up(lab_dir, seed=LAB_SEED, swarm=True, base_port=base_port, tor=tor)
    try:
        truth = json.loads(Path(info["ground_truth"]).read_text())
        config = work / "validation.toml"
        config.write_text(config_text(info, signing_key_file))
        settings = load_settings(config, environ={}, overrides={"data_dir": str(data_dir)})
        say(f"crawl from {info['seed_url']}")
        checks.append(crawl(config, data_dir, info["seed_url"], limits.crawl_s))
        pages = asyncio.run(_indexed(settings, "page"))
        found = {k: {v for p in pages for v in p.get("entities", {}).get(k, [])}
                 for k in ENTITY_KEYS}
        checks += compare_entities({k: truth["reachable_entities"].get(k, [])
                                    for k in ENTITY_KEYS}, found)
        hashed = {m["url"]: m for p in pages for m in p.get("media", []) if m.get("sha256")}
        say("probe on the lab torrents")
        probe, keys = asyncio.run(run_probe(settings, info["swarm"], limits.probe_s))
        records = _evidence_records(data_dir)
        checks += compare_peers(_expected_peers(info["swarm"]), keys, records)
        checks.append(compare_payload(
            {"watcher": probe.summary.watcher_payload,
             "metadata": probe.summary.metadata_payload},
            swarm.payload_with(Path(info["swarm"]["run_dir"]), {PROBE_IP})))
        hits, scanned = scan_for_media([data_dir, work, Path(tempfile.gettempdir())],
                                       _media_blobs(lab_dir, truth), since, lab_dir)
        checks += compare_media(truth["media"], hashed, sorted(set(hits)), scanned)
        lab = {"base_port": base_port, "seed": LAB_SEED, "onions": len(info["onions"]),
               "swarm_peers": len(swarm.PEERS), "torrents": keys,
               "reachable_pages": len(truth["reachable_pages"])}
        digest = config_hash(settings)
    finally:
        say("lab world down")
        world.down(lab_dir)
    return build_report(checks, started=started, ended=iso(utcnow()), versions=versions(tor),
                        config_hash=digest, lab=lab, key_id=key_id)
