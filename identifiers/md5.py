"""MD5 digests (of media files): 32 hex digits, canonical lower case. No settings."""

from __future__ import annotations

from identifiers.base import HexIdentifier


class Md5Identifier(HexIdentifier):
    name = "md5"
    description = "MD5 of a file, 32 hex digits"
    digits = (32,)
    spellings = (
        ("D41D8CD98F00B204E9800998ECF8427E", "d41d8cd98f00b204e9800998ecf8427e"),
        ("d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e"),
    )
    invalid = (
        ("d41d8cd98f00b204e9800998ecf8427", "32 hex digits"),
        ("zz1d8cd98f00b204e9800998ecf8427e", "32 hex digits"),
    )
