"""Monero addresses: standard/subaddress (95 chars) and integrated (106 chars), keccak checksum.

Monero's base58 encodes 8-byte blocks as 11 characters (a short last block as fewer). The
decoded address is a network byte (18 standard, 19 integrated, 42 subaddress; mainnet),
two 32-byte keys, an 8-byte payment id for integrated addresses, and the first 4 bytes of
keccak-256 of everything before them. No settings.
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from crawler.extract.entities.bitcoin import B58_ALPHABET

_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
_FULL_BLOCK = 8
_FULL_ENCODED = 11
_ENCODED_SIZES = [0, 2, 3, 5, 6, 7, 9, 10, 11]  # encoded length of a block of n bytes
_DECODED_SIZE = {size: n for n, size in enumerate(_ENCODED_SIZES)}
NETWORK_BYTES = {18: 69, 19: 77, 42: 69}  # network byte -> decoded length

_XMR_RE = re.compile(
    r"(?<![0-9A-Za-z])[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?(?![0-9A-Za-z])"
)


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def xmr_b58decode(text: str) -> bytes:
    """Decode Monero's block base58; ValueError on a bad character or block."""
    out = bytearray()
    for start in range(0, len(text), _FULL_ENCODED):
        block = text[start : start + _FULL_ENCODED]
        size = _DECODED_SIZE.get(len(block))
        if size is None:
            raise ValueError(f"bad Monero base58 block length {len(block)}")
        number = 0
        for char in block:
            try:
                number = number * 58 + _INDEX[char]
            except KeyError:
                raise ValueError(f"not a base58 character: {char!r}") from None
        if number >> (8 * size):
            raise ValueError(f"Monero base58 block overflows: {block!r}")
        out += number.to_bytes(size, "big")
    return bytes(out)


def xmr_b58encode(data: bytes) -> str:
    out = []
    for start in range(0, len(data), _FULL_BLOCK):
        block = data[start : start + _FULL_BLOCK]
        number = int.from_bytes(block, "big")
        chars = []
        for _ in range(_ENCODED_SIZES[len(block)]):
            number, rem = divmod(number, 58)
            chars.append(B58_ALPHABET[rem])
        out.append("".join(reversed(chars)))
    return "".join(out)


def monero_address(network_byte: int, spend: bytes, view: bytes, payment_id: bytes = b"") -> str:
    """Encode an address (used by the lab generator and tests)."""
    body = bytes([network_byte]) + spend + view + payment_id
    return xmr_b58encode(body + keccak256(body)[:4])


def is_valid_monero_address(address: str) -> bool:
    """True for a mainnet standard, integrated or subaddress with a correct checksum."""
    try:
        raw = xmr_b58decode(address)
    except ValueError:
        return False
    if not raw or NETWORK_BYTES.get(raw[0]) != len(raw):
        return False
    return keccak256(raw[:-4])[:4] == raw[-4:]


def find_xmr(text: str) -> list[str]:
    """Valid Monero addresses in ``text``, first occurrence order, no repeats."""
    found = (m.group(0) for m in _XMR_RE.finditer(text))
    return list(dict.fromkeys(a for a in found if is_valid_monero_address(a)))
