"""The lab's Redis: Debian's ``redis-server`` on 127.0.0.1, for probes that split targets.

Started as a recorded lab process (:mod:`heroes.lab.processes`, group ``redis``) with its
data in ``<dir>/redis`` (append-only file, fsync every second, no snapshots) and protected
mode on. ``up`` returns ``{"url": "redis://127.0.0.1:PORT/0", "port": PORT}``; ``down``
stops it. Reads no settings.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

from heroes.lab.processes import LabProcessError, ProcessTable, ReadyCheck

GROUP = "redis"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def up(lab_dir: Path, port: int = 0) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise LabProcessError("redis-server is not installed (make setup installs it)")
    port = port or _free_port()
    data = Path(lab_dir) / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes"]
    ProcessTable.of(lab_dir).start("redis", argv, log=data / "redis.log", group=GROUP,
                                   ports={"redis": port}, ready=ReadyCheck.tcp(port))
    return {"url": f"redis://127.0.0.1:{port}/0", "port": port}


def down(lab_dir: Path) -> list[str]:
    return ProcessTable.of(lab_dir).stop(group=GROUP)
