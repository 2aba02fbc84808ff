"""The flagged-value types: how each is recognised, validated and normalised.

Each type names itself once (``name``) and ships examples of good and bad values that
the tests turn into cases. ``normalize`` returns the canonical form used for storage and
matching, or raises :class:`BadValue` saying what is wrong with the value (quoted).
"""

from __future__ import annotations

import base64
import re
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import base58

from index.hashsets.errors import BadValue

_HEX = re.compile(r"[0-9a-fA-F]+")


def _hex(raw: str, digits: tuple[int, ...], name: str, shown: str | None = None) -> str:
    value = raw.strip()
    if value[:2] in ("0x", "0X"):
        value = value[2:]
    if len(value) not in digits or not _HEX.fullmatch(value):
        want = " or ".join(str(d) for d in digits)
        raise BadValue(
            f"{name} must be {want} hex digits, got {len(value)} characters: {shown or raw!r:.90}"
        )
    return value.lower()


class HashType:
    """One kind of flagged value."""

    name: ClassVar[str]
    description: ClassVar[str]
    # (raw, normalised) pairs and bad raw values; they generate the tests of the type.
    good: ClassVar[tuple[tuple[str, str], ...]] = ()
    bad: ClassVar[tuple[str, ...]] = ()

    def normalize(self, raw: str) -> str:
        raise NotImplementedError


