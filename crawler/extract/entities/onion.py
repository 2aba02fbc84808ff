"""Tor v3 onion addresses: found in text, kept only when their checksum and version are right.

A v3 address is base32(pubkey[32] || checksum[2] || version[1]) with
checksum = sha3_256(".onion checksum" || pubkey || version)[:2] and version 3
(Tor rend-spec-v3 "Encoding onion addresses"). Anything else of the same shape is
not an entity. No settings.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

ONION_VERSION = 3
_CHECKSUM_PREFIX = b".onion checksum"

# A label of 56 base32 characters before ".onion", not glued to a longer base32 run;
# subdomains (www.<addr>.onion) are accepted and dropped.
_ONION_RE = re.compile(r"(?<![a-z2-7])([a-z2-7]{56})\.onion(?![a-z0-9-])", re.IGNORECASE)


def onion_checksum(pubkey: bytes, version: int = ONION_VERSION) -> bytes:
    """The two checksum bytes of a v3 address for this ed25519 public key."""
    return hashlib.sha3_256(_CHECKSUM_PREFIX + pubkey + bytes([version])).digest()[:2]


def onion_address(pubkey: bytes) -> str:
    """The v3 hostname (``<56 chars>.onion``) of a 32-byte public key."""
    if len(pubkey) != 32:
        raise ValueError(f"an ed25519 public key has 32 bytes, not {len(pubkey)}")
    raw = pubkey + onion_checksum(pubkey) + bytes([ONION_VERSION])
    return base64.b32encode(raw).decode("ascii").lower() + ".onion"


def is_valid_onion(host: str) -> bool:
    """True for a valid v3 hostname (``<addr>.onion`` or a subdomain of one, any case)."""
    host = host.lower().rstrip(".")
    if not host.endswith(".onion"):
        return False
    label = host[: -len(".onion")].rsplit(".", 1)[-1]
    if len(label) != 56:
        return False
    try:
        raw = base64.b32decode(label.upper())
    except ValueError:
        return False
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34]
    return version == ONION_VERSION and checksum == onion_checksum(pubkey, version)


def normalize_onion(host: str) -> str | None:
    """``<addr>.onion`` in lower case for a valid v3 host (subdomains dropped), else None."""
    if not is_valid_onion(host):
        return None
    label = host.lower().rstrip(".")[: -len(".onion")].rsplit(".", 1)[-1]
    return label + ".onion"


def find_onions(text: str) -> list[str]:
    """Valid v3 onion hostnames in ``text``, lower case, first occurrence order, no repeats."""
    return _unique(normalize_onion(m.group(1) + ".onion") for m in _ONION_RE.finditer(text))


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))
