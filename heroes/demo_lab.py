"""The demo's lab world: the Tor network, onion sites, swarm and SMTP sink of
:mod:`heroes.lab.world` (the sink with STARTTLS required and a certificate it makes).

``up`` brings everything up in ``<data_dir>/lab``; every process it started is in the lab's
process table (``processes.json``, :mod:`heroes.lab.processes`), which keeps the records
after ``down`` so that anyone can check afterwards that none is left. ``down`` stops exactly
those, and is safe to call at any point, also after a partial ``up``. Reads no settings:
the caller passes the lab directory and the base port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heroes.lab import world
from heroes.lab.processes import LabProcessError, ProcessTable, still_running

log = logging.getLogger(__name__)


class LabError(Exception):
    """The lab world (or its mail sink) could not be started; the message says why."""


@dataclass(frozen=True)
class MailSink:
    """Where the running sink listens and keeps its messages."""

    port: int
    directory: Path
    cert: Path


def up(lab_dir: Path, *, base_port: int) -> tuple[dict[str, Any], MailSink]:
    """The world (Tor network, sites, swarm, mail sink); raises :class:`LabError`."""
    from heroes.lab.swarm import SwarmError
    from heroes.lab.tor_config import LabSetupError

    lab_dir.mkdir(parents=True, exist_ok=True)
    if ProcessTable.of(lab_dir).running():
        # An earlier demo on this data directory was killed before it could clean up.
        log.warning("stopping the lab world an earlier demo left running in %s", lab_dir)
        down(lab_dir)
    try:
        info = world.up(lab_dir, base_port=base_port, swarm=True, smtp=True)
    except (LabSetupError, SwarmError, LabProcessError, OSError) as exc:
        raise LabError(str(exc)) from exc
    smtp = info["smtp"]
    return info, MailSink(int(smtp["port"]), Path(smtp["mail_dir"]), Path(smtp["cert"]))


def down(lab_dir: Path) -> tuple[list[str], list[str]]:
    """Stop the world; returns (names stopped, names still running after)."""
    stopped = world.down(lab_dir)
    return stopped, still_running(ProcessTable.of(lab_dir).records())
