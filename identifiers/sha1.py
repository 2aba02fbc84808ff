"""SHA-1 digests (of media files): 40 hex digits or 32 base32 characters, canonical lower hex.

Base32 is how some lists (and magnet links) write SHA-1 values. No settings.
"""

from __future__ import annotations

from identifiers.base import HexIdentifier, base32_hex, is_hex


class Sha1Identifier(HexIdentifier):
    name = "sha1"
    description = "SHA-1 of a file, 40 hex digits (or 32 base32 characters)"
    digits = (40,)
    spellings = (
        ("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("3i42h3s6nnfq2msvx7xzkyayscx5qbyj", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    )
    invalid = (
        ("da39a3ee5e6b4b0d3255bfef95601890afd8070", "40 hex digits"),
        ("", "40 hex digits"),
        ("3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBY1", "base32"),
    )

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if len(value) == 32 and not is_hex(value):
            return base32_hex(raw, value, self.name)
        return super().parse(value)
