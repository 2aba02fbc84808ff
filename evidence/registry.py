"""Every sealed log of an installation, listed in ``<data_dir>/evidence/logs.json``.

A log is listed the first time it is opened through :func:`open_log`, with its name (what
its heads say, e.g. ``audit``, ``probe/probe-1``, ``capture``) and its path (relative to
the data directory when inside it). ``heroes evidence check`` checks every listed log, so
a log deleted whole is reported missing rather than silently absent. Reads no settings
beyond the data directory.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from evidence.errors import EvidenceError
from evidence.sealedlog import SealedLog

AUDIT = "audit"
CAPTURE = "capture"


def probe_log_name(probe_id: str) -> str:
    return f"probe/{probe_id}"


def registry_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "evidence" / "logs.json"


def listed(data_dir: Path | str) -> dict[str, Path]:
    """Name -> absolute path of every log the installation has opened."""
    path = registry_path(data_dir)
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise EvidenceError(f"{path}: not JSON ({exc})") from exc
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise EvidenceError(f"{path}: expected an object of log name -> path")
    return {name: Path(data_dir) / rel for name, rel in raw.items()}


def register(data_dir: Path | str, name: str, path: Path) -> None:
    """List ``name`` at ``path`` (idempotent); a name already listed elsewhere is an error."""
    reg = registry_path(data_dir)
    reg.parent.mkdir(parents=True, exist_ok=True)
    try:
        rel = str(Path(path).resolve().relative_to(Path(data_dir).resolve()))
    except ValueError:
        rel = str(Path(path).resolve())
    with open(reg.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = json.loads(reg.read_text(encoding="utf-8")) if reg.exists() else {}
        if current.get(name) == rel:
            return
        if name in current:
            raise EvidenceError(f"log {name!r} is already listed at {current[name]!r}, "
                                f"not {rel!r} ({reg})")
        current[name] = rel
        tmp = reg.with_suffix(".tmp")
        tmp.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, reg)


def open_log(data_dir: Path | str, name: str, path: Path) -> SealedLog:
    """The sealed log ``name`` at ``path``, listed in the installation's registry."""
    register(data_dir, name, path)
    return SealedLog(path, name)


def audit_log_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "audit" / "audit.log"


def probe_log_path(data_dir: Path | str, probe_id: str) -> Path:
    return Path(data_dir) / "evidence" / f"{probe_id}.chain.jsonl"
