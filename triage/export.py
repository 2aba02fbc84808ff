"""The records a legal request needs, one row per sighting, as CSV and as JSON.

Operators behind carrier-grade NAT identify a subscriber by address, port and exact time,
so every row has the port and the UTC time to the second with its offset, beside the
infohash, the torrent's name, files and sizes where known, the level, the probe and the
evidence record's hash (empty, with ``evidence`` = ``none``, for an observation that came
without records; then its first and last seen bound the time). Reads no settings.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from triage.errors import TriageError
from triage.sightings import Sighting
from triage.swarms import SwarmCatalog

COLUMNS = ("ip", "port", "seen_at_utc", "first_seen_utc", "last_seen_utc", "infohash",
           "infohash_v2", "torrent_name", "files", "total_size", "level", "probe_id",
           "evidence", "record_hash", "evidence_log", "record_seq", "observation_id")
FORMATS = ("csv", "json")


def rows(sightings: Sequence[Sighting], catalog: SwarmCatalog) -> list[dict[str, Any]]:
    out = []
    for s in sightings:
        swarm = catalog.get(s.infohash) or (catalog.get(s.infohash_v2) if s.infohash_v2
                                           else None)
        files = [{"path": f.get("path", ""), "size": f.get("size")}
                 for f in (swarm.files if swarm else [])]
        out.append({
            "ip": s.ip, "port": s.port, "seen_at_utc": s.seen_at,
            "first_seen_utc": s.first_seen, "last_seen_utc": s.last_seen,
            "infohash": s.infohash, "infohash_v2": s.infohash_v2,
            "torrent_name": swarm.name if swarm else "", "files": files,
            "total_size": swarm.total_size if swarm else None, "level": s.level,
            "probe_id": s.probe_id, "evidence": "record" if s.record_hash else "none",
            "record_hash": s.record_hash, "evidence_log": s.log, "record_seq": s.seq,
            "observation_id": s.observation_id,
        })
    return out


def to_csv(table: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table:
        flat = dict(row)
        flat["files"] = "; ".join(f"{f['path']} ({f['size']} bytes)" for f in row["files"])
        flat["total_size"] = "" if row["total_size"] is None else row["total_size"]
        flat["record_seq"] = "" if row["record_seq"] is None else row["record_seq"]
        writer.writerow(flat)
    return buf.getvalue()


def to_json(ip: str, table: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    return json.dumps({"ip": ip, **meta, "sightings": table}, indent=1, ensure_ascii=False)


def format_of(path: Path, asked: str | None) -> str:
    fmt = asked or path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise TriageError("format", f"{fmt!r} is not one of {', '.join(FORMATS)} (give "
                          "--format or name the file .csv or .json)")
    return fmt


def write(path: Path, fmt: str, ip: str, table: list[dict[str, Any]], meta: dict[str, Any]
          ) -> None:
    text = to_csv(table) if fmt == "csv" else to_json(ip, table, meta)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise TriageError("out", f"cannot write {str(path)!r}: {exc}") from exc


def sighting_dicts(sightings: Sequence[Sighting]) -> list[dict[str, Any]]:
    return [asdict(s) for s in sightings]
