"""SHA-256 digests (of media files and page bodies): 64 hex digits, canonical lower case."""

from __future__ import annotations

from identifiers.base import HexIdentifier

_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class Sha256Identifier(HexIdentifier):
    name = "sha256"
    description = "SHA-256 of a file, 64 hex digits"
    digits = (64,)
    spellings = ((_EMPTY.upper(), _EMPTY), (_EMPTY, _EMPTY))
    invalid = ((_EMPTY[:-1], "64 hex digits"), (_EMPTY[:-1] + "g", "64 hex digits"))
