"""The entities of a page: every identifier type that is looked for in text, by page key.

``find_entities`` runs the finders of :mod:`identifiers` and returns the keys of the
``page`` document's entities, each list canonical, in first occurrence order. Magnet links
are kept as written; ``infohashes`` holds every infohash they name (both of a hybrid link).
Finding, validating and spelling each value is the identifier type's job; this module only
maps the types to the page's keys. No settings: the phone region hints come from the
caller (the page language).
"""

from __future__ import annotations

from collections.abc import Sequence

from identifiers import IDENTIFIERS
from identifiers.magnet import parse_magnet
from identifiers.phone import PhoneIdentifier

ENTITY_KEYS = (
    "onions", "emails", "btc", "xmr", "eth", "pgp", "phones", "magnets", "infohashes",
)
# Page key -> identifier type (phones and infohashes are found differently, below).
_FINDERS = {
    key: IDENTIFIERS.get(name)
    for key, name in (
        ("onions", "onion"), ("emails", "email"), ("btc", "btc"), ("xmr", "xmr"),
        ("eth", "eth"), ("pgp", "pgp"),
    )
}
_PHONE = PhoneIdentifier()
_MAGNET = IDENTIFIERS.get("magnet")


def find_entities(text: str, regions: Sequence[str] = ()) -> dict[str, list[str]]:
    """Every valid entity in ``text``, by page key; each list in first occurrence order."""
    found = {key: finder.find(text) for key, finder in _FINDERS.items()}
    found["phones"] = _PHONE.find(text, regions)
    magnets = _MAGNET.find(text)
    found["magnets"] = magnets
    hashes = (h for link in magnets for h in parse_magnet(link).infohashes)
    found["infohashes"] = list(dict.fromkeys(hashes))
    return {key: found[key] for key in ENTITY_KEYS}
