"""The probe's evidence log: where it is, how it is opened and sealed, and its exports.

Each probe writes ``<data_dir>/evidence/<probe_id>.chain.jsonl``, a sealed log
(:class:`evidence.sealedlog.SealedLog`) named ``probe/<probe_id>`` in its heads and listed
in the installation's registry, so ``heroes evidence check`` checks it. The observations
of one infohash are exported with :func:`export` (records, inclusion proofs, heads,
timestamps, key: :mod:`evidence.export`). Reads the ``evidence`` settings section and
``data_dir``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from config import Settings
from evidence.errors import EvidenceError, KeyMissing
from evidence.keys import load_signing_key
from evidence.registry import listed, open_log, probe_log_name, probe_log_path
from evidence.sealedlog import SealedLog
from evidence.sealer import Sealer
from monitors.errors import EvidenceError as MonitorEvidenceError


def log_path(data_dir: Path, probe_id: str) -> Path:
    return probe_log_path(data_dir, probe_id)


def open_probe_log(data_dir: Path, probe_id: str) -> SealedLog:
    """The probe's sealed log, listed in the installation's registry."""
    return open_log(data_dir, probe_log_name(probe_id), log_path(data_dir, probe_id))


def probe_sealer(settings: Settings, log: SealedLog) -> Sealer:
    """The sealer the probe role runs for its log (key, TSA and witnesses from settings)."""
    return Sealer.from_settings(settings.evidence, [log], data_dir=Path(settings.data_dir))


def infohash_filter(infohash: str) -> Any:
    """A record filter for :func:`evidence.export.export`: observations of ``infohash``."""
    wanted = infohash.strip().lower()

    def matches(record: dict[str, Any]) -> bool:
        data = record.get("data") or {}
        return wanted in (data.get("infohash"), data.get("infohash_v2"))

    return matches


def settings_sha256(settings: Settings) -> str:
    """SHA-256 of the whole configuration in effect (secrets appear masked)."""
    body = json.dumps(settings.model_dump(mode="json"), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def observation_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What an investigator reads first: peers, levels, time range, probes."""
    data = [r.get("data") or {} for r in records]
    levels: dict[str, int] = {}
    for d in data:
        levels[str(d.get("level", 0))] = levels.get(str(d.get("level", 0)), 0) + 1
    times = sorted(str(r.get("at", "")) for r in records)
    return {
        "observations": len(records),
        "peers": len({(d.get("ip"), d.get("port")) for d in data}),
        "levels": levels,
        "first": times[0] if times else "",
        "last": times[-1] if times else "",
        "probe_ids": sorted({str(d.get("probe_id", "")) for d in data}),
        "probe_versions": sorted({str(d.get("probe_version", "")) for d in data}),
        "record_config_hashes": sorted({str(d.get("config_hash", "")) for d in data}),
    }


def probe_logs(data_dir: Path) -> list[SealedLog]:
    """Every probe log of the installation (listed in the registry or found on disk)."""
    found = {name: path for name, path in listed(data_dir).items() if name.startswith("probe/")}
    for path in sorted((Path(data_dir) / "evidence").glob("*.chain.jsonl")):
        name = probe_log_name(path.name.removesuffix(".chain.jsonl"))
        found.setdefault(name, path)
    return [open_log(data_dir, name, path) for name, path in sorted(found.items())]


def export_infohash(settings: Settings, infohash: str, out: Path, *,
                    tool_version: str) -> dict[str, Any]:
    """Export every probe's observations of ``infohash`` into ``out``; returns the manifest.

    Raises :class:`evidence.errors.KeyMissing` without a signing key and
    :class:`monitors.errors.EvidenceError` when nothing matches or a log is broken.
    """
    from evidence.export import Source, export

    data_dir = Path(settings.data_dir)
    key = load_signing_key(settings.evidence.signing_key_file)
    logs = probe_logs(data_dir)
    if not logs:
        raise MonitorEvidenceError(f"no probe evidence log under {data_dir / 'evidence'}")
    tsa_ca = Path(settings.evidence.tsa_ca_file).expanduser() \
        if settings.evidence.tsa_ca_file else None
    wanted = infohash.strip().lower()
    # The newest records get their head, timestamp and witnesses before they are exported.
    Sealer.from_settings(settings.evidence, logs, data_dir=data_dir).seal_once()
    try:
        return export([Source(log, infohash_filter(wanted)) for log in logs], out, key=key,
                      data_dir=data_dir, tool_version=tool_version,
                      config_sha256=settings_sha256(settings), selector={"infohash": wanted},
                      tsa_ca=tsa_ca, summary=observation_summary)
    except KeyMissing:
        raise
    except EvidenceError as exc:
        if str(exc).startswith("no record matches"):
            raise MonitorEvidenceError(
                f"no observation of infohash {wanted!r} in {len(logs)} evidence log(s)") from exc
        raise MonitorEvidenceError(str(exc)) from exc


def verify(bundle: Path) -> Any:
    """Internal consistency of an export (``heroes evidence verify`` without ``--key``)."""
    from evidence.verify import verify_export

    return verify_export(bundle)
