"""Entity finders, one entity type per module: pure functions from text to validated values.

``find_entities`` runs them all and returns the keys of the ``page`` document's entities.
No settings: the phone region hints come from the caller (the page language).
"""

from __future__ import annotations

from collections.abc import Sequence

from crawler.extract.entities.bitcoin import find_btc
from crawler.extract.entities.email import find_emails
from crawler.extract.entities.ethereum import find_eth
from crawler.extract.entities.magnet import find_magnets
from crawler.extract.entities.monero import find_xmr
from crawler.extract.entities.onion import find_onions
from crawler.extract.entities.pgp import find_pgp
from crawler.extract.entities.phone import find_phones

ENTITY_KEYS = (
    "onions", "emails", "btc", "xmr", "eth", "pgp", "phones", "magnets", "infohashes",
)


def find_entities(text: str, regions: Sequence[str] = ()) -> dict[str, list[str]]:
    """Every validated entity in ``text``, by type; each list in first occurrence order."""
    magnets, infohashes = find_magnets(text)
    return {
        "onions": find_onions(text),
        "emails": find_emails(text),
        "btc": find_btc(text),
        "xmr": find_xmr(text),
        "eth": find_eth(text),
        "pgp": find_pgp(text),
        "phones": find_phones(text, regions),
        "magnets": magnets,
        "infohashes": infohashes,
    }
