"""STIX 2.1 cyber-observable types for values STIX has no type of, and the patterns of each value.

Wallets (``x-heroes-wallet``: currency and address), phone numbers (``x-heroes-phone``),
PGP keys (``x-heroes-pgp-key``: the fingerprint) and torrents (``x-heroes-torrent``:
infohashes, name). Registered with ``stix2`` on import, so that ``stix2.parse`` reads them
back like its own types. :data:`PATTERN_PATHS` is the one table of which object path holds
which of our value types, used to write indicator patterns and to read them back.
"""

from __future__ import annotations

from stix2 import CustomObservable
from stix2.properties import IntegerProperty, StringProperty

WALLET, PHONE, PGP_KEY, TORRENT = "x-heroes-wallet", "x-heroes-phone", "x-heroes-pgp-key", \
    "x-heroes-torrent"


@CustomObservable(WALLET, [
    ("currency", StringProperty(required=True)),
    ("address", StringProperty(required=True)),
], id_contrib_props=["currency", "address"])
class Wallet:
    """A cryptocurrency address; ``currency`` is btc, xmr or eth."""


@CustomObservable(PHONE, [("number", StringProperty(required=True))],
                  id_contrib_props=["number"])
class PhoneNumber:
    """A phone number, E.164."""


@CustomObservable(PGP_KEY, [("fingerprint", StringProperty(required=True))],
                  id_contrib_props=["fingerprint"])
class PgpKey:
    """An OpenPGP key by its fingerprint (upper-case hex)."""


@CustomObservable(TORRENT, [
    ("infohash", StringProperty(required=True)),
    ("infohash_v2", StringProperty()),
    ("name", StringProperty()),
    ("size", IntegerProperty(min=0)),
], id_contrib_props=["infohash"])
class Torrent:
    """A BitTorrent torrent by its infohash (v1, or v2 for a v2-only torrent)."""


# (object type, property path) -> our value type; a pattern comparison on that path with
# '=' names one value of the type. File hash names in any spelling STIX producers use.
PATTERN_PATHS: dict[tuple[str, tuple[str, ...]], str] = {
    ("file", ("hashes", "MD5")): "md5",
    ("file", ("hashes", "SHA-1")): "sha1",
    ("file", ("hashes", "SHA1")): "sha1",
    ("file", ("hashes", "SHA-256")): "sha256",
    ("file", ("hashes", "SHA256")): "sha256",
    ("email-addr", ("value",)): "email",
    ("domain-name", ("value",)): "onion",
    ("url", ("value",)): "url",
    ("ipv4-addr", ("value",)): "ip",
    ("ipv6-addr", ("value",)): "ip",
    (WALLET, ("address",)): "wallet",
    (PHONE, ("number",)): "phone",
    (PGP_KEY, ("fingerprint",)): "pgp",
    (TORRENT, ("infohash",)): "infohash",
    (TORRENT, ("infohash_v2",)): "infohash",
}
HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


def quoted(value: str) -> str:
    """A STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unquoted(literal: str) -> str:
    """The value of a STIX pattern string literal (as ``stix2patterns`` returns it)."""
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        body = literal[1:-1]
        out, escaped = [], False
        for char in body:
            if escaped:
                out.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            else:
                out.append(char)
        return "".join(out)
    return literal


def pattern_of(kind: str, value: str) -> str:
    """The indicator pattern of one value of type ``kind``."""
    if kind in HASH_NAMES:
        return f"[file:hashes.'{HASH_NAMES[kind]}' = {quoted(value)}]"
    if kind == "email":
        return f"[email-addr:value = {quoted(value)}]"
    if kind == "onion":
        return f"[domain-name:value = {quoted(value)}]"
    if kind in ("btc", "xmr", "eth"):
        return (f"[{WALLET}:currency = {quoted(kind)} AND "
                f"{WALLET}:address = {quoted(value)}]")
    if kind == "phone":
        return f"[{PHONE}:number = {quoted(value)}]"
    if kind == "pgp":
        return f"[{PGP_KEY}:fingerprint = {quoted(value)}]"
    if kind == "infohash":
        return f"[{TORRENT}:infohash = {quoted(value)}]"
    raise ValueError(f"no pattern for values of type {kind!r}")
