"""The linking values a page or a service carries: pure functions over ``_source`` dicts.

A :class:`Sighting` is one value (``type``, ``value``) carried by one member (a service,
keyed by its onion; on an ad board a page, keyed by its URL) at one time, from one record
(a document id). Types are the pivot names
of :data:`documents.pivots.PIVOT_NAMES` and ``wallet`` (btc, xmr, eth), ``pgp`` (key
fingerprints), ``email``, ``phone`` and ``infohash`` (a torrent the page links to; the
torrent itself is then a member, keyed by its infohash) from the page entities.
:func:`strength` says whether one shared value of a type is a reason to link (``strong``)
or a hint only (``weak``). No settings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from documents.pivots import PIVOT_NAMES

ENTITY_TYPES: dict[str, str] = {
    "btc": "wallet",
    "xmr": "wallet",
    "eth": "wallet",
    "pgp": "pgp",
    "emails": "email",
    "phones": "phone",
}
# Types found by comparing records rather than by equal values.
NEAR_TYPES = ("text_near", "pdq_near")
TIMELINE_TYPES = ("email", "phone")


@dataclass(frozen=True)
class Sighting:
    type: str
    value: str
    member: str
    kind: Literal["service", "torrent", "page"]
    at_ms: int
    record: str
    lang: str = ""
    url: str = ""


def strength(type_: str) -> Literal["strong", "weak"]:
    pivot = PIVOT_NAMES.get(type_)
    return pivot.strength if pivot is not None else "strong"


def epoch_ms(value: Any) -> int:
    """Epoch milliseconds of an ISO 8601 time (as stored in ``_source``) or a datetime."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return int(when.timestamp() * 1000)


def page_member(source: Mapping[str, Any], ad_boards: Collection[str]
                ) -> tuple[str, Literal["service", "page"]]:
    """The member a page's values are sighted on: its service, or on an ad board the page
    itself (keyed by its URL); ("", "service") for a page without a host."""
    host = str(source.get("host") or "")
    if host and host in ad_boards and source.get("url"):
        return str(source["url"]), "page"
    return host, "service"


def page_sightings(source: Mapping[str, Any], record: str,
                   ad_boards: Collection[str] = ()) -> list[Sighting]:
    """The values of one ``page`` source, each sighted on the page's member
    (:func:`page_member`). A page of an ad board carries its own values only: the board's
    pivots (favicon, trackers, header and DOM hashes) are the board's, not the poster's."""
    member, kind = page_member(source, ad_boards)
    if not member or not source.get("fetched_at"):
        return []
    at = epoch_ms(source["fetched_at"])
    lang, url = str(source.get("lang") or ""), str(source.get("url") or "")
    found: dict[tuple[str, str], Sighting] = {}
    entities = source.get("entities") or {}
    for field, type_ in ENTITY_TYPES.items():
        for value in entities.get(field) or ():
            found[(type_, value)] = Sighting(type_, str(value), member, kind, at, record,
                                             lang, url)
    for type_, value in _pivot_values(source) if kind == "service" else ():
        found[(type_, value)] = Sighting(type_, value, member, kind, at, record, lang, url)
    sightings = list(found.values())
    # A torrent the page links to is a member of its own, carrying its infohash: it joins
    # the services that post it, and two services posting it are linked through it.
    for infohash in dict.fromkeys(entities.get("infohashes") or ()):
        sightings.append(Sighting("infohash", str(infohash), member, kind, at, record,
                                  lang, url))
        sightings.append(Sighting("infohash", str(infohash), str(infohash), "torrent", at,
                                  record, lang, url))
    return sightings


def service_sightings(source: Mapping[str, Any], record: str) -> list[Sighting]:
    """The pivot values of one ``service`` source (its TLS certificate among them)."""
    host = str(source.get("host") or "")
    if not host or not source.get("last_seen"):
        return []
    at = epoch_ms(source["last_seen"])
    found = {(t, v) for t, v in _pivot_values(source)}
    tls = (source.get("tls") or {}).get("sha256")
    if tls:
        found.add(("tls", str(tls)))
    return [Sighting(t, v, host, "service", at, record) for t, v in sorted(found)]


def _pivot_values(source: Mapping[str, Any]) -> list[tuple[str, str]]:
    pivots = source.get("pivots") or {}
    return [(name, str(value)) for name in PIVOT_NAMES for value in pivots.get(name) or ()]
