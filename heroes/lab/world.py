"""The whole lab world in one directory: onion sites on a private Tor network, the swarm, mail.

``up`` (optionally) starts the swarm first, so that its magnet links can be planted in the
generated onion sites; then generates the sites with their ground truth, starts the web
servers and the clearnet canary (:mod:`heroes.lab.http_sites`), the Tor network
(:mod:`heroes.lab.tor_network`) and (optionally) the SMTP sink (:mod:`heroes.lab.smtp_sink`,
STARTTLS required, a self-signed certificate it makes; messages in ``<dir>/mail``) and
(optionally) the RFC 3161 Time Stamping Authority (:mod:`heroes.lab.tsa`), Redis, and a
lab DHT (:mod:`heroes.lab.dht`) merged with the swarm's, so discovery finds the swarm's
torrents in it too, and (optionally) the onion population of :mod:`heroes.lab.population`.
``big_site_pages`` adds the generator's ``bigsite`` (for benchmarks).
Every process is recorded in the lab's process table (``<dir>/processes.json``,
:mod:`heroes.lab.processes`), the addresses in ``<dir>/world.json``; ``down`` stops only
what ``up`` started, newest first. Reads no settings: the directory, seed and base port
come from the caller.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from heroes.lab import extra, site_access, tor_network, tsa
from heroes.lab.onion_sites import KEY_SUFFIX, generate_sites
from heroes.lab.processes import LabProcessError, ProcessTable, ReadyCheck
from heroes.lab.tor_config import LabSetupError, Ports, client_torrc_lines

log = logging.getLogger(__name__)

WEB_READY_TIMEOUT_S = 60.0
SMTP_READY_TIMEOUT_S = 30.0


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
    table: ProcessTable, lab_dir: Path, ports: Ports, services: dict[str, Path]
) -> dict[str, int]:
    web_ports: dict[str, int] = {}
    argv = [sys.executable, "-m", "heroes.lab.http_sites"]
    for i, (name, root) in enumerate(services.items()):
        web_ports[name] = ports.web(i)
        argv += ["--site", f"{name}:{ports.web(i)}:{root}"]
    argv += ["--canary-port", str(ports.canary), "--canary-log", str(lab_dir / "canary.jsonl")]
    logfile = lab_dir / "web.log"
    logfile.unlink(missing_ok=True)
    table.start("web", argv, log=logfile, group="web",
                ports={**web_ports, "canary": ports.canary},
                ready=ReadyCheck.log_line("ready"), timeout_s=WEB_READY_TIMEOUT_S)
    return web_ports


def sink_paths(lab_dir: Path) -> tuple[Path, Path]:
    """(message directory, certificate) of the lab's SMTP sink."""
    return lab_dir / "mail", lab_dir / "smtp" / "sink-cert.pem"


def _start_smtp(table: ProcessTable, lab_dir: Path, port: int) -> dict[str, Any]:
    directory, cert = sink_paths(lab_dir)
    cert.parent.mkdir(parents=True, exist_ok=True)
    logfile = cert.parent / "sink.log"
    logfile.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "heroes.lab.smtp_sink", "--dir", str(directory),
            "--port", str(port), "--starttls", "--require-starttls", "--cert", str(cert)]
    table.start("smtp-sink", argv, log=logfile, group="smtp", ports={"smtp": port},
                ready=ReadyCheck.log_line("listening on "), timeout_s=SMTP_READY_TIMEOUT_S)
    return {"host": "127.0.0.1", "port": port, "starttls": "required", "cert": str(cert),
            "mail_dir": str(directory)}


def swarm_infohashes(swarm_info: dict[str, Any]) -> list[str]:
    """What the swarm's peers announce in the DHT: each v1 and each truncated v2 infohash."""
    return [h for t in swarm_info.get("torrents", []) for h in (t.get("v1"), t.get("v2_truncated"))
            if h]


