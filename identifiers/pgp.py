"""OpenPGP key fingerprints: found in armored public key blocks, canonical upper-case hex.

The armor body is base64 of OpenPGP packets (RFC 9580). When the ``=XXXX`` CRC-24 line is
present it must match. The fingerprint of a v4 key is SHA-1 over 0x99, the two-byte body
length and the public-key packet body (40 hex digits); of a v6 key SHA-256 over 0x9B, a
four-byte length and the body (64 hex digits). A block that does not decode, fails its CRC
or holds no public-key packet yields nothing. ``parse`` takes a fingerprint as gpg prints
it (groups of four, any case, optional ``0x``). No settings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from identifiers.base import Identifier, hex_digits, hex_prefix, unique

BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
END = "-----END PGP PUBLIC KEY BLOCK-----"
MAX_BLOCK_CHARS = 1_000_000
_HEADER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*: ")
_CRC24_INIT = 0xB704CE
_CRC24_POLY = 0x1864CFB
_TAG_PUBLIC_KEY = 6


def crc24(data: bytes) -> int:
    crc = _CRC24_INIT
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= _CRC24_POLY
    return crc & 0xFFFFFF


def armor(packets: bytes) -> str:
    """ASCII-armor ``packets`` as a public key block (used by the lab generator and tests)."""
    b64 = base64.b64encode(packets).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(crc24(packets).to_bytes(3, "big")).decode("ascii")
    return "\n".join([BEGIN, "", *lines, "=" + crc, END])


def dearmor(body: str) -> bytes | None:
    """Packets of one armored block's inside (headers, base64, CRC), or None when invalid."""
    lines = [line.strip() for line in body.strip().splitlines()]
    while lines and (not lines[0] or _HEADER_RE.match(lines[0])):
        lines.pop(0)
    crc_text = None
    if lines and lines[-1].startswith("=") and len(lines[-1]) == 5:
        crc_text = lines.pop()[1:]
    try:
        packets = base64.b64decode("".join(lines), validate=True)
        if crc_text is not None and base64.b64decode(crc_text, validate=True) != crc24(
            packets
        ).to_bytes(3, "big"):
            return None
    except (binascii.Error, ValueError):
        return None
    return packets or None


def iter_packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet; stops at the first malformed header."""
    packets = []
    pos = 0
    while pos < len(data):
        head = data[pos]
        if not head & 0x80:
            break
        if head & 0x40:  # new format: tag in the low 6 bits, 1/2/5-octet length
            tag = head & 0x3F
            if pos + 1 >= len(data):
                break
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                if pos + 2 >= len(data):
                    break
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                length, pos = int.from_bytes(data[pos + 2 : pos + 6], "big"), pos + 6
            else:  # partial body lengths never occur in key packets
                break
        else:  # old format: tag in bits 5-2, length type in bits 1-0
            tag, kind = (head >> 2) & 0x0F, head & 0x03
            if kind == 3:
                break
            size = (1, 2, 4)[kind]
            length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
            pos += 1 + size
        if pos + length > len(data):
            break
        packets.append((tag, data[pos : pos + length]))
        pos += length
    return packets


def key_fingerprint(body: bytes) -> str | None:
    """Fingerprint of a public-key packet body (v4 or v6), upper-case hex, or None."""
    if len(body) < 6:
        return None
    if body[0] == 4:
        return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest().upper()
    if body[0] == 6:
        return hashlib.sha256(b"\x9b" + len(body).to_bytes(4, "big") + body).hexdigest().upper()
    return None


def armored_blocks(text: str) -> list[str]:
    """Insides of the armored public key blocks in ``text``. Each END pairs with the last
    BEGIN before it, so a page of BEGIN lines without END costs one pass, not one per line."""
    blocks = []
    pos = 0
    while (start := text.find(BEGIN, pos)) != -1:
        end = text.find(END, start)
        if end == -1:
            break
        start = text.rfind(BEGIN, start, end)
        if end - start <= MAX_BLOCK_CHARS:
            blocks.append(text[start + len(BEGIN) : end])
        pos = end + len(END)
    return blocks


def _v4_example() -> tuple[str, str]:
    body = bytes([4, 0, 0, 0, 0, 22, 9]) + bytes(range(40))
    packet = bytes([0x98, len(body)]) + body
    return armor(packet), key_fingerprint(body) or ""


_BLOCK, _FPR = _v4_example()


class PgpIdentifier(Identifier):
    name = "pgp"
    description = "OpenPGP key fingerprint: 40 (v4) or 64 (v6) hex digits, spaces allowed"
    spellings = (
        (
            "0123 4567 89ab CDEF 0123  4567 89AB CDEF 0123 4567",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        ),
        (_FPR.lower(), _FPR),
        ("0x" + _FPR, _FPR),
        ("AB" * 32, "AB" * 32),
    )
    invalid = (("0123 4567", "40 or 64 hex digits"), ("X" * 40, "40 or 64 hex digits"))
    in_text = (
        (f"my key:\n{_BLOCK}\nthanks", (_FPR,)),
        (f"broken:\n{_BLOCK.replace(_BLOCK.splitlines()[-2], '=AAAA')}", ()),
    )

    def parse(self, raw: str) -> str:
        return hex_digits(raw.replace(" ", ""), (40, 64), self.name, shown=raw).upper()

    def normalize_prefix(self, prefix: str) -> str:
        return hex_prefix(prefix.replace(" ", "")).upper()  # fingerprints are upper-case hex

    def find(self, text: str) -> list[str]:
        found = []
        for block in armored_blocks(text):
            packets = dearmor(block)
            if packets is None:
                continue
            for tag, body in iter_packets(packets):
                if tag == _TAG_PUBLIC_KEY and (fpr := key_fingerprint(body)):
                    found.append(fpr)
        return unique(found)
