"""Magnet links: every infohash they name (v1 ``btih``, v2 ``btmh``), display name and trackers.

``xt=urn:btih:`` takes 40 hex or 32 base32 characters (v1); ``xt=urn:btmh:1220`` + 64 hex
is a sha2-256 multihash (v2). A hybrid torrent's link names both, and both are kept. ``xt``
topics that do not parse are dropped; a link whose every topic is bad is not a magnet
(:class:`InvalidIdentifier` says why). Canonical form: ``magnet:?`` with each infohash (v1
first, lower hex), then ``dn`` and every ``tr``, percent-encoded. ``find`` reports links as
written on the page (HTML entities decoded): the link is what the page said, the infohashes
are its identity. No settings.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from identifiers.base import Identifier, quoted, unique
from identifiers.errors import InvalidIdentifier
from identifiers.infohash_v1 import InfohashV1Identifier
from identifiers.infohash_v2 import InfohashV2Identifier

_MAGNET_RE = re.compile(r"magnet:\?[^\s\"'<>]+", re.IGNORECASE)
_V1 = InfohashV1Identifier()
_V2 = InfohashV2Identifier()


@dataclass(frozen=True, slots=True)
class ParsedMagnet:
    """What one magnet link names."""

    v1: tuple[str, ...]  # lower hex, in order
    v2: tuple[str, ...]
    name: str = ""
    trackers: tuple[str, ...] = ()

    @property
    def infohashes(self) -> tuple[str, ...]:
        return (*self.v1, *self.v2)

    @property
    def uri(self) -> str:
        parts = [f"xt=urn:btih:{h}" for h in self.v1]
        parts += [f"xt=urn:btmh:1220{h}" for h in self.v2]
        if self.name:
            parts.append("dn=" + quote(self.name, safe=""))
        parts += ["tr=" + quote(t, safe="") for t in self.trackers]
        return "magnet:?" + "&".join(parts)


def xt_infohash(xt: str) -> tuple[str, str]:
    """(version "v1"/"v2", lower hex) of one ``xt`` topic; InvalidIdentifier when it is bad."""
    low = xt[:9].lower()
    if low == "urn:btih:":
        return "v1", _V1.parse(xt)
    if low == "urn:btmh:":
        return "v2", _V2.parse(xt)
    raise InvalidIdentifier(f"magnet topic is neither urn:btih: nor urn:btmh: {quoted(xt)}")


def parse_magnet(uri: str) -> ParsedMagnet:
    """Everything one magnet URI names; InvalidIdentifier when it names no valid infohash."""
    value = uri.strip()
    if value[:8].lower() != "magnet:?":
        raise InvalidIdentifier(f"a magnet link starts with magnet:?: {quoted(uri)}")
    v1: list[str] = []
    v2: list[str] = []
    name = ""
    trackers: list[str] = []
    first_problem = ""
    for key, val in parse_qsl(value[8:], keep_blank_values=True):
        key = key.lower()
        if key == "xt" or key.startswith("xt."):
            try:
                version, digest = xt_infohash(val)
            except InvalidIdentifier as exc:
                first_problem = first_problem or str(exc)
                continue
            (v1 if version == "v1" else v2).append(digest)
        elif key == "dn" and not name:
            name = val
        elif key == "tr" or key.startswith("tr."):
            trackers.append(val)
    if not v1 and not v2:
        why = f" ({first_problem})" if first_problem else ""
        raise InvalidIdentifier(f"magnet link names no infohash{why}: {quoted(uri)}")
    return ParsedMagnet(tuple(unique(v1)), tuple(unique(v2)), name, tuple(unique(trackers)))


def magnet_links(text: str) -> list[str]:
    """Magnet links written in ``text`` (HTML entities decoded, trailing punctuation cut)."""
    return [html.unescape(m.group(0)).rstrip(".,;)") for m in _MAGNET_RE.finditer(text)]


_HEX40 = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
_HYBRID = f"magnet:?xt=urn:btih:{_HEX40}&xt=urn:btmh:1220{'ab' * 32}&dn=archive"


class MagnetIdentifier(Identifier):
    name = "magnet"
    description = "Magnet link naming v1 (btih) and/or v2 (btmh) infohashes"
    spellings = (
        (_HYBRID, _HYBRID),
        (
            f"magnet:?dn=archive&xt=urn:btmh:1220{'AB' * 32}"
            "&XT=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK",
            _HYBRID,
        ),
        (
            f"MAGNET:?xt=urn:btih:{_HEX40.upper()}&tr=http%3A%2F%2F127.0.0.1%3A6970%2Fa",
            f"magnet:?xt=urn:btih:{_HEX40}&tr=http%3A%2F%2F127.0.0.1%3A6970%2Fa",
        ),
    )
    invalid = (
        ("magnet:?dn=nothing", "names no infohash"),
        (f"magnet:?xt=urn:btih:{_HEX40[:39]}", "40 hex digits"),
        ("magnet:?xt=urn:btmh:1114" + "ab" * 32, "SHA-256 multihash"),
        ("http://example.onion/", "magnet:?"),
    )
    in_text = (
        (f"get {_HYBRID.replace('&', '&amp;')}. and magnet:?xt=urn:btih:{_HEX40[:39]}",
         (_HYBRID,)),
    )

    def parse(self, raw: str) -> str:
        return parse_magnet(raw).uri

    def parsed(self, raw: str) -> ParsedMagnet:
        return parse_magnet(raw)

    def find(self, text: str) -> list[str]:
        found = []
        for link in magnet_links(text):
            try:
                parse_magnet(link)
            except InvalidIdentifier:
                continue
            found.append(link)
        return unique(found)