class Md5HashType(HashType):
    name = "md5"
    description = "MD5 of a file, 32 hex digits"
    good = (("D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),)
    bad = ("d41d8cd98f00b204e9800998ecf8427", "zz1d8cd98f00b204e9800998ecf8427e")

    def normalize(self, raw: str) -> str:
        return _hex(raw, (32,), self.name)


class Sha1HashType(HashType):
    name = "sha1"
    description = "SHA-1 of a file, 40 hex digits (or 32 base32 characters)"
    good = (
        ("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    )
    bad = ("da39a3ee5e6b4b0d3255bfef95601890afd8070", "")

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        if len(value) == 32 and not _HEX.fullmatch(value):
            return _base32_hex(value, self.name)
        return _hex(value, (40,), self.name)


class Sha256HashType(HashType):
    name = "sha256"
    description = "SHA-256 of a file, 64 hex digits"
    good = (
        (
            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    )
    bad = ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",)

    def normalize(self, raw: str) -> str:
        return _hex(raw, (64,), self.name)


def _base32_hex(value: str, name: str) -> str:
    try:
        return base64.b32decode(value.upper()).hex()
    except (ValueError, base64.binascii.Error):
        raise BadValue(
            f"{name} in base32 must be 32 characters A-Z2-7, got {value!r:.90}"
        ) from None


class InfohashHashType(HashType):
    """BitTorrent infohash: v1 (SHA-1 of the info dict, hex or base32) or v2 (SHA-256).

    Magnet links are accepted too; their first ``btih`` (v1) or ``btmh`` (v2) topic counts.
    """

    name = "infohash"
    description = "BitTorrent infohash: v1 (40 hex / 32 base32), v2 (64 hex), or a magnet link"
    good = (
        ("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A", "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"),
        ("YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK", "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"),
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x",
            "c12fe1c06bba254a9dc9f519b335aa7c1367a88a",
        ),
        ("magnet:?xt=urn:btmh:1220" + "ab" * 32, "ab" * 32),
        ("AB" * 32, "ab" * 32),
    )
    bad = ("c12fe1c06bba254a9dc9f519b335aa7c1367a88", "magnet:?dn=nothing", "urn:btih:xyz")

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        if value.lower().startswith("magnet:"):
            return self._from_magnet(value, raw)
        if len(value) == 32 and not _HEX.fullmatch(value):
            return _base32_hex(value, self.name)
        return _hex(value, (40, 64), self.name)

    def _from_magnet(self, value: str, raw: str) -> str:
        topics = parse_qs(urlsplit(value).query).get("xt", [])
        for topic in topics:
            low = topic.lower()
            if low.startswith("urn:btih:"):
                return self.normalize(topic[9:])
            if low.startswith("urn:btmh:"):
                multihash = topic[9:]
                if multihash[:4] != "1220":
                    raise BadValue(f"magnet btmh topic is not a SHA-256 multihash: {raw!r:.90}")
                return _hex(multihash[4:], (64,), self.name)
        raise BadValue(f"magnet link has no btih/btmh topic: {raw!r:.90}")


class PdqHashType(HashType):
    name = "pdq"
    description = "PDQ perceptual hash of an image, 256 bits as 64 hex digits"
    good = (("F" * 64, "f" * 64),)
    bad = ("f" * 63, "g" * 64)

    def normalize(self, raw: str) -> str:
        return _hex(raw, (64,), self.name)


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _bech32_ok(hrp: str, data: str) -> bool:
    values = [_BECH32.index(c) for c in data]
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk in (1, 0x2BC830A3)  # bech32, bech32m


class BtcHashType(HashType):
    name = "btc"
    description = "Bitcoin address: base58check (1…, 3…) or bech32/bech32m (bc1…)"
    good = (
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
    )
    bad = (
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        "hello",
    )

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        low = value.lower()
        if low.startswith("bc1"):
            data = low[3:]
            if (
                not 6 < len(data) <= 87
                or any(c not in _BECH32 for c in data)
                or not _bech32_ok("bc", data)
            ):
                raise BadValue(f"btc bech32 address has a bad checksum or characters: {raw!r:.90}")
            return low
        if value[:1] in ("1", "3") and 25 <= len(value) <= 35:
            try:
                base58.b58decode_check(value)
                return value
            except ValueError:
                pass
        raise BadValue(
            f"not a valid bitcoin address (base58check 1…/3… or bech32 bc1…): {raw!r:.90}"
        )


_B58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")


class XmrHashType(HashType):
    name = "xmr"
    description = "Monero address: 95 (standard, subaddress) or 106 (integrated) base58 characters"
    good = (("4" + "A" * 94, "4" + "A" * 94),)
    bad = ("4" + "A" * 50, "5" + "A" * 94, "4" + "0" * 94)

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        if len(value) in (95, 106) and value[0] in "48" and _B58.fullmatch(value):
            return value
        raise BadValue(
            f"not a monero address (95 or 106 base58 characters starting 4 or 8): {raw!r:.90}"
        )


class EthHashType(HashType):
    name = "eth"
    description = "Ethereum address: 0x and 40 hex digits (stored lower-case)"
    good = (
        (
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ),
    )
    bad = ("52908400098527886E0F7030069857D2E4169EE7", "0x5290840009852788")

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        if not value.lower().startswith("0x"):
            raise BadValue(f"eth address must start with 0x: {raw!r:.90}")
        return "0x" + _hex(value[2:], (40,), self.name, shown=raw)


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z0-9\-]{2,}")


class EmailHashType(HashType):
    name = "email"
    description = "Email address (stored lower-case)"
    good = (("Trader@Example.ONION", "trader@example.onion"),)
    bad = ("not-an-address", "a@b")

    def normalize(self, raw: str) -> str:
        value = raw.strip()
        if not _EMAIL.fullmatch(value):
            raise BadValue(f"not an email address: {raw!r:.90}")
        return value.lower()


class PgpHashType(HashType):
    name = "pgp"
    description = "OpenPGP key fingerprint: 40 (v4) or 64 (v5/v6) hex digits, spaces allowed"
    good = (
        (
            "0123 4567 89ab CDEF 0123  4567 89AB CDEF 0123 4567",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        ),
    )
    bad = ("0123 4567", "X" * 40)

    def normalize(self, raw: str) -> str:
        return _hex(raw.replace(" ", ""), (40, 64), self.name, shown=raw).upper()


BUILTIN_TYPES: tuple[type[HashType], ...] = (
    Md5HashType,
    Sha1HashType,
    Sha256HashType,
    InfohashHashType,
    PdqHashType,
    BtcHashType,
    XmrHashType,
    EthHashType,
    EmailHashType,
    PgpHashType,
)
