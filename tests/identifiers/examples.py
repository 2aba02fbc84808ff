"""The identifier examples as test cases, shared by the suites of this package.

Every registered type ships ``spellings`` (raw, canonical), ``invalid`` (raw, what the
error says) and ``in_text`` (text, canonicals found); these generate the parametrised cases.
"""

from __future__ import annotations

from identifiers import IDENTIFIERS

SPELLINGS = [(t.name, raw, canon) for t in IDENTIFIERS for raw, canon in t.spellings]
INVALID = [(t.name, raw, why) for t in IDENTIFIERS for raw, why in t.invalid]
IN_TEXT = [(t.name, text, found) for t in IDENTIFIERS for text, found in t.in_text]
# Page entity key of each identifier type that is looked for in page text.
ENTITY_KEY = {
    "onion": "onions", "email": "emails", "btc": "btc", "xmr": "xmr", "eth": "eth",
    "pgp": "pgp", "phone": "phones", "magnet": "magnets",
}
# Hash-list types (index.hashsets) are identifier types of the same name.
LIST_TYPES = ("md5", "sha1", "sha256", "infohash", "pdq", "btc", "xmr", "eth", "email", "pgp")


def case_id(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "…"
