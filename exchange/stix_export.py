"""A STIX 2.1 bundle of :class:`Facts`, built with ``stix2``.

Every value is an observable (``domain-name`` for onions, ``url``, ``email-addr``, ``file``
with its hashes, and :mod:`exchange.stix_types` for wallets, phones, PGP keys and
torrents) and, except page URLs, an ``indicator`` whose pattern names it, related to its
observable. Each onion is also an ``infrastructure`` that ``consists-of`` its domain name
and that its indicator ``indicates``. Observed peers (only when the facts carry them) are
``observed-data`` over an address and a ``network-traffic`` to its port, related to their
torrent. A cluster's edges are ``related-to`` relationships between its members, the
description saying which value linked them and when. A ``grouping`` names the subject and
refers to everything. Every object but the marking carries the TLP marking and, where STIX
allows, the producer's ``identity`` as creator; ids are derived from the subject and the
value, so exporting again gives the same ids. TLP "clear" is STIX's TLP white.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import stix2

from exchange.facts import Facts, Seen
from exchange.stix_types import PgpKey, PhoneNumber, Torrent, Wallet, pattern_of

TLP_MARKINGS = {"clear": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER,
                "red": stix2.TLP_RED}
NAMESPACE = uuid.UUID("5f3b2a71-9c4e-5d0a-8e6b-2d1c0f9a7b34")


def build_bundle(
    facts: Facts, *, tlp: str, producer: str, tags: list[str] | tuple[str, ...] = (),
    now: datetime | None = None,
) -> stix2.Bundle:
    """The STIX bundle of ``facts``, every object marked ``tlp``."""
    return _Builder(facts, tlp, producer, now or datetime.now(UTC)).bundle(list(tags))


def bundle_json(bundle: stix2.Bundle) -> str:
    return str(bundle.serialize(pretty=True)) + "\n"


class _Builder:
    def __init__(self, facts: Facts, tlp: str, producer: str, now: datetime):
        self.facts = facts
        self.now = now
        self.marking = TLP_MARKINGS[tlp]
        self.ns = uuid.uuid5(NAMESPACE, f"{facts.subject.kind}:{facts.subject.key}")
        self.identity = stix2.Identity(
            id=f"identity--{uuid.uuid5(NAMESPACE, 'identity:' + producer)}", name=producer,
            identity_class="organization", created=now, modified=now,
            object_marking_refs=[self.marking])
        self.objects: list[Any] = []
        self.by_key: dict[str, str] = {}  # member key (onion, infohash, url) -> object id

    def _id(self, kind: str, *parts: object) -> str:
        return f"{kind}--{uuid.uuid5(self.ns, chr(31).join(str(p) for p in parts))}"

    def _sdo(self, cls: Any, kind: str, *key: object, **props: Any) -> Any:
        obj = cls(id=self._id(kind, *key), created=self.now, modified=self.now,
                  created_by_ref=self.identity.id, object_marking_refs=[self.marking], **props)
        self.objects.append(obj)
        return obj

    def _sco(self, cls: Any, **props: Any) -> Any:
        obj = cls(object_marking_refs=[self.marking], **props)  # ids from their own values
        self.objects.append(obj)
        return obj

    def _relate(self, source: Any, rel: str, target: Any, description: str = "") -> None:
        extra = {"description": description} if description else {}
        self._sdo(stix2.Relationship, "relationship", source.id, rel, target.id,
                  source_ref=source.id, relationship_type=rel, target_ref=target.id,
                  allow_custom=True, **extra)  # our own observable types are custom

    def _indicator(self, kind: str, value: str, seen: Seen, observable: Any) -> Any:
        pattern = pattern_of(kind, value)
        indicator = self._sdo(
            stix2.Indicator, "indicator", pattern, name=f"{kind} {value}", pattern=pattern,
            pattern_type="stix", valid_from=seen.first or self.now)
        self._relate(indicator, "related-to", observable)
        return indicator

    def bundle(self, tags: list[str]) -> stix2.Bundle:
        facts = self.facts
        for onion in sorted(facts.onions.values(), key=lambda o: o.host):
            domain = self._sco(stix2.DomainName, value=onion.host)
            times = {k: v for k, v in (("first_seen", onion.seen.first),
                                       ("last_seen", onion.seen.last)) if v is not None}
            infra = self._sdo(stix2.Infrastructure, "infrastructure", onion.host,
                              name=onion.host, infrastructure_types=["unknown"],
                              description=onion.title or "onion service", **times)
            self.by_key[onion.host] = infra.id
            self._relate(infra, "consists-of", domain)
            self._relate(self._indicator("onion", onion.host, onion.seen, domain),
                         "indicates", infra)
        for url in sorted(facts.urls):
            self.by_key.setdefault(url, self._sco(stix2.URL, value=url).id)
        for kind in ("btc", "xmr", "eth"):
            for value, seen in sorted(facts.values.get(kind, {}).items()):
                self._indicator(kind, value, seen, self._sco(Wallet, currency=kind,
                                                             address=value))
        for value, seen in sorted(facts.values.get("email", {}).items()):
            self._indicator("email", value, seen, self._sco(stix2.EmailAddress, value=value))
        for value, seen in sorted(facts.values.get("phone", {}).items()):
            self._indicator("phone", value, seen, self._sco(PhoneNumber, number=value))
        for value, seen in sorted(facts.values.get("pgp", {}).items()):
            self._indicator("pgp", value, seen, self._sco(PgpKey, fingerprint=value))
        for _, media in sorted(facts.files.items()):
            hashes = {name: getattr(media, attr) for attr, name in
                      (("md5", "MD5"), ("sha1", "SHA-1"), ("sha256", "SHA-256"))
                      if getattr(media, attr)}
            extra = {"name": media.name} if media.name else {}
            if media.size is not None:
                extra["size"] = media.size
            observable = self._sco(stix2.File, hashes=hashes, **extra)
            for attr in ("md5", "sha1", "sha256"):
                if getattr(media, attr):
                    self._indicator(attr, getattr(media, attr), media.seen, observable)
        torrents: dict[str, Any] = {}
        for infohash, info in sorted(facts.torrents.items()):
            extra = {k: v for k, v in (("infohash_v2", info.infohash_v2), ("name", info.name))
                     if v}
            if info.size is not None:
                extra["size"] = info.size
            observable = torrents[infohash] = self._sco(Torrent, infohash=infohash, **extra)
            self.by_key[infohash] = observable.id
            self._indicator("infohash", infohash, info.seen, observable)
        for (infohash, ip, port), peer in sorted(facts.peers.items()):
            address_cls = stix2.IPv6Address if ":" in ip else stix2.IPv4Address
            address = self._sco(address_cls, value=ip)
            traffic = self._sco(stix2.NetworkTraffic, dst_ref=address.id, dst_port=port,
                                protocols=["tcp"])
            first = peer.seen.first or self.now
            observed = self._sdo(
                stix2.ObservedData, "observed-data", infohash, ip, port,
                first_observed=first, last_observed=peer.seen.last or first, number_observed=1,
                object_refs=[address.id, traffic.id])
            self._relate(observed, "related-to", torrents[infohash],
                         f"peer of {infohash}, client {peer.client or 'unknown'}, "
                         f"level L{peer.level}")
        for link in facts.links:
            a, b = self.by_key.get(link.a), self.by_key.get(link.b)
            if a and b:
                self._sdo(stix2.Relationship, "relationship", "edge", link.a, link.b, link.type,
                          link.value, source_ref=a, relationship_type="related-to",
                          target_ref=b, description=link.why, allow_custom=True)
        refs = [o.id for o in self.objects]
        grouping = self._sdo(
            stix2.Grouping, "grouping", "subject", name=facts.subject.label,
            context="suspicious-activity", object_refs=refs or [self.identity.id],
            allow_custom=True,
            **({"labels": tags} if tags else {}))
        return stix2.Bundle(objects=[self.marking, self.identity, grouping, *self.objects[:-1]],
                            allow_custom=True)
