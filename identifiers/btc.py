"""Bitcoin addresses: base58check (P2PKH ``1…``, P2SH ``3…``) and bech32/bech32m segwit (``bc1…``).

Base58check: version byte 0x00 or 0x05, 20-byte hash, 4-byte double-SHA-256 checksum; kept
as written (base58 is case-sensitive). Segwit (BIP 173 / BIP 350): hrp ``bc``, witness
version 0 with bech32 and a 20 or 32-byte program, versions 1-16 with bech32m and a 2-40
byte program; written in either case, canonical lower case. Mainnet only. No settings.
"""

from __future__ import annotations

import re

from identifiers.base import Identifier, quoted, unique
from identifiers.encodings import (
    B58_ALPHABET,
    BECH32_CONST,
    BECH32_INDEX,
    BECH32M_CONST,
    b58decode,
    base58check_digest,
    bech32_hrp_expand,
    bech32_polymod,
    convert_bits,
)
from identifiers.errors import InvalidIdentifier

_BASE58_VERSIONS = {0x00, 0x05}
_HRP = "bc"
_B58_CHARS = frozenset(B58_ALPHABET)
_BASE58_RE = re.compile(r"(?<![0-9A-Za-z])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![0-9A-Za-z])")
_BECH32_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:bc1[02-9ac-hj-np-z]{11,71}|BC1[02-9AC-HJ-NP-Z]{11,71})(?![0-9A-Za-z])"
)
_SHAPE = "not a valid bitcoin address (base58check 1…/3… or bech32 bc1…)"


def base58_problem(address: str) -> str | None:
    """What is wrong with a base58check address, or None when it is a valid mainnet one."""
    if not 25 <= len(address) <= 35 or address[:1] not in ("1", "3"):
        return _SHAPE
    if not set(address) <= _B58_CHARS:
        return "btc base58 address has a character outside the base58 alphabet"
    raw = b58decode(address)
    if len(raw) != 25 or raw[0] not in _BASE58_VERSIONS:
        return "btc base58 address is not a mainnet P2PKH/P2SH address"
    if base58check_digest(raw[:-4]) != raw[-4:]:
        return "btc base58check checksum does not match"
    return None


def segwit_problem(address: str) -> str | None:
    """What is wrong with a segwit address (any single case), or None when it is valid."""
    if address.lower() != address and address.upper() != address:
        return "btc bech32 address mixes upper and lower case"
    address = address.lower()
    hrp, sep, rest = address.rpartition("1")
    if not sep or hrp != _HRP or len(rest) < 7 or len(address) > 90:
        return _SHAPE
    try:
        data = [BECH32_INDEX[c] for c in rest]
    except KeyError:
        return "btc bech32 address has a character outside the bech32 alphabet"
    const = bech32_polymod(bech32_hrp_expand(hrp) + data)
    witness_version = data[0]
    if witness_version > 16:
        return f"btc segwit version {witness_version} is above 16"
    if const not in (BECH32_CONST, BECH32M_CONST):
        return "btc bech32 checksum does not match"
    if const != (BECH32_CONST if witness_version == 0 else BECH32M_CONST):
        return "btc bech32 checksum is of the wrong variant (v0 takes bech32, v1+ bech32m)"
    program = convert_bits(data[1:-6], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40:
        return "btc segwit program has a bad length"
    if witness_version == 0 and len(program) not in (20, 32):
        return "btc segwit v0 program must be 20 or 32 bytes"
    return None


def is_valid_base58_address(address: str) -> bool:
    return base58_problem(address) is None


def is_valid_segwit_address(address: str) -> bool:
    return segwit_problem(address) is None


class BtcIdentifier(Identifier):
    name = "btc"
    description = "Bitcoin address: base58check (1…, 3…) or bech32/bech32m (bc1…)"
    spellings = (
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ("  3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy ", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        (
            "BC1P0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQZK5JJ0",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        ),
    )
    invalid = (
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "variant"),
        ("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "case"),
        ("hello", "not a valid bitcoin address"),
    )
    in_text = (
        (
            "pay BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4 or 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa,"
            " not 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:3].lower() == "bc1":
            problem = segwit_problem(value)
            value = value.lower()
        else:
            problem = base58_problem(value)
        if problem:
            raise InvalidIdentifier(f"{problem}: {quoted(raw)}")
        return value

    def normalize_prefix(self, prefix: str) -> str:
        # Bech32 (bc1…) is case-insensitive with a lower-case canonical form; base58 (1…,
        # 3…) is case-sensitive, so a part of one stays as typed.
        value = prefix.strip()
        return value.lower() if value[:1] in ("b", "B") else value

    def find(self, text: str) -> list[str]:
        found: list[tuple[int, str]] = []
        for m in _BASE58_RE.finditer(text):
            if base58_problem(m.group(0)) is None:
                found.append((m.start(), m.group(0)))
        for m in _BECH32_RE.finditer(text):
            if segwit_problem(m.group(0)) is None:
                found.append((m.start(), m.group(0).lower()))
        found.sort()
        return unique([v for _, v in found])