def up(
    lab_dir: Path,
    *,
    seed: int = 1,
    base_port: int = 17000,
    swarm: bool = True,
    smtp: bool = True,
    timestamps: bool = True,
    big_site_pages: int = 0,
    tor: str = "tor",
    access_sites: bool = True,
    redis: bool = False,
    dht: bool = False,
    population: bool = False,
) -> dict[str, Any]:
    """Bring the world up; returns (and records) addresses, ports and onion hostnames.

    Raises :class:`LabSetupError` (or the swarm's ``SwarmError``) with the failing
    process's log; whatever was started by then is stopped again.
    """
    lab_dir = Path(lab_dir).resolve()
    if smtp:
        try:
            extra.require()
        except extra.LabExtraMissing as exc:
            raise LabSetupError(str(exc)) from exc
    lab_dir.mkdir(parents=True, exist_ok=True)
    if status(lab_dir).get("running"):
        raise LabSetupError(f"the lab world in {lab_dir} is already up (run 'heroes lab down')")
    table = ProcessTable.of(lab_dir)
    leftover = table.stop()
    if leftover:
        log.warning("stopped what an earlier lab in %s left running: %s", lab_dir,
                    ", ".join(leftover))
    table.forget_stopped()
    ports = Ports(base_port)
    result: dict[str, Any] = {"dir": str(lab_dir), "running": True}
    try:
        magnets: list[str] = []
        if swarm:
            result["swarm"] = _swarm().up(lab_dir / "swarm", table)
            magnets = [t["magnet"] for t in result["swarm"].get("torrents", []) if t.get("magnet")]
        canary_url = f"http://127.0.0.1:{ports.canary}/canary"
        services, truth = _generate_sites(
            lab_dir / "sites", seed, magnets, big_site_pages, canary_url
        )
        (lab_dir / "ground_truth.json").write_text(json.dumps(truth, indent=1, default=str))
        _install_onion_keys(lab_dir / "tor", services)
        (lab_dir / "canary.jsonl").unlink(missing_ok=True)
        web_ports = _start_web(table, lab_dir, ports, services)
        access_ports, access_truth = (
            site_access.start(table, lab_dir, ports, seed) if access_sites else ({}, {}))
        probe = "directory" if "directory" in services else next(iter(services))
        net = tor_network.up(lab_dir, {**web_ports, **access_ports}, base_port=base_port,
                             tor=tor,
                             probe_service=probe, table=table)
        if smtp:
            result["smtp"] = _start_smtp(table, lab_dir, ports.smtp)
        if timestamps:
            authority = tsa.start(lab_dir, ports.tsa)
            result["tsa"] = {"url": authority.url, "ca_file": str(authority.ca_file)}
        if redis:  # the probes' coordinator (heroes.lab.redis)
            from heroes.lab import redis as lab_redis

            result["redis"] = lab_redis.up(lab_dir)
        if dht:  # a DHT of 100 nodes for discovery (heroes.lab.dht)
            from heroes.lab import dht as lab_dht

            # Merged with the swarm's DHT, so the swarm's torrents are stored in it too.
            joined = result.get("swarm") or {}
            info = lab_dht.up(lab_dir, join=joined.get("dht_bootstrap", ""),
                              expect=swarm_infohashes(joined))
            result["dht"] = {k: v for k, v in info.items() if k != "stored"}
        if population:  # 34 more onions for a crawl service (heroes.lab.population)
            from heroes.lab import population as lab_population

            result["population"] = lab_population.up(
                lab_dir, lab_population.PopulationOptions(seed=seed), tor=tor, table=table)
    except LabProcessError as exc:
        table.stop()
        raise LabSetupError(str(exc)) from exc
    except BaseException:
        table.stop()
        raise
    result.update(
        {
            "onions": net["onions"],
            "generated_services": sorted(services),
            # The defended services (queue, captcha, login, rate limit, https, JavaScript).
            "access_sites": {name: {**access_truth, "onion": net["onions"][name], "port": port}
                             for name, port in access_ports.items()},
            "web_ports": web_ports,
            "seed_url": truth["seed_url"],
            "canary": {"url": canary_url, "log": str(lab_dir / "canary.jsonl")},
            "socks": net["socks"],
            "control": net["control"],
            "dir_authorities": net["dir_authorities"],
            "client_torrc": client_torrc_lines(net["dir_authorities"]),
            "ground_truth": str(lab_dir / "ground_truth.json"),
            "timings": net["timings"],
            "processes": str(table.path),
        }
    )
    _world_path(lab_dir).write_text(json.dumps(result, indent=2))
    return result


def status(lab_dir: Path) -> dict[str, Any]:
    """The recorded world with every process's state; ``running`` when all of them run."""
    lab_dir = Path(lab_dir).resolve()
    path = _world_path(lab_dir)
    world: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    table = ProcessTable.of(lab_dir)
    tor = tor_network.status(lab_dir, table)
    world["tor"] = {"running": tor.get("running", False), "alive": tor.get("alive", {})}
    if "swarm" in world:
        world["swarm"] = _swarm().status(lab_dir / "swarm", table)
    world["processes"] = table.status()
    current = [p for p in table.records() if p.stopped_at is None]
    world["running"] = bool(world.get("running") and current and all(p.alive() for p in current))
    return world


def down(lab_dir: Path) -> list[str]:
    """Stop exactly what ``up`` started in ``lab_dir``, newest first; returns the names stopped."""
    lab_dir = Path(lab_dir).resolve()
    stopped = ProcessTable.of(lab_dir).stop()
    tor_network.down(lab_dir)
    path = _world_path(lab_dir)
    if path.exists():
        world = json.loads(path.read_text())
        world["running"] = False
        path.write_text(json.dumps(world, indent=2))
    return stopped


