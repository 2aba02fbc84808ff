"""Tor v3 onion addresses: canonical ``<56 base32 chars>.onion`` in lower case.

A v3 address is base32(pubkey[32] || checksum[2] || version[1]) with
checksum = sha3_256(".onion checksum" || pubkey || version)[:2] and version 3 (Tor
rend-spec-v3 "Encoding onion addresses"). ``parse`` takes the address in any case, with or
without scheme, subdomain, port or path (``http://www.<addr>.onion:80/x``), or the bare
56-character label. No settings.
"""

from __future__ import annotations

import hashlib
import re

from identifiers.base import Identifier, quoted, unique
from identifiers.encodings import b32decode, b32encode
from identifiers.errors import InvalidIdentifier

ONION_VERSION = 3
_CHECKSUM_PREFIX = b".onion checksum"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz234567")
# A label of 56 base32 characters before ".onion", not glued to a longer base32 run;
# subdomains (www.<addr>.onion) are accepted and dropped.
_ONION_RE = re.compile(r"(?<![a-z2-7])([a-z2-7]{56})\.onion(?![a-z0-9-])", re.IGNORECASE)
_ONION_HINT_RE = re.compile(r"\.onion", re.IGNORECASE)
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

_PUBKEY = bytes(range(32))


def onion_checksum(pubkey: bytes, version: int = ONION_VERSION) -> bytes:
    """The two checksum bytes of a v3 address for this ed25519 public key."""
    return hashlib.sha3_256(_CHECKSUM_PREFIX + pubkey + bytes([version])).digest()[:2]


def onion_address(pubkey: bytes) -> str:
    """The v3 hostname (``<56 chars>.onion``) of a 32-byte public key."""
    if len(pubkey) != 32:
        raise ValueError(f"an ed25519 public key has 32 bytes, not {len(pubkey)}")
    raw = pubkey + onion_checksum(pubkey) + bytes([ONION_VERSION])
    return b32encode(raw).lower() + ".onion"


def _host(raw: str) -> str:
    """The host part of an address, URL or bare label, lower case, trailing dot dropped."""
    value = _SCHEME_RE.sub("", raw.strip().lower(), count=1)
    for stop in "/?#":
        value = value.split(stop, 1)[0]
    value = value.rsplit("@", 1)[-1]  # user:pass@host
    value = value.split(":", 1)[0]  # host:port
    return value.rstrip(".")


def _label_problem(label: str) -> str | None:
    """What is wrong with a 56-character label, or None when it is a valid v3 address."""
    if len(label) != 56:
        return f"a v3 onion address has 56 characters before .onion, not {len(label)}"
    if not set(label) <= _LABEL_CHARS:
        return "a v3 onion address is base32 (a-z, 2-7)"
    try:
        raw = b32decode(label)
    except ValueError:
        return "a v3 onion address is base32 (a-z, 2-7)"
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34]
    if version != ONION_VERSION:
        return f"onion address version is {version}, not 3"
    if checksum != onion_checksum(pubkey, version):
        return "onion address checksum does not match"
    return None


def is_valid_onion(host: str) -> bool:
    """True for a valid v3 host name: ``<addr>.onion`` or a subdomain of one, any case."""
    host = host.lower().rstrip(".")
    if not host.endswith(".onion"):
        return False
    return _label_problem(host[: -len(".onion")].rsplit(".", 1)[-1]) is None


class OnionIdentifier(Identifier):
    name = "onion"
    description = "Tor v3 onion address (56 base32 characters + .onion), checksum verified"

    _valid = onion_address(_PUBKEY)
    spellings = (
        (_valid, _valid),
        (_valid.upper(), _valid),
        ("http://" + _valid + "/market/item?id=3#top", _valid),
        ("https://www." + _valid.upper() + ":8080/", _valid),
        (_valid[:-6], _valid),
        (_valid + ".", _valid),
    )
    invalid = (
        (_valid[:5] + ("b" if _valid[5] != "b" else "c") + _valid[6:], "checksum"),
        (_valid[:-7] + ".onion", "56 characters"),
        ("expyuzz4wqqyqhjn.onion", "56 characters"),
        ("example.com", "56 characters"),
        (_valid.replace(_valid[10], "1", 1), "base32"),
    )
    in_text = (
        (f"see http://{_valid.upper()}/page and x{_valid} or www.{_valid}", (_valid,)),
        (f"mirror {_valid[:5] + ('b' if _valid[5] != 'b' else 'c') + _valid[6:]} down", ()),
    )
    del _valid

    def parse(self, raw: str) -> str:
        host = _host(raw)
        label = host.removesuffix(".onion").rsplit(".", 1)[-1] if host.endswith(".onion") else host
        problem = _label_problem(label)
        if problem:
            raise InvalidIdentifier(f"{problem}: {quoted(raw)}")
        return label + ".onion"

    def normalize_prefix(self, prefix: str) -> str:
        return _SCHEME_RE.sub("", prefix.strip(), count=1).lower()

    def is_valid(self, raw: str) -> bool:
        host = _host(raw)
        label = host.removesuffix(".onion").rsplit(".", 1)[-1] if host.endswith(".onion") else host
        return _label_problem(label) is None

    def find(self, text: str) -> list[str]:
        if not _ONION_HINT_RE.search(text):  # far cheaper than the pattern's scan
            return []
        found = []
        for m in _ONION_RE.finditer(text):
            label = m.group(1).lower()
            if _label_problem(label) is None:
                found.append(label + ".onion")
        return unique(found)
