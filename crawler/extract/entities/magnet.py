"""Magnet links and the BitTorrent infohashes they name.

``xt=urn:btih:`` takes 40 hex or 32 base32 characters (v1, reported as lower hex);
``xt=urn:btmh:1220`` + 64 hex is a sha2-256 multihash (v2, reported as the 64 hex). A magnet
whose every ``xt`` is malformed is not an entity. No settings.
"""

from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qsl

_MAGNET_RE = re.compile(r"magnet:\?[^\s\"'<>]+", re.IGNORECASE)
_BTIH_HEX_RE = re.compile(r"[0-9a-fA-F]{40}")
_BTIH_B32_RE = re.compile(r"[A-Za-z2-7]{32}")
_BTMH_RE = re.compile(r"1220([0-9a-fA-F]{64})")


def infohash_of_xt(xt: str) -> str | None:
    """Lower-hex infohash of one ``xt`` value, or None when it is not a valid one."""
    lowered = xt.lower()
    if lowered.startswith("urn:btih:"):
        value = xt[len("urn:btih:") :]
        if _BTIH_HEX_RE.fullmatch(value):
            return value.lower()
        if _BTIH_B32_RE.fullmatch(value):
            return base64.b32decode(value.upper()).hex()
        return None
    if lowered.startswith("urn:btmh:"):
        m = _BTMH_RE.fullmatch(xt[len("urn:btmh:") :])
        return m.group(1).lower() if m else None
    return None


def parse_magnet(uri: str) -> list[str]:
    """Infohashes named by one magnet URI (empty when none is valid)."""
    query = uri.split("?", 1)[1] if "?" in uri else ""
    hashes = (infohash_of_xt(v) for k, v in parse_qsl(query) if k.lower().startswith("xt"))
    return list(dict.fromkeys(h for h in hashes if h))


def find_magnets(text: str) -> tuple[list[str], list[str]]:
    """(magnet URIs with at least one valid infohash, their infohashes), in order, no repeats."""
    magnets: dict[str, None] = {}
    infohashes: dict[str, None] = {}
    for m in _MAGNET_RE.finditer(text):
        uri = html.unescape(m.group(0)).rstrip(".,;)")
        hashes = parse_magnet(uri)
        if hashes:
            magnets[uri] = None
            infohashes.update(dict.fromkeys(hashes))
    return list(magnets), list(infohashes)
