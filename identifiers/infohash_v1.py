"""BitTorrent v1 infohashes (SHA-1 of the info dictionary): canonical 40 lower-case hex digits.

Accepted: 40 hex digits in any case, the 32-character base32 form magnet links may use,
either behind ``urn:btih:``. No settings.
"""

from __future__ import annotations

from identifiers.base import HexIdentifier, base32_hex, hex_digits, hex_prefix, is_hex

_V1 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
_V1_B32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"


class InfohashV1Identifier(HexIdentifier):
    name = "infohash_v1"
    description = "BitTorrent v1 infohash: 40 hex digits or 32 base32 characters"
    digits = (40,)
    spellings = (
        (_V1.upper(), _V1),
        (_V1_B32, _V1),
        (_V1_B32.lower(), _V1),
        ("urn:btih:" + _V1, _V1),
    )
    invalid = (
        (_V1[:-1], "40 hex digits"),
        ("AWZQO5U6VKAJJY4ZVY6R73UKTYMAWW1B", "base32"),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:9].lower() == "urn:btih:":
            value = value[9:]
        if len(value) == 32 and not is_hex(value):
            return base32_hex(raw, value, "infohash")
        return hex_digits(value, self.digits, self.name, shown=raw)

    def normalize_prefix(self, prefix: str) -> str:
        return hex_prefix(prefix, ("urn:btih:",))
