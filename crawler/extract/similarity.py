"""Near-duplicate text: a 64-bit SimHash over word shingles. Pure functions, no settings.

Why our own: the one SimHash package on PyPI that fits (``simhash``) has had no release since
2022 and hashes each feature with MD5 in the same Python loop as this one; the algorithm
is these few lines. Words are the text's lower-case word tokens without digits and no longer
than ``MAX_WORD_CHARS``: a mirror differs from its original in its own onion address, dates
and counters, and none of those are words. Each shingle (``SHINGLE_WORDS`` consecutive
words) is hashed to 64 bits with BLAKE2b; bit ``i`` of the SimHash is set where more
shingles have that bit set than not (Charikar 2002). Pages that differ in a few words
differ in a few bits, so a small Hamming distance marks a mirror. :func:`simhash_bands` are
the four 16-bit quarters: two hashes within 3 bits of each other agree in at least one
quarter (pigeonhole), which lets an index find the candidates with an exact term query.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

SHINGLE_WORDS = 3
MAX_WORD_CHARS = 24
BITS = 64
BANDS = 4
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The words that count: lower case, no digits, at most ``MAX_WORD_CHARS`` long."""
    return [
        w for w in _TOKEN_RE.findall(text.lower())
        if len(w) <= MAX_WORD_CHARS and not any(c.isdigit() for c in w)
    ]


def shingles(text: str, size: int = SHINGLE_WORDS) -> list[str]:
    """The word ``size``-grams of ``text``; a shorter text is one shingle."""
    found = words(text)
    if len(found) <= size:
        return [" ".join(found)] if found else []
    return [" ".join(found[i : i + size]) for i in range(len(found) - size + 1)]


def _hash64(shingle: str) -> int:
    return int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "big")


def simhash(text: str) -> int | None:
    """The 64-bit SimHash of ``text``, or None when it has no words."""
    counts = Counter(shingles(text))
    if not counts:
        return None
    weights = [0] * BITS
    for shingle, count in counts.items():
        value = _hash64(shingle)
        for bit in range(BITS):
            weights[bit] += count if value >> bit & 1 else -count
    return sum(1 << bit for bit, weight in enumerate(weights) if weight > 0)


def hamming(a: int, b: int) -> int:
    """How many bits two hashes differ in."""
    return (a ^ b).bit_count()


def simhash_hex(value: int) -> str:
    return f"{value:016x}"


def simhash_bands(value: int) -> list[str]:
    """The hash's four 16-bit quarters as index terms (``"<quarter>:<4 hex digits>"``)."""
    return [f"{i}:{value >> (16 * i) & 0xFFFF:04x}" for i in range(BANDS)]
