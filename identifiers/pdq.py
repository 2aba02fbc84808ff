"""PDQ perceptual hashes of images: 256 bits as 64 hex digits, canonical lower case.

Matching compares PDQ hashes by Hamming distance (index.matching_pdq); this type only
fixes how one is written. No settings.
"""

from __future__ import annotations

from identifiers.base import HexIdentifier


class PdqIdentifier(HexIdentifier):
    name = "pdq"
    description = "PDQ perceptual hash of an image, 256 bits as 64 hex digits"
    digits = (64,)
    spellings = (("F" * 64, "f" * 64), ("f0" * 32, "f0" * 32))
    invalid = (("f" * 63, "64 hex digits"), ("g" * 64, "64 hex digits"))
