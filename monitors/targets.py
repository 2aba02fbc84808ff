"""What the probe watches: targets from the command line, the index and saved state.

A target is one swarm, keyed by its v1 infohash when it has one, else its v2 infohash.
Sources: ``heroes probe --hash`` (40/64-hex infohash or magnet link), ``hash`` documents
of type ``infohash`` on active flag lists (an infohash on a paused list is not watched, one on
an active negative list is known innocuous and never watched, not even named on a page; see
:func:`listed_targets`) and ``torrent`` documents in the index (those named on pages or
flagged; see :func:`watched_torrent`), and the state file of an
earlier run (``<data_dir>/probe/<probe_id>/state.json``), so a restarted probe resumes.
Reads no settings itself; :class:`TargetState` gets its path from the caller.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from documents import iso, utcnow
from errors import BackendUnavailable
from identifiers import InvalidIdentifier
from identifiers.magnet import parse_magnet
from monitors.errors import TargetError
from query.model import Search, SortField, Term

log = logging.getLogger(__name__)

HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
PAGE = 5000


@dataclass(frozen=True)
class Target:
    v1: str | None
    v2: str | None
    trackers: tuple[str, ...] = ()
    origin: str = "cli"  # cli, hash-list, torrent, state

    @property
    def key(self) -> str:
        return self.v1 or self.v2 or ""

    @property
    def v2_truncated(self) -> str | None:
        # Trackers and the DHT know a v2 swarm by the first 20 bytes of its hash.
        return self.v2[:40] if self.v2 else None


def parse_target(text: str, origin: str = "cli") -> Target:
    """A target from a 40-hex (v1) or 64-hex (v2) infohash or a magnet link."""
    value = text.strip()
    if HEX40.match(value):
        return Target(value.lower(), None, (), origin)
    if HEX64.match(value):
        return Target(None, value.lower(), (), origin)
    if value.lower().startswith("magnet:?"):
        return _parse_magnet(value, origin)
    raise TargetError(f"not an infohash (40 or 64 hex digits) or magnet link: {text!r:.120}")


def _parse_magnet(uri: str, origin: str) -> Target:
    try:
        parsed = parse_magnet(uri)
    except InvalidIdentifier as exc:
        raise TargetError(f"bad magnet link: {exc}") from exc
    v1 = parsed.v1[0] if parsed.v1 else None
    v2 = parsed.v2[0] if parsed.v2 else None
    return Target(v1, v2, parsed.trackers, origin)


@dataclass
class TargetRecord:
    """A target with what the probe knows about it across runs."""

    v1: str | None
    v2: str | None
    trackers: list[str] = field(default_factory=list)
    origin: str = "cli"
    added_at: str = ""
    last_seen: str | None = None  # last time any peer was seen
    num_pieces: int | None = None
    metadata_done: bool = False

    def target(self) -> Target:
        return Target(self.v1, self.v2, tuple(self.trackers), self.origin)


class TargetState:
    """The probe's targets and their last-seen times in one JSON file (written atomically)."""

    def __init__(self, path: Path):
        self.path = path
        self.records: dict[str, TargetRecord] = {}

    def load(self) -> None:
        if not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text())
            self.records = {k: TargetRecord(**v) for k, v in raw["targets"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetError(f"{self.path}: unreadable probe state ({exc}); "
                              "move it aside to start afresh") from exc

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = {"targets": {k: asdict(v) for k, v in self.records.items()}}
        tmp.write_text(json.dumps(body, indent=1))
        os.replace(tmp, self.path)

    def add(self, target: Target) -> bool:
        """Remember a target; True when it is new. Trackers of a known target are merged."""
        known = self.records.get(target.key)
        if known is None:
            self.records[target.key] = TargetRecord(
                target.v1, target.v2, list(target.trackers), target.origin, iso(utcnow()))
            return True
        known.v2 = known.v2 or target.v2
        known.trackers = list(dict.fromkeys([*known.trackers, *target.trackers]))
        return False

    def targets(self) -> list[Target]:
        return [r.target() for r in self.records.values()]


async def targets_from_index(backend: Any) -> list[Target]:
    """Every ``hash`` of type infohash and every watched ``torrent`` in the index, as targets,
    but none that an active negative list holds."""
    entries = [source async for source in _all(
        backend, Search(kind="hash", query=Term("type", "infohash"), size=PAGE,
                        sort=(SortField("value", "asc"),)))]
    found, innocuous = listed_targets(entries)
    async for source in _all(backend, Search(kind="torrent", size=PAGE,
                                             sort=(SortField("infohash", "asc"),))):
        if not watched_torrent(source):
            continue
        ih = source.get("infohash", "")
        v1 = ih if HEX40.match(ih) else None
        v2 = source.get("infohash_v2") or (ih if HEX64.match(ih) else None)
        trackers: tuple[str, ...] = ()
        if source.get("magnet"):
            try:
                trackers = parse_target(source["magnet"]).trackers
            except TargetError:
                pass
        if (v1 or v2) and not {v1, v2} & innocuous:
            found.append(Target(v1, v2, trackers, "torrent"))
    return found


def listed_targets(entries: Iterable[dict[str, Any]]) -> tuple[list[Target], set[str]]:
    """Targets from ``hash`` documents of type infohash, and the infohashes known innocuous.

    Targets: the values of active flag lists that no active negative list holds; innocuous:
    the values of active negative lists (documents older than list kinds: flag, active).
    """
    flagged: list[str] = []
    innocuous: set[str] = set()
    for source in entries:
        if source.get("list_state", "active") != "active":
            continue
        value = str(source.get("value", ""))
        if source.get("list_kind", "flag") == "negative":
            innocuous.add(value.lower())
        else:
            flagged.append(value)
    found: list[Target] = []
    for value in dict.fromkeys(flagged):
        if value.lower() in innocuous:
            continue
        try:
            found.append(parse_target(value, "hash-list"))
        except TargetError as exc:
            log.warning("hash list entry skipped as a probe target: %s", exc)
    return found, innocuous


def watched_torrent(source: dict[str, Any]) -> bool:
    """A torrent named on a page, or flagged: yes; one only discovered in the DHT: not yet.

    Discovery writes every infohash it samples; the probe watches those that the drain
    flagged (hash or keyword lists), so its peers are logged from then on.
    """
    return bool(source.get("found_on") or source.get("flagged") or not source.get("found_by"))


async def _all(backend: Any, search: Search) -> Any:
    after = None
    while True:
        page = Search(kind=search.kind, query=search.query, size=search.size, sort=search.sort,
                      search_after=after)
        try:
            result = await backend.search(page)
        except BackendUnavailable:
            raise
        hits = result["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < search.size:
            return
        after = tuple(hits[-1]["sort"])


def merge_targets(targets: Iterable[Target]) -> list[Target]:
    """One target per swarm: a v2-only entry joins the hybrid target that carries its v2."""
    by_key: dict[str, Target] = {}
    v2_owner: dict[str, str] = {}
    for t in targets:
        if t.v1 is None and t.v2 in v2_owner:
            continue
        existing = by_key.get(t.key)
        if existing:
            t = Target(t.v1, existing.v2 or t.v2,
                       tuple(dict.fromkeys([*existing.trackers, *t.trackers])), existing.origin)
        by_key[t.key] = t
        if t.v2:
            v2_owner[t.v2] = t.key
    return [t for k, t in by_key.items() if not (t.v1 is None and t.v2 in v2_owner
                                                  and v2_owner[t.v2] != k)]
