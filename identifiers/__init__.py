"""Identifier values, one type per module: find in text, validate, canonical and display forms.

Onion v3 addresses, Bitcoin, Monero and Ethereum addresses, e-mail addresses, OpenPGP
fingerprints, phone numbers, magnet links, BitTorrent infohashes (v1, v2, either) and the
media digests md5, sha1, sha256, PDQ and vPDQ (a video's frame hashes). The crawler's
extraction, hash-list import, matching, alert emails and the query validation all use these
types, so a value has one spelling in the index, in lists, in alerts and in queries. Imports
only ``errors`` and third-party libraries. No settings.
"""

from __future__ import annotations

from identifiers.base import Identifier
from identifiers.errors import (
    DuplicateIdentifier,
    IdentifierError,
    InvalidIdentifier,
    UnknownIdentifier,
)
from identifiers.registry import (
    IDENTIFIERS,
    IdentifierRegistry,
    display,
    get,
    normalize_for_field,
    normalize_prefix_for_field,
)

__all__ = [
    "IDENTIFIERS",
    "DuplicateIdentifier",
    "Identifier",
    "IdentifierError",
    "IdentifierRegistry",
    "InvalidIdentifier",
    "UnknownIdentifier",
    "display",
    "get",
    "normalize_for_field",
    "normalize_prefix_for_field",
]
