"""A peer's sightings in the probes' evidence logs, and its observations that have none.

Every probe log the installation lists (``evidence/logs.json``, names ``probe/<id>``) is
read with :meth:`evidence.sealedlog.SealedLog.records`; each observation record of the
address is one sighting, with its leaf hash (the ``chain_hash`` the indexed observation
carries). An indexed observation whose hash is in no log (imported from another tool) is
reported as having no evidence record, with its first and last seen. Reads the data
directory (passed in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.registry import listed
from evidence.sealedlog import SealedLog

PROBE_PREFIX = "probe/"


@dataclass(frozen=True)
class Sighting:
    ip: str
    port: int
    seen_at: str  # UTC, ISO 8601 to the second with its offset
    first_seen: str
    last_seen: str
    infohash: str
    infohash_v2: str
    level: int
    probe_id: str
    record_hash: str  # the evidence record's leaf hash (hex); "" when there is none
    log: str  # the evidence log's name; "" when there is none
    seq: int | None
    observation_id: str


def probe_logs(data_dir: Path) -> list[SealedLog]:
    """Every probe log: listed in the registry, or found in ``<data_dir>/evidence``."""
    found = {name: path for name, path in listed(data_dir).items()
             if name.startswith(PROBE_PREFIX)}
    for path in sorted((Path(data_dir) / "evidence").glob("*.chain.jsonl")):
        found.setdefault(PROBE_PREFIX + path.name.removesuffix(".chain.jsonl"), path)
    return [SealedLog(path, name) for name, path in sorted(found.items()) if path.exists()]


def to_second(value: str) -> str:
    """An ISO time cut to whole seconds, in UTC with ``+00:00``."""
    return datetime.fromisoformat(value).astimezone(UTC).isoformat(timespec="seconds")


def from_records(ip: str, logs: Iterable[SealedLog]) -> Iterator[Sighting]:
    for log in logs:
        for record in log.records():
            data = record.get("data") or {}
            if data.get("type") != "observation" or data.get("ip") != ip:
                continue
            yield Sighting(
                ip=ip, port=int(data.get("port", 0)), seen_at=to_second(data["last_seen"]),
                first_seen=to_second(data["first_seen"]), last_seen=to_second(data["last_seen"]),
                infohash=data.get("infohash", ""), infohash_v2=data.get("infohash_v2") or "",
                level=int(data.get("level", 0)), probe_id=data.get("probe_id", ""),
                record_hash=record["hash"], log=log.name, seq=record.get("seq"),
                observation_id=data.get("id", ""))


def without_records(observations: Iterable[dict[str, Any]], hashes: set[str], ids: set[str]
                    ) -> Iterator[Sighting]:
    """Indexed observations with no evidence record in any log (``hashes``/``ids``: the
    logs' record hashes and observation ids)."""
    for o in observations:
        if o.get("chain_hash") in hashes or o.get("id") in ids:
            continue
        yield Sighting(
            ip=o["ip"], port=int(o["port"]), seen_at=to_second(o["last_seen"]),
            first_seen=to_second(o["first_seen"]), last_seen=to_second(o["last_seen"]),
            infohash=o["infohash"], infohash_v2=o.get("infohash_v2") or "",
            level=int(o.get("level", 0)), probe_id=o.get("probe_id", ""), record_hash="",
            log="", seq=None, observation_id=o.get("id", ""))


def sightings(ip: str, data_dir: Path, observations: list[dict[str, Any]]) -> list[Sighting]:
    """Every sighting of ``ip``: evidence records first, then records-less observations."""
    found = list(from_records(ip, probe_logs(data_dir)))
    hashes = {s.record_hash for s in found}
    ids = {s.observation_id for s in found if s.observation_id}
    found += without_records(observations, hashes, ids)
    found.sort(key=lambda s: (s.seen_at, s.infohash, s.port, s.record_hash))
    return found


def record_filter(ip: str, infohashes: set[str]) -> Callable[[dict[str, Any]], bool]:
    """Which evidence records are sightings of ``ip`` in these swarms (for a signed export of
    exactly the records the CSV and JSON list)."""

    def wanted(record: dict[str, Any]) -> bool:
        data = record.get("data") or {}
        return (data.get("type") == "observation" and data.get("ip") == ip
                and (data.get("infohash") in infohashes
                     or data.get("infohash_v2") in infohashes))

    return wanted
