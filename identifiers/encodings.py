"""The encodings and checksums identifier types are written in (pure functions, no settings).

Base32 (RFC 4648: onion addresses, v1 infohashes and SHA-1 in magnet links, WARC digests),
base58 and base58check (Bitcoin), Monero's block base58, bech32/bech32m (BIP 173, BIP 350)
and keccak-256 (Monero and EIP-55). Decoders raise ``ValueError`` on a foreign character or
a malformed block; the identifier types turn that into their own message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from Crypto.Hash import keccak

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3

# Monero: 8-byte blocks as 11 characters, a short last block as fewer.
_XMR_FULL_BLOCK = 8
_XMR_FULL_ENCODED = 11
_XMR_ENCODED_SIZES = [0, 2, 3, 5, 6, 7, 9, 10, 11]  # encoded length of a block of n bytes
_XMR_DECODED_SIZE = {size: n for n, size in enumerate(_XMR_ENCODED_SIZES)}


def b32decode(text: str) -> bytes:
    """RFC 4648 base32 in either case, ``=`` padding optional; ValueError when it is not."""
    value = text.upper().rstrip("=")
    try:
        return base64.b32decode(value + "=" * (-len(value) % 8))
    except binascii.Error as exc:
        raise ValueError(f"not base32: {exc}") from None


def b32encode(data: bytes) -> str:
    """Upper-case RFC 4648 base32 with its ``=`` padding."""
    return base64.b32encode(data).decode("ascii")


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def b58decode(text: str) -> bytes:
    """Plain base58 decoding (leading ``1`` = zero byte); ValueError on a foreign character."""
    number = 0
    for char in text:
        try:
            number = number * 58 + _B58_INDEX[char]
        except KeyError:
            raise ValueError(f"not a base58 character: {char!r}") from None
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + body


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(B58_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + "".join(reversed(out))


def base58check_digest(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def base58check_encode(version: int, payload: bytes) -> str:
    raw = bytes([version]) + payload
    return b58encode(raw + base58check_digest(raw))


def xmr_b58decode(text: str) -> bytes:
    """Decode Monero's block base58; ValueError on a bad character or block."""
    out = bytearray()
    for start in range(0, len(text), _XMR_FULL_ENCODED):
        block = text[start : start + _XMR_FULL_ENCODED]
        size = _XMR_DECODED_SIZE.get(len(block))
        if size is None:
            raise ValueError(f"bad Monero base58 block length {len(block)}")
        number = 0
        for char in block:
            try:
                number = number * 58 + _B58_INDEX[char]
            except KeyError:
                raise ValueError(f"not a base58 character: {char!r}") from None
        if number >> (8 * size):
            raise ValueError(f"Monero base58 block overflows: {block!r}")
        out += number.to_bytes(size, "big")
    return bytes(out)


def xmr_b58encode(data: bytes) -> str:
    out = []
    for start in range(0, len(data), _XMR_FULL_BLOCK):
        block = data[start : start + _XMR_FULL_BLOCK]
        number = int.from_bytes(block, "big")
        chars = []
        for _ in range(_XMR_ENCODED_SIZES[len(block)]):
            number, rem = divmod(number, 58)
            chars.append(B58_ALPHABET[rem])
        out.append("".join(reversed(chars)))
    return "".join(out)


def bech32_polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= generator[i]
    return chk


def bech32_hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def convert_bits(data: list[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
    """Regroup a bit string; None when unpadded input leaves bits over (not a valid program)."""
    acc = bits = 0
    out = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        return None
    return out


def segwit_encode(witness_version: int, program: bytes, hrp: str = "bc") -> str:
    """The bech32 (v0) or bech32m (v1+) address of a witness program."""
    data = [witness_version] + (convert_bits(list(program), 8, 5, True) or [])
    const = BECH32_CONST if witness_version == 0 else BECH32M_CONST
    polymod = bech32_polymod([*bech32_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)
