"""Ethereum addresses: ``0x`` + 40 hex digits; canonical lower case, displayed in EIP-55.

A mixed-case address must pass its EIP-55 checksum (the case of each letter is a bit of
keccak-256 of the lower-case hex); all-lower and all-upper addresses carry no checksum and
are accepted. The index, hash lists and matching hold the lower-case form; people see and
paste the EIP-55 form, which parses back to the same value. No settings.
"""

from __future__ import annotations

import re

from identifiers.base import Identifier, is_hex, quoted, unique
from identifiers.encodings import keccak256
from identifiers.errors import InvalidIdentifier

_ETH_RE = re.compile(r"(?<![0-9A-Za-z])0[xX]([0-9a-fA-F]{40})(?![0-9A-Za-z])")


def to_checksum_address(hex40: str) -> str:
    """EIP-55 spelling of a 40-hex-digit address (with or without ``0x``)."""
    lower = hex40.lower().removeprefix("0x")
    digest = keccak256(lower.encode("ascii")).hex()
    digits = (c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest[:40], strict=True))
    return "0x" + "".join(digits)


def _digits_problem(digits: str) -> str | None:
    if len(digits) != 40 or not is_hex(digits):
        return f"eth address must be 0x and 40 hex digits, got {len(digits)} characters after 0x"
    if digits.islower() or digits.isupper() or digits.isdigit():
        return None
    if to_checksum_address(digits) != "0x" + digits:
        return "eth address in mixed case fails its EIP-55 checksum"
    return None


def is_valid_eth_address(address: str) -> bool:
    return address[:2] == "0x" and _digits_problem(address[2:]) is None


_EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class EthIdentifier(Identifier):
    name = "eth"
    description = "Ethereum address: 0x and 40 hex digits (stored lower-case, shown in EIP-55)"
    spellings = (
        (_EIP55, _EIP55.lower()),
        (_EIP55.lower(), _EIP55.lower()),
        ("0x" + _EIP55[2:].upper(), _EIP55.lower()),
        ("0X" + _EIP55[2:], _EIP55.lower()),
        (
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886e0f7030069857d2e4169ee7",
        ),
    )
    invalid = (
        (_EIP55[:4] + _EIP55[4].swapcase() + _EIP55[5:], "EIP-55"),
        ("52908400098527886E0F7030069857D2E4169EE7", "0x"),
        ("0x5290840009852788", "40 hex digits"),
        ("0x" + "g" * 40, "40 hex digits"),
    )
    in_text = (
        (f"send to {_EIP55.lower()}; tx 0x{'ab' * 32}", (_EIP55.lower(),)),
        (f"send to {_EIP55} or {_EIP55[:4] + _EIP55[4].swapcase() + _EIP55[5:]}",
         (_EIP55.lower(),)),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value[:2] not in ("0x", "0X"):
            raise InvalidIdentifier(f"eth address must start with 0x: {quoted(raw)}")
        problem = _digits_problem(value[2:])
        if problem:
            raise InvalidIdentifier(f"{problem}: {quoted(raw)}")
        return "0x" + value[2:].lower()

    def find(self, text: str) -> list[str]:
        if "0x" not in text and "0X" not in text:  # skip the pattern's scan
            return []
        found = (m.group(1) for m in _ETH_RE.finditer(text))
        return unique(["0x" + d.lower() for d in found if _digits_problem(d) is None])

    def display(self, canonical: str) -> str:
        return to_checksum_address(canonical)

    def normalize_prefix(self, prefix: str) -> str:
        return prefix.strip().lower()  # EIP-55 mixed case or upper case: canonical is lower
