"""A MISP event of :class:`Facts`, built with ``pymisp`` objects, as MISP's JSON (``{"Event": …}``).

Onions are ``tor-hiddenservice`` objects (address, title, first and last seen), page URLs
``url`` attributes, wallets ``coin-address`` objects (``address`` for Bitcoin,
``address-xmr`` for Monero, ``address-crypto`` for Ether, each with its ``symbol``), e-mail
addresses ``email`` and phone numbers ``phone-number`` attributes, PGP keys ``pgp-meta``
objects (the fingerprint as ``key-id``), media ``file`` objects (md5, sha1, sha256, name,
size; never bytes), torrents ``bittorrent`` objects (our template, shipped in
``exchange/misp_objects``: infohash, infohash v2, name, magnet link, size) and observed
peers, when the facts carry them, ``ip-port`` objects. A cluster's edges become ``comment``
attributes saying which value linked which members and when. The event carries the TLP as
a ``tlp:…`` tag and the settings' tags; its distribution is "your organisation only".
Every uuid is derived from the subject and the value, so exporting again gives the same
event, which MISP then updates instead of duplicating. Reads ``[exchange]`` through the
caller (``producer``, ``tags``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymisp import MISPEvent, MISPObject, MISPOrganisation

from exchange.facts import Facts, Seen

TEMPLATES = Path(__file__).parent / "misp_objects"
NAMESPACE = uuid.UUID("0b6c0f55-3d1e-5b8e-a2d5-7f0c9d3e4a61")
COINS = {"btc": ("address", "BTC"), "xmr": ("address-xmr", "XMR"), "eth": ("address-crypto", "ETH")}
DISTRIBUTION_ORG_ONLY = 0
THREAT_HIGH, THREAT_MEDIUM = 1, 2
ANALYSIS_INITIAL = 0


def event_uuid(facts: Facts) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{facts.subject.kind}:{facts.subject.key}"))


def build_event(
    facts: Facts, *, tlp: str, producer: str, tags: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
) -> MISPEvent:
    """The MISP event of ``facts``, marked ``tlp:<tlp>`` and tagged with ``tags``."""
    now = now or datetime.now(UTC)
    event = MISPEvent()
    event.uuid = event_uuid(facts)
    event.info = facts.subject.label
    event.date = (facts.seen.last or now).date()
    event.distribution = DISTRIBUTION_ORG_ONLY
    event.threat_level_id = THREAT_HIGH if facts.subject.kind == "alert" else THREAT_MEDIUM
    event.analysis = ANALYSIS_INITIAL
    org = MISPOrganisation()
    org.name = producer
    org.uuid = str(uuid.uuid5(NAMESPACE, f"organisation:{producer}"))
    event.Orgc = org
    event.add_tag(f"tlp:{tlp}")
    for tag in tags:
        event.add_tag(tag)
    build = _Builder(event)
    for onion in sorted(facts.onions.values(), key=lambda o: o.host):
        obj = build.object("tor-hiddenservice", onion.host)
        build.attr(obj, "address", onion.host)
        if onion.title:
            build.attr(obj, "title", onion.title, to_ids=False)
        build.seen(obj, onion.seen)
    for url in sorted(facts.urls):
        build.event_attr("url", url, to_ids=False)
    for kind, (relation, symbol) in COINS.items():
        for value, seen in sorted(facts.values.get(kind, {}).items()):
            obj = build.object("coin-address", f"{kind}:{value}")
            build.attr(obj, relation, value)
            build.attr(obj, "symbol", symbol, to_ids=False)
            build.seen(obj, seen)
    for value, seen in sorted(facts.values.get("email", {}).items()):
        build.event_attr("email", value, seen=seen)
    for value, seen in sorted(facts.values.get("phone", {}).items()):
        build.event_attr("phone-number", value, seen=seen)
    for value in sorted(facts.values.get("pgp", {})):
        obj = build.object("pgp-meta", value)
        build.attr(obj, "key-id", value)
    for key, media in sorted(facts.files.items()):
        obj = build.object("file", key)
        for relation in ("md5", "sha1", "sha256"):
            if getattr(media, relation):
                build.attr(obj, relation, getattr(media, relation))
        if media.name:
            build.attr(obj, "filename", media.name, to_ids=False)
        if media.size is not None:
            build.attr(obj, "size-in-bytes", media.size, to_ids=False)
        if media.content_type:
            build.attr(obj, "mimetype", media.content_type, to_ids=False)
    for infohash, torrent in sorted(facts.torrents.items()):
        obj = build.object("bittorrent", infohash)
        build.attr(obj, "infohash", infohash)
        if torrent.infohash_v2 and torrent.infohash_v2 != infohash:
            build.attr(obj, "infohash-v2", torrent.infohash_v2)
        if torrent.name:
            build.attr(obj, "name", torrent.name, to_ids=False)
        if torrent.magnet:
            build.attr(obj, "magnet-link", torrent.magnet, to_ids=False)
        if torrent.size is not None:
            build.attr(obj, "size-in-bytes", torrent.size, to_ids=False)
        if torrent.seen.first is not None:
            build.attr(obj, "first-seen", torrent.seen.first, to_ids=False)
    for (infohash, ip, port), peer in sorted(facts.peers.items()):
        obj = build.object("ip-port", f"peer:{infohash}:{ip}:{port}")
        build.attr(obj, "ip-dst", ip, to_ids=False)
        build.attr(obj, "dst-port", port, to_ids=False)
        build.attr(obj, "protocol", "bittorrent", to_ids=False)
        build.attr(obj, "text", f"peer of {infohash}, client {peer.client or 'unknown'}, "
                   f"level L{peer.level}", to_ids=False)
        build.seen(obj, peer.seen)
    for link in facts.links:
        build.event_attr("comment", link.why, to_ids=False,
                         comment=f"cluster edge {link.type}, weight {link.weight:g}")
    return event


def event_json(event: MISPEvent) -> str:
    """The event as MISP's own export writes it: ``{"Event": {...}}``, indented."""
    body: dict[str, Any] = json.loads(event.to_json())
    return json.dumps({"Event": body}, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


class _Builder:
    """Adds objects and attributes to one event, each with a uuid derived from its value."""

    def __init__(self, event: MISPEvent):
        self.event = event
        self.ns = uuid.UUID(event.uuid)

    def _uuid(self, *parts: object) -> str:
        return str(uuid.uuid5(self.ns, "\x1f".join(str(p) for p in parts)))

    def object(self, name: str, key: str) -> MISPObject:
        custom = {"misp_objects_path_custom": TEMPLATES} if name == "bittorrent" else {}
        obj = MISPObject(name, strict=True, **custom)
        obj.uuid = self._uuid("object", name, key)
        self.event.add_object(obj)
        return obj

    def attr(self, obj: MISPObject, relation: str, value: Any, *, to_ids: bool = True) -> None:
        obj.add_attribute(relation, value=value, to_ids=to_ids,
                          uuid=self._uuid("attribute", obj.uuid, relation, value))

    def seen(self, obj: MISPObject, seen: Seen) -> None:
        if seen.first is not None:
            self.attr(obj, "first-seen", seen.first, to_ids=False)
        if seen.last is not None:
            self.attr(obj, "last-seen", seen.last, to_ids=False)

    def event_attr(
        self, kind: str, value: str, *, to_ids: bool = True, seen: Seen | None = None,
        comment: str = "",
    ) -> None:
        extra: dict[str, Any] = {}
        if seen is not None and seen.first is not None and seen.last is not None:
            extra = {"first_seen": seen.first, "last_seen": seen.last}
        self.event.add_attribute(kind, value, to_ids=to_ids, comment=comment,
                                 uuid=self._uuid("attribute", kind, value), **extra)
