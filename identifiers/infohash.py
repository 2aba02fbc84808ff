"""A BitTorrent infohash of either version: 40 hex (v1), 64 hex (v2), base32 v1, or a magnet.

For fields and lists that hold both versions (a page's infohashes, a hash list's
``infohash`` entries). A magnet link stands for its first infohash here; a hybrid link
names two, which :func:`infohashes_of` returns both of. No settings.
"""

from __future__ import annotations

from identifiers.base import Identifier, hex_digits, hex_prefix, is_hex
from identifiers.infohash_v1 import InfohashV1Identifier
from identifiers.infohash_v2 import InfohashV2Identifier
from identifiers.magnet import parse_magnet

_V1 = InfohashV1Identifier()
_V2 = InfohashV2Identifier()
_HEX40 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"


def infohashes_of(raw: str) -> tuple[str, ...]:
    """Every infohash ``raw`` names: one, or each of a magnet link's (v1 first)."""
    value = raw.strip()
    if value[:7].lower() == "magnet:":
        return parse_magnet(value).infohashes
    return (InfohashIdentifier().parse(value),)


class InfohashIdentifier(Identifier):
    name = "infohash"
    description = "BitTorrent infohash: v1 (40 hex / 32 base32), v2 (64 hex), or a magnet link"
    spellings = (
        (_HEX40.upper(), _HEX40),
        ("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK", _HEX40),
        (f"magnet:?xt=urn:btih:{_HEX40}&dn=x", _HEX40),
        ("magnet:?xt=urn:btmh:1220" + "ab" * 32, "ab" * 32),
        ("AB" * 32, "ab" * 32),
        ("urn:btmh:1220" + "ab" * 32, "ab" * 32),
    )
    invalid = (
        (_HEX40[:-1], "40 or 64 hex digits"),
        ("magnet:?dn=nothing", "names no infohash"),
        ("urn:btih:xyz", "40 hex digits"),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        low = value[:9].lower()
        if low.startswith("magnet:"):
            return parse_magnet(value).infohashes[0]
        if low == "urn:btmh:" or (len(value) == 68 and value[:4] == "1220"):
            return _V2.parse(value)
        if low == "urn:btih:" or (len(value) == 32 and not is_hex(value)):
            return _V1.parse(value)
        return hex_digits(value, (40, 64), self.name, shown=raw)

    def normalize_prefix(self, prefix: str) -> str:
        return hex_prefix(prefix, ("urn:btih:", "urn:btmh:1220"))
