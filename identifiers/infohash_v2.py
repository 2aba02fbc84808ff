"""BitTorrent v2 infohashes (SHA-256 of the info dictionary): canonical 64 lower-case hex digits.

Accepted: 64 hex digits in any case, or the sha2-256 multihash magnet links carry
(``1220`` + 64 hex digits), either behind ``urn:btmh:``. No settings.
"""

from __future__ import annotations

from identifiers.base import HexIdentifier, hex_digits, hex_prefix, quoted
from identifiers.errors import InvalidIdentifier

_V2 = "ab" * 32
SHA256_MULTIHASH = "1220"


class InfohashV2Identifier(HexIdentifier):
    name = "infohash_v2"
    description = "BitTorrent v2 infohash: 64 hex digits (or its 1220 multihash)"
    digits = (64,)
    spellings = (
        (_V2.upper(), _V2),
        ("1220" + _V2, _V2),
        ("urn:btmh:1220" + _V2.upper(), _V2),
    )
    invalid = (
        (_V2[:-1], "64 hex digits"),
        ("urn:btmh:1114" + _V2, "SHA-256 multihash"),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:9].lower() == "urn:btmh:":
            value = value[9:]
            if value[:4] != SHA256_MULTIHASH:
                raise InvalidIdentifier(
                    f"infohash v2 topic is not a SHA-256 multihash (1220…): {quoted(raw)}"
                )
        if len(value) == 68 and value[:4] == SHA256_MULTIHASH:
            value = value[4:]
        return hex_digits(value, self.digits, self.name, shown=raw)

    def normalize_prefix(self, prefix: str) -> str:
        return hex_prefix(prefix, ("urn:btmh:1220",))
