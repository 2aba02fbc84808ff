"""What one export carries, in neither MISP's nor STIX's terms: :class:`Facts`.

:func:`add_page`, :func:`add_service`, :func:`add_torrent` and :func:`add_observation` take
a document as the index returns it (its JSON source) and add what it holds; they are pure,
so the two writers and their tests share one reading of the documents. Values keep the
canonical spelling the index gives them (:mod:`identifiers`). Peers are added only by
:func:`add_observation`, which the collector calls only when peers may leave. Reads no
settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

# Page entity lists -> the value types an export carries (the names of identifiers/).
ENTITY_VALUES = {"emails": "email", "btc": "btc", "xmr": "xmr", "eth": "eth", "pgp": "pgp",
                 "phones": "phone"}
WALLETS = ("btc", "xmr", "eth")
MEDIA_HASHES = ("md5", "sha1", "sha256")


@dataclass(frozen=True, slots=True)
class Subject:
    """What was exported: ``kind`` alert, service, infohash or cluster, and its key."""

    kind: str
    key: str
    title: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}" + (f": {self.title}" if self.title else "")


@dataclass(slots=True)
class Seen:
    """First and last time a value was seen, widened by each sighting."""

    first: datetime | None = None
    last: datetime | None = None

    def add(self, *times: datetime | None) -> None:
        for at in times:
            if at is None:
                continue
            self.first = at if self.first is None else min(self.first, at)
            self.last = at if self.last is None else max(self.last, at)


@dataclass(slots=True)
class Onion:
    host: str
    title: str = ""
    seen: Seen = field(default_factory=Seen)


@dataclass(slots=True)
class MediaFile:
    """Hashes of one media file (never its bytes), with where it was seen."""

    md5: str = ""
    sha1: str = ""
    sha256: str = ""
    name: str = ""
    size: int | None = None
    content_type: str = ""
    urls: set[str] = field(default_factory=set)
    seen: Seen = field(default_factory=Seen)

    @property
    def key(self) -> str:
        return self.sha256 or self.sha1 or self.md5


@dataclass(slots=True)
class TorrentInfo:
    infohash: str
    infohash_v2: str = ""
    name: str = ""
    magnet: str = ""
    size: int | None = None
    seen: Seen = field(default_factory=Seen)


@dataclass(slots=True)
class Peer:
    infohash: str
    ip: str
    port: int
    client: str = ""
    level: int = 0
    seen: Seen = field(default_factory=Seen)


@dataclass(frozen=True, slots=True)
class Link:
    """Two members of a cluster share ``value`` of ``type`` (the cluster's edge, explained)."""

    a: str
    b: str
    type: str
    value: str
    weight: float
    why: str


@dataclass(slots=True)
class Facts:
    subject: Subject
    onions: dict[str, Onion] = field(default_factory=dict)
    urls: set[str] = field(default_factory=set)
    # type (email, btc, xmr, eth, pgp, phone) -> value -> when seen
    values: dict[str, dict[str, Seen]] = field(default_factory=dict)
    files: dict[str, MediaFile] = field(default_factory=dict)
    torrents: dict[str, TorrentInfo] = field(default_factory=dict)
    peers: dict[tuple[str, str, int], Peer] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    seen: Seen = field(default_factory=Seen)

    def value(self, kind: str, value: str, *times: datetime | None) -> None:
        self.values.setdefault(kind, {}).setdefault(value, Seen()).add(*times)

    def onion(self, host: str, *times: datetime | None, title: str = "") -> Onion:
        onion = self.onions.setdefault(host, Onion(host))
        onion.title = onion.title or title
        onion.seen.add(*times)
        return onion

    def torrent(self, infohash: str, *times: datetime | None) -> TorrentInfo:
        torrent = self.torrents.setdefault(infohash, TorrentInfo(infohash))
        torrent.seen.add(*times)
        return torrent

    def count(self) -> int:
        """How many things the export carries (values, onions, files, torrents, peers)."""
        return (len(self.onions) + len(self.urls) + sum(len(v) for v in self.values.values())
                + len(self.files) + len(self.torrents) + len(self.peers))


def when(raw: object) -> datetime | None:
    """A document time (ISO 8601 with offset) as a datetime; None when absent or unreadable."""
    if isinstance(raw, datetime):
        return raw
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def add_page(facts: Facts, page: dict[str, Any]) -> None:
    """A page's URL and host, its entities and its media hashes (of media that had bytes)."""
    at = when(page.get("fetched_at"))
    facts.seen.add(at)
    url = str(page.get("url") or "")
    if url:
        facts.urls.add(url)
    host = str(page.get("host") or urlsplit(url).hostname or "")
    if host.endswith(".onion"):
        facts.onion(host, at, title=str(page.get("title") or "") if _front(url) else "")
    entities = page.get("entities") or {}
    for name, kind in ENTITY_VALUES.items():
        for value in entities.get(name) or []:
            facts.value(kind, str(value), at)
    for onion in entities.get("onions") or []:
        facts.onion(str(onion), at)
    for infohash in entities.get("infohashes") or []:
        facts.torrent(str(infohash), at)
    for media in page.get("media") or []:
        add_media(facts, media, at)


def _front(url: str) -> bool:
    return urlsplit(url).path in ("", "/")


def add_media(facts: Facts, media: dict[str, Any], at: datetime | None) -> None:
    hashes = {h: str(media.get(h) or "") for h in MEDIA_HASHES}
    if not any(hashes.values()):
        return  # a media file that could not be fetched has no hash to share
    key = hashes["sha256"] or hashes["sha1"] or hashes["md5"]
    item = facts.files.setdefault(key, MediaFile(**hashes))
    url = str(media.get("url") or "")
    if url:
        item.urls.add(url)
        item.name = item.name or urlsplit(url).path.rsplit("/", 1)[-1]
    if isinstance(media.get("size"), int) and not media.get("truncated"):
        item.size = media["size"]
    item.content_type = item.content_type or str(media.get("content_type") or "")
    item.seen.add(at)


def add_service(facts: Facts, service: dict[str, Any]) -> None:
    first, last = when(service.get("first_seen")), when(service.get("last_seen"))
    facts.seen.add(first, last)
    host = str(service.get("host") or "")
    if host:
        facts.onion(host, first, last, title=str(service.get("title") or ""))


def add_torrent(facts: Facts, torrent: dict[str, Any]) -> None:
    first = when(torrent.get("first_seen"))
    facts.seen.add(first)
    item = facts.torrent(str(torrent["infohash"]), first)
    item.infohash_v2 = item.infohash_v2 or str(torrent.get("infohash_v2") or "")
    item.name = item.name or str(torrent.get("name") or "")
    item.magnet = item.magnet or str(torrent.get("magnet") or "")
    if isinstance(torrent.get("total_size"), int):
        item.size = torrent["total_size"]


def add_observation(facts: Facts, observation: dict[str, Any]) -> None:
    """One peer sighting; the caller decides whether peers may leave the installation."""
    first, last = when(observation.get("first_seen")), when(observation.get("last_seen"))
    infohash = str(observation["infohash"])
    facts.torrent(infohash)
    key = (infohash, str(observation["ip"]), int(observation["port"]))
    peer = facts.peers.setdefault(key, Peer(*key))
    peer.client = peer.client or str(observation.get("client") or "")
    peer.level = max(peer.level, int(observation.get("level") or 0))
    peer.seen.add(first, last)
