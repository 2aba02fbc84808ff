"""The whole lab world in one directory: onion sites on a private Tor network, and the swarm.

``up`` (optionally) starts the swarm first, so that its magnet links can be planted in the
generated onion sites; then generates the sites with their ground truth, starts the web
servers and the clearnet canary (:mod:`heroes.lab.http_sites`), and the Tor network
(:mod:`heroes.lab.tor_network`). ``big_site_pages`` adds the generator's ``bigsite`` (for
benchmarks).
Everything is recorded in ``<dir>/world.json``; ``down`` stops only what ``up`` started.
Reads no settings: the directory, seed and base port come from the caller.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from heroes.lab import tor_network
from heroes.lab.onion_sites import KEY_SUFFIX, generate_sites
from heroes.lab.tor_config import LabSetupError, Ports, client_torrc_lines
from heroes.lab.tor_procs import ProcRecord, is_alive, log_tail, spawn, stop

log = logging.getLogger(__name__)

WEB_READY_TIMEOUT_S = 60.0


def _world_path(lab_dir: Path) -> Path:
    return lab_dir / "world.json"


def _swarm() -> Any:
    return importlib.import_module("heroes.lab.swarm")


def _generate_sites(
    sites_dir: Path, seed: int, magnets: list[str], big_site_pages: int, canary_url: str
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Generated services (name -> directory) and the generator's ground truth."""
    truth = generate_sites(
        sites_dir, seed=seed, magnets=magnets, big_site_pages=big_site_pages, canary_url=canary_url
    )
    services = {name: sites_dir / info["dir"] for name, info in truth["services"].items()}
    return services, truth


def _install_onion_keys(tor_dir: Path, services: dict[str, Path]) -> None:
    """Use a generator-provided onion key (so its links name the right hosts) where there is one."""
    for name, site in services.items():
        key = site.parent / f"{name}{KEY_SUFFIX}"
        if key.exists():
            hs_dir = tor_dir / "onion" / f"hs_{name}"
            hs_dir.mkdir(parents=True, exist_ok=True)
            hs_dir.chmod(0o700)
            target = hs_dir / "hs_ed25519_secret_key"
            if not target.exists() or target.read_bytes() != key.read_bytes():
                for stale in ("hostname", "hs_ed25519_public_key"):
                    (hs_dir / stale).unlink(missing_ok=True)
                target.write_bytes(key.read_bytes())


def _start_web(
    lab_dir: Path, ports: Ports, services: dict[str, Path]
) -> tuple[ProcRecord, dict[str, int]]:
    web_ports: dict[str, int] = {}
    argv = [sys.executable, "-m", "heroes.lab.http_sites"]
    for i, (name, root) in enumerate(services.items()):
        web_ports[name] = ports.web(i)
        argv += ["--site", f"{name}:{ports.web(i)}:{root}"]
    argv += ["--canary-port", str(ports.canary), "--canary-log", str(lab_dir / "canary.jsonl")]
    logfile = lab_dir / "web.log"
    logfile.unlink(missing_ok=True)
    record = spawn("web", argv, logfile)
    deadline = time.monotonic() + WEB_READY_TIMEOUT_S
    while "ready" not in logfile.read_text(errors="replace"):
        if not is_alive(record):
            raise LabSetupError(f"the lab web servers exited:\n{log_tail(logfile)}")
        if time.monotonic() > deadline:
            stop([record])
            raise LabSetupError(f"the lab web servers did not start in time:\n{log_tail(logfile)}")
        time.sleep(0.1)
    return record, web_ports


def up(
    lab_dir: Path,
    *,
    seed: int = 1,
    base_port: int = 17000,
    swarm: bool = True,
    big_site_pages: int = 0,
    tor: str = "tor",
) -> dict[str, Any]:
    """Bring the world up; returns (and records) addresses, ports and onion hostnames."""
    lab_dir = Path(lab_dir).resolve()
    lab_dir.mkdir(parents=True, exist_ok=True)
    if status(lab_dir).get("running"):
        raise LabSetupError(f"the lab world in {lab_dir} is already up (run 'heroes lab down')")
    ports = Ports(base_port)
    result: dict[str, Any] = {"dir": str(lab_dir), "running": True}
    web: ProcRecord | None = None
    try:
        magnets: list[str] = []
        if swarm:
            result["swarm"] = _swarm().up(lab_dir / "swarm")
            magnets = [t["magnet"] for t in result["swarm"].get("torrents", []) if t.get("magnet")]
        canary_url = f"http://127.0.0.1:{ports.canary}/canary"
        services, truth = _generate_sites(
            lab_dir / "sites", seed, magnets, big_site_pages, canary_url
        )
        (lab_dir / "ground_truth.json").write_text(json.dumps(truth, indent=1, default=str))
        _install_onion_keys(lab_dir / "tor", services)
        (lab_dir / "canary.jsonl").unlink(missing_ok=True)
        web, web_ports = _start_web(lab_dir, ports, services)
        probe = "directory" if "directory" in services else next(iter(services))
        net = tor_network.up(lab_dir, web_ports, base_port=base_port, tor=tor, probe_service=probe)
    except BaseException:
        if web is not None:
            stop([web])
        if swarm:
            _swarm().down(lab_dir / "swarm")
        raise
    result.update(
        {
            "onions": net["onions"],
            "generated_services": sorted(services),
            "web_ports": web_ports,
            "seed_url": truth["seed_url"],
            "canary": {"url": canary_url, "log": str(lab_dir / "canary.jsonl")},
            "socks": net["socks"],
            "control": net["control"],
            "dir_authorities": net["dir_authorities"],
        "client_torrc": client_torrc_lines(net["dir_authorities"]),
            "ground_truth": str(lab_dir / "ground_truth.json"),
            "timings": net["timings"],
            "web_process": web.to_json(),
        }
    )
    _world_path(lab_dir).write_text(json.dumps(result, indent=2))
    return result


def status(lab_dir: Path) -> dict[str, Any]:
    lab_dir = Path(lab_dir).resolve()
    path = _world_path(lab_dir)
    world: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    tor = tor_network.status(lab_dir)
    web_alive = bool(world.get("web_process")) and is_alive(ProcRecord(**world["web_process"]))
    world["tor"] = {"running": tor.get("running", False), "alive": tor.get("alive", {})}
    world["web_alive"] = web_alive
    if "swarm" in world:
        world["swarm"] = _swarm().status(lab_dir / "swarm")
    world["running"] = bool(world["tor"]["running"] and web_alive)
    return world


def down(lab_dir: Path) -> list[str]:
    """Stop exactly what ``up`` started in ``lab_dir``; returns the names stopped."""
    lab_dir = Path(lab_dir).resolve()
    stopped = tor_network.down(lab_dir)
    path = _world_path(lab_dir)
    if path.exists():
        world = json.loads(path.read_text())
        if world.get("web_process"):
            stopped += stop([ProcRecord(**world["web_process"])])
        if "swarm" in world:
            _swarm().down(lab_dir / "swarm")
            stopped.append("swarm")
        world["running"] = False
        path.write_text(json.dumps(world, indent=2))
    return stopped
