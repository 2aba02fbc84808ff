"""Bitcoin addresses: base58check (P2PKH, P2SH) and bech32/bech32m segwit, checksums verified.

Base58check: version byte 0x00 (``1…``) or 0x05 (``3…``), 20-byte hash, 4-byte double-SHA-256
checksum. Segwit (BIP 173 / BIP 350): hrp ``bc``, witness version 0 with bech32 and a 20 or
32-byte program, versions 1-16 with bech32m and a 2-40 byte program. An address with a bad
checksum is not an entity. Mainnet only. No settings.
"""

from __future__ import annotations

import hashlib
import re

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
_BASE58_VERSIONS = {0x00, 0x05}

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
_HRP = "bc"

_BASE58_RE = re.compile(r"(?<![0-9A-Za-z])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![0-9A-Za-z])")
_BECH32_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:bc1[02-9ac-hj-np-z]{11,71}|BC1[02-9AC-HJ-NP-Z]{11,71})(?![0-9A-Za-z])"
)


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


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def base58check_encode(version: int, payload: bytes) -> str:
    raw = bytes([version]) + payload
    return b58encode(raw + _checksum(raw))


def is_valid_base58_address(address: str) -> bool:
    """True for a mainnet P2PKH/P2SH address whose checksum is right."""
    try:
        raw = b58decode(address)
    except ValueError:
        return False
    if len(raw) != 25 or raw[0] not in _BASE58_VERSIONS:
        return False
    return _checksum(raw[:-4]) == raw[-4:]


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= generator[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: list[int], from_bits: int, to_bits: int, pad: bool) -> list[int] | None:
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


def segwit_encode(witness_version: int, program: bytes, hrp: str = _HRP) -> str:
    """The bech32 (v0) or bech32m (v1+) address of a witness program."""
    data = [witness_version] + (_convert_bits(list(program), 8, 5, True) or [])
    const = _BECH32_CONST if witness_version == 0 else _BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data + checksum)


def is_valid_segwit_address(address: str) -> bool:
    """True for a mainnet segwit address with the right checksum variant and program size."""
    if address.lower() != address and address.upper() != address:
        return False
    address = address.lower()
    hrp, sep, rest = address.rpartition("1")
    if not sep or hrp != _HRP or len(rest) < 7 or len(address) > 90:
        return False
    try:
        data = [_BECH32_INDEX[c] for c in rest]
    except KeyError:
        return False
    const = _polymod(_hrp_expand(hrp) + data)
    witness_version = data[0]
    if witness_version > 16:
        return False
    if const != (_BECH32_CONST if witness_version == 0 else _BECH32M_CONST):
        return False
    program = _convert_bits(data[1:-6], 5, 8, False)
    if program is None or not 2 <= len(program) <= 40:
        return False
    return witness_version != 0 or len(program) in (20, 32)


def find_btc(text: str) -> list[str]:
    """Valid Bitcoin addresses in ``text`` (bech32 lower-cased), first occurrence order."""
    found: list[tuple[int, str]] = []
    for m in _BASE58_RE.finditer(text):
        if is_valid_base58_address(m.group(0)):
            found.append((m.start(), m.group(0)))
    for m in _BECH32_RE.finditer(text):
        if is_valid_segwit_address(m.group(0)):
            found.append((m.start(), m.group(0).lower()))
    found.sort()
    return list(dict.fromkeys(v for _, v in found))
