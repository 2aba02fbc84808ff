"""The demo's lab world: the Tor network, onion sites and swarm of :mod:`heroes.lab.world`,
plus the lab SMTP sink (:mod:`heroes.lab.smtp_sink`, STARTTLS with a certificate it makes).

``up`` brings everything up in ``<data_dir>/lab`` and writes ``demo-pids.json`` there: every
process the lab recorded (tor instances, web servers, swarm peers and trackers, the sink)
with its pid and start time, so that anyone can check afterwards that none is left.
``down`` stops exactly those, and is safe to call at any point, also after a partial ``up``.
Reads no settings: the caller passes the lab directory and the base port.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heroes.lab import world
from heroes.lab.tor_procs import ProcRecord, is_alive, log_tail, spawn, stop

log = logging.getLogger(__name__)

SINK_READY_TIMEOUT_S = 30.0
PIDS_FILE = "demo-pids.json"
SINK_FILE = "sink.json"


class LabError(Exception):
    """The lab world (or its mail sink) could not be started; the message says why."""


@dataclass(frozen=True)
class MailSink:
    """Where the running sink listens and keeps its messages."""

    port: int
    directory: Path
    cert: Path
    record: ProcRecord


def sink_paths(lab_dir: Path) -> tuple[Path, Path]:
    """(message directory, certificate) of the lab's sink."""
    return lab_dir / "mail", lab_dir / "smtp" / "sink-cert.pem"


def start_sink(lab_dir: Path, timeout_s: float = SINK_READY_TIMEOUT_S) -> MailSink:
    """Start the sink on a free loopback port, STARTTLS required; wait until it listens."""
    directory, cert = sink_paths(lab_dir)
    cert.parent.mkdir(parents=True, exist_ok=True)
    logfile = cert.parent / "sink.log"
    logfile.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "heroes.lab.smtp_sink", "--dir", str(directory),
            "--port", "0", "--starttls", "--require-starttls", "--cert", str(cert)]
    record = spawn("smtp-sink", argv, logfile)
    (cert.parent / SINK_FILE).write_text(json.dumps(record.to_json()))
    deadline = time.monotonic() + timeout_s
    while True:
        text = logfile.read_text(errors="replace") if logfile.exists() else ""
        for line in text.splitlines():
            if line.startswith("listening on "):
                return MailSink(int(line.rsplit(":", 1)[1]), directory, cert, record)
        if not is_alive(record):
            raise LabError(f"the SMTP sink exited at start-up:\n{log_tail(logfile)}")
        if time.monotonic() > deadline:
            stop([record])
            raise LabError(f"the SMTP sink did not listen within {timeout_s:.0f}s:\n"
                           f"{log_tail(logfile)}")
        time.sleep(0.1)


def _stop_sink(lab_dir: Path) -> list[str]:
    path = sink_paths(lab_dir)[1].parent / SINK_FILE
    if not path.exists():
        return []
    stopped = stop([ProcRecord(**json.loads(path.read_text()))])
    path.unlink()
    return stopped


def recorded_processes(lab_dir: Path) -> list[dict[str, Any]]:
    """Every process the running lab recorded: name, pid, start time (from its own files)."""
    procs: list[dict[str, Any]] = []
    tor_state = lab_dir / "tor" / "state.json"
    if tor_state.exists():
        for p in json.loads(tor_state.read_text()).get("processes", []):
            procs.append({"name": f"tor {p['name']}", "pid": p["pid"],
                          "start_time": int(p["start_time"])})
    world_file = lab_dir / "world.json"
    if world_file.exists():
        web = json.loads(world_file.read_text()).get("web_process")
        if web:
            procs.append({"name": "web", "pid": web["pid"], "start_time": int(web["start_time"])})
    swarm_pids = lab_dir / "swarm" / "swarm.pids.json"
    if swarm_pids.exists():
        for p in json.loads(swarm_pids.read_text()):
            if p.get("start") is not None:
                procs.append({"name": f"swarm {p['name']}", "pid": p["pid"],
                              "start_time": int(p["start"])})
    sink = sink_paths(lab_dir)[1].parent / SINK_FILE
    if sink.exists():
        s = json.loads(sink.read_text())
        procs.append({"name": "smtp sink", "pid": s["pid"], "start_time": int(s["start_time"])})
    return procs


def still_running(procs: list[dict[str, Any]]) -> list[str]:
    """Names of the recorded processes that still run (same pid and start time)."""
    return [p["name"] for p in procs
            if is_alive(ProcRecord(p["name"], p["pid"], p["start_time"], ""))]


def up(lab_dir: Path, *, base_port: int) -> tuple[dict[str, Any], MailSink]:
    """The world (Tor network, sites, swarm) and the mail sink; raises :class:`LabError`."""
    from heroes.lab.swarm import SwarmError
    from heroes.lab.tor_config import LabSetupError

    lab_dir.mkdir(parents=True, exist_ok=True)
    if world.status(lab_dir).get("running") or (lab_dir / "swarm" / "swarm.pids.json").exists():
        # An earlier demo on this data directory was killed before it could clean up.
        log.warning("stopping the lab world an earlier demo left running in %s", lab_dir)
        down(lab_dir)
    try:
        info = world.up(lab_dir, base_port=base_port, swarm=True)
    except (LabSetupError, SwarmError, OSError) as exc:
        raise LabError(str(exc)) from exc
    finally:
        _write_pids(lab_dir)
    try:
        sink = start_sink(lab_dir)
    finally:
        _write_pids(lab_dir)
    return info, sink


def _write_pids(lab_dir: Path) -> None:
    path = lab_dir / PIDS_FILE
    known = {(p["pid"], p["start_time"]): p for p in _read_pids(path)}
    for p in recorded_processes(lab_dir):
        known[(p["pid"], p["start_time"])] = p
    path.write_text(json.dumps(list(known.values()), indent=1))


def _read_pids(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else []


def down(lab_dir: Path) -> tuple[list[str], list[str]]:
    """Stop the sink and the world; returns (names stopped, names still running after)."""
    _write_pids(lab_dir)
    stopped = _stop_sink(lab_dir)
    stopped += world.down(lab_dir)
    return stopped, still_running(_read_pids(lab_dir / PIDS_FILE))
