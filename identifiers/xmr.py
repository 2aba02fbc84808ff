"""Monero addresses: standard/subaddress (95 chars) and integrated (106 chars), keccak checksum.

The decoded address (Monero's block base58) is a network byte (18 standard, 19 integrated,
42 subaddress; mainnet), two 32-byte keys, an 8-byte payment id for integrated addresses,
and the first 4 bytes of keccak-256 of everything before them. Canonical: as written
(base58 is case-sensitive). No settings.
"""

from __future__ import annotations

import re

from identifiers.base import Identifier, quoted, unique
from identifiers.encodings import B58_ALPHABET, keccak256, xmr_b58decode, xmr_b58encode
from identifiers.errors import InvalidIdentifier

NETWORK_BYTES = {18: 69, 19: 77, 42: 69}  # network byte -> decoded length
_B58_CHARS = frozenset(B58_ALPHABET)
_XMR_RE = re.compile(
    r"(?<![0-9A-Za-z])[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?(?![0-9A-Za-z])"
)


def monero_address(network_byte: int, spend: bytes, view: bytes, payment_id: bytes = b"") -> str:
    """Encode an address (used by the lab generator and tests)."""
    body = bytes([network_byte]) + spend + view + payment_id
    return xmr_b58encode(body + keccak256(body)[:4])


def monero_problem(address: str) -> str | None:
    """What is wrong with a Monero address, or None when it is a valid mainnet one."""
    if len(address) not in (95, 106):
        return f"a monero address has 95 or 106 characters, not {len(address)}"
    if address[0] not in "48":
        return "a mainnet monero address starts with 4 or 8"
    if not set(address) <= _B58_CHARS:
        return "monero address has a character outside the base58 alphabet"
    try:
        raw = xmr_b58decode(address)
    except ValueError as exc:
        return f"monero address does not decode ({exc})"
    if not raw or NETWORK_BYTES.get(raw[0]) != len(raw):
        return "monero address is not a mainnet standard, integrated or subaddress"
    if keccak256(raw[:-4])[:4] != raw[-4:]:
        return "monero address checksum does not match"
    return None


def is_valid_monero_address(address: str) -> bool:
    return monero_problem(address) is None


_EXAMPLE = (
    "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"
)
_INTEGRATED = monero_address(19, bytes(range(32)), bytes(range(32, 64)), b"\x01" * 8)
_SUB = monero_address(42, bytes(range(32)), bytes(range(32, 64)))


class XmrIdentifier(Identifier):
    name = "xmr"
    description = "Monero address: 95 (standard, subaddress) or 106 (integrated) base58 characters"
    spellings = (
        (_EXAMPLE, _EXAMPLE),
        (f" {_INTEGRATED}\n", _INTEGRATED),
        (_SUB, _SUB),
    )
    invalid = (
        (_EXAMPLE[:50] + ("B" if _EXAMPLE[50] != "B" else "C") + _EXAMPLE[51:], "checksum"),
        ("4" + "A" * 94, "checksum"),
        ("4" + "A" * 50, "95 or 106"),
        ("5" + "A" * 94, "4 or 8"),
        ("4" + "0" * 94, "alphabet"),
    )
    in_text = (
        (f"xmr: {_INTEGRATED} and {_EXAMPLE[:-1]}x", (_INTEGRATED,)),
        (f"donate {_EXAMPLE}.", (_EXAMPLE,)),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        problem = monero_problem(value)
        if problem:
            raise InvalidIdentifier(f"{problem}: {quoted(raw)}")
        return value

    def find(self, text: str) -> list[str]:
        found = (m.group(0) for m in _XMR_RE.finditer(text))
        return unique([a for a in found if monero_problem(a) is None])
