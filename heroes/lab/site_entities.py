"""Values planted in the generated onion sites: valid entities and deliberately broken ones.

Every value is derived from one ``random.Random`` so a seed gives the same sites. Valid
values carry correct checksums (onion, base58check, bech32/bech32m, Monero keccak, EIP-55,
OpenPGP CRC-24); broken ones differ from a valid value by one character or carry a wrong
CRC, so they look right but must not be reported. Also makes the onion service keys (Tor's
``hs_ed25519_secret_key`` format) so pages can name the real hosts. Reads no settings.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
from dataclasses import dataclass

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageDraw

from identifiers.btc import is_valid_base58_address, is_valid_segwit_address
from identifiers.encodings import B58_ALPHABET, BECH32_CHARSET, base58check_encode, segwit_encode
from identifiers.eth import is_valid_eth_address, to_checksum_address
from identifiers.onion import is_valid_onion, onion_address
from identifiers.pgp import armor
from identifiers.xmr import is_valid_monero_address, monero_address

_TOR_SECRET_HEADER = b"== ed25519v1-secret: type0 ==\x00\x00\x00"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class ServiceKey:
    hostname: str
    secret_file: bytes  # contents of Tor's hs_ed25519_secret_key


def service_key(seed: int, name: str) -> ServiceKey:
    """A deterministic onion service key for ``name`` under ``seed``."""
    key_seed = hashlib.sha256(f"heroes-lab/{seed}/{name}".encode()).digest()
    public = Ed25519PrivateKey.from_private_bytes(key_seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    # Tor stores the expanded key: SHA-512 of the seed, the scalar half clamped.
    expanded = bytearray(hashlib.sha512(key_seed).digest())
    expanded[0] &= 248
    expanded[31] &= 63
    expanded[31] |= 64
    return ServiceKey(onion_address(public), _TOR_SECRET_HEADER + bytes(expanded))


def _mutate(rng: random.Random, value: str, alphabet: str, start: int, end: int) -> str:
    pos = rng.randrange(start, len(value) + end)
    choices = [c for c in alphabet if c != value[pos]]
    return value[:pos] + rng.choice(choices) + value[pos + 1 :]


def _pgp_key_packet(rng: random.Random, created: int) -> bytes:
    """A v4 RSA public-key packet (random modulus: only its fingerprint matters here)."""
    modulus = rng.getrandbits(2048) | (1 << 2047) | 1
    body = (b"\x04" + created.to_bytes(4, "big") + b"\x01"
            + (2048).to_bytes(2, "big") + modulus.to_bytes(256, "big")
            + (17).to_bytes(2, "big") + (65537).to_bytes(3, "big"))
    return _packet(6, body)


def _packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        length = bytes([n])
    elif n < 8384:
        n -= 192
        length = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        length = b"\xff" + n.to_bytes(4, "big")
    return bytes([0xC0 | tag]) + length + body


class Planter:
    """Factory of planted values; one per generated world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # onions -------------------------------------------------------------------------
    def onion(self) -> str:
        return onion_address(self.rng.randbytes(32))

    def bad_onion(self) -> str:
        while True:
            label = _mutate(self.rng, self.onion()[:-6], _B32, 0, -4)
            if not is_valid_onion(label + ".onion"):
                return label + ".onion"

    # e-mail ------------------------------------------------------------------------
    def email(self) -> str:
        user = self.rng.choice(["sales", "support", "vendor", "admin", "contact", "orders"])
        domain = self.rng.choice(["example.com", "example.org", "example.net", "mail.example.com"])
        return f"{user}{self.rng.randrange(10, 999)}@{domain}"

    # bitcoin -----------------------------------------------------------------------
    def btc_base58(self) -> str:
        return base58check_encode(self.rng.choice([0x00, 0x05]), self.rng.randbytes(20))

    def btc_bech32(self) -> str:
        if self.rng.random() < 0.5:
            return segwit_encode(0, self.rng.randbytes(self.rng.choice([20, 32])))
        return segwit_encode(1, self.rng.randbytes(32))  # taproot, bech32m

    def bad_btc_base58(self) -> str:
        while True:
            value = _mutate(self.rng, self.btc_base58(), B58_ALPHABET, 1, 0)
            if not is_valid_base58_address(value):
                return value

    def bad_btc_bech32(self) -> str:
        while True:
            value = _mutate(self.rng, self.btc_bech32(), BECH32_CHARSET, 4, 0)
            if not is_valid_segwit_address(value):
                return value

    # monero ------------------------------------------------------------------------
    def xmr(self, kind: str = "standard") -> str:
        spend, view = self.rng.randbytes(32), self.rng.randbytes(32)
        if kind == "integrated":
            return monero_address(19, spend, view, self.rng.randbytes(8))
        return monero_address(42 if kind == "subaddress" else 18, spend, view)

    def bad_xmr(self) -> str:
        while True:
            value = _mutate(self.rng, self.xmr(), B58_ALPHABET, 2, -1)
            if not is_valid_monero_address(value):
                return value

    # ethereum ----------------------------------------------------------------------
    def eth(self) -> str:
        """A mixed-case (EIP-55) address."""
        return to_checksum_address(self.rng.randbytes(20).hex())

    def bad_eth(self) -> str:
        """Mixed case with one letter's case flipped: the EIP-55 check fails."""
        while True:
            value = self.eth()
            letters = [i for i, c in enumerate(value) if i > 1 and c.isalpha()]
            pos = self.rng.choice(letters)
            value = value[:pos] + value[pos].swapcase() + value[pos + 1 :]
            digits = value[2:]
            mixed = not (digits.islower() or digits.isupper())
            if mixed and not is_valid_eth_address(value):
                return value

    # pgp ---------------------------------------------------------------------------
    def pgp_block(self, name: str) -> tuple[str, str]:
        """(armored public key block, its v4 fingerprint in upper-case hex)."""
        created = 1_600_000_000 + self.rng.randrange(100_000_000)
        key = _pgp_key_packet(self.rng, created)
        user_id = _packet(13, f"{name} <{name.lower()}@example.org>".encode())
        body = key[3:]  # new-format header with a two-octet length: 3 bytes
        fingerprint = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()
        return armor(key + user_id), fingerprint.upper()

    def bad_pgp_block(self, name: str) -> str:
        """A block whose CRC-24 line does not match its contents."""
        block, _ = self.pgp_block(name)
        lines = block.split("\n")
        crc_line = next(i for i, line in enumerate(lines) if line.startswith("="))
        lines[crc_line] = "=" + ("AAAA" if lines[crc_line][1:] != "AAAA" else "BBBB")
        return "\n".join(lines)

    # phones ------------------------------------------------------------------------
    def phone(self, region: str, international: bool = False) -> tuple[str, str]:
        """(as written, E.164) of a valid number of ``region`` in national or international
        format."""
        kinds = (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
        example = phonenumbers.example_number_for_type(region, self.rng.choice(kinds))
        digits = str(example.national_number)
        while True:
            tail = "".join(self.rng.choice("0123456789") for _ in range(2))
            number = phonenumbers.parse("+" + str(example.country_code) + digits[:-2] + tail)
            if phonenumbers.is_valid_number_for_region(number, region):
                break
        fmt = (phonenumbers.PhoneNumberFormat.INTERNATIONAL if international
               else phonenumbers.PhoneNumberFormat.NATIONAL)
        return (phonenumbers.format_number(number, fmt),
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    # magnets -----------------------------------------------------------------------
    def magnet(self, kind: str, name: str) -> tuple[str, list[str]]:
        """(magnet URI, infohashes it names); kind is hex, base32, v2 or hybrid."""
        v1 = self.rng.randbytes(20)
        v2 = self.rng.randbytes(32)
        if kind == "base32":
            xts = [f"urn:btih:{base64.b32encode(v1).decode()}"]
            hashes = [v1.hex()]
        elif kind == "v2":
            xts, hashes = [f"urn:btmh:1220{v2.hex()}"], [v2.hex()]
        elif kind == "hybrid":
            xts = [f"urn:btih:{v1.hex()}", f"urn:btmh:1220{v2.hex()}"]
            hashes = [v1.hex(), v2.hex()]
        else:
            xts, hashes = [f"urn:btih:{v1.hex()}"], [v1.hex()]
        query = "&".join(f"xt={xt}" for xt in xts)
        return f"magnet:?{query}&dn={name}", hashes

    def bad_magnet(self, name: str) -> str:
        """A btih of 39 hex digits: names no torrent."""
        return f"magnet:?xt=urn:btih:{self.rng.randbytes(20).hex()[:39]}&dn={name}"

    # images ------------------------------------------------------------------------
    def image(self, fmt: str = "PNG") -> bytes:
        """A random geometric picture (ellipses, rectangles, polygons) as PNG or JPEG."""
        rng = self.rng
        width, height = rng.randrange(96, 200), rng.randrange(96, 200)
        img = Image.new("RGB", (width, height), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(rng.randrange(4, 9)):
            colour = tuple(rng.randrange(256) for _ in range(3))
            x0, y0 = rng.randrange(width - 10), rng.randrange(height - 10)
            x1, y1 = rng.randrange(x0 + 5, width), rng.randrange(y0 + 5, height)
            shape = rng.choice(["ellipse", "rectangle", "polygon"])
            if shape == "ellipse":
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            elif shape == "rectangle":
                draw.rectangle((x0, y0, x1, y1), fill=colour)
            else:
                points = [(rng.randrange(width), rng.randrange(height)) for _ in range(3)]
                draw.polygon(points, fill=colour)
        out = io.BytesIO()
        img.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return out.getvalue()

