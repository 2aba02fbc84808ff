"""Near-duplicate texts with MinHash LSH (``datasketch``): templated ads and cloned pages.

A text is cut into shingles of ``shingle_words`` words (lower-cased, punctuation dropped);
its MinHash signature of ``num_perm`` permutations (``datasketch``'s 32-bit scheme) is cut
into the bands of an LSH layout tuned well below ``threshold`` (LSH misses about a third
of the pairs just above the threshold it is tuned for). Two texts are candidates when one
band is equal; every candidate is then checked against the threshold by its estimated
similarity. This module is pure: the signatures and their band keys are kept by the
analysis store (:class:`analysis.state.AnalysisDB`), which finds the candidates on disk, so
the memory an analyser needs does not grow with the pages it has read.
Texts with fewer than ``min_shingles`` shingles (menus, error pages) are not compared.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

_WORD_RE = re.compile(r"\w+", re.UNICODE)
# The LSH bands are tuned for this share of the threshold: candidates, then checked.
LSH_MARGIN = 0.75
# Kept signatures are of this scheme; a signature is only comparable with its own scheme.
SCHEME = "affine32"
# Missing a near pair costs more than checking a candidate that is not one.
_WEIGHTS = (0.2, 0.8)


def shingles(text: str, words: int) -> set[bytes]:
    tokens = _WORD_RE.findall(text.lower())
    if len(tokens) < words:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i:i + words]).encode() for i in range(len(tokens) - words + 1)}


@dataclass(frozen=True)
class BandLayout:
    """``bands`` bands of ``rows`` signature values each, over ``num_perm`` values."""

    num_perm: int
    bands: int
    rows: int

    @classmethod
    def tuned(cls, threshold: float, num_perm: int) -> BandLayout:
        # datasketch's own tuning (false positives against false negatives, integrated over
        # the similarity); an empty LSH index is how its API gives the layout.
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=max(0.05, threshold * LSH_MARGIN), num_perm=num_perm,
                         weights=_WEIGHTS)
        return cls(num_perm, lsh.b, lsh.r)

    def as_text(self) -> str:
        return f"{SCHEME}:{self.num_perm}:{self.bands}x{self.rows}"


class NearDuplicates:
    def __init__(self, *, threshold: float, num_perm: int, shingle_words: int,
                 min_shingles: int = 8):
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.min_shingles = min_shingles
        # datasketch (and the scipy it imports) loads here, with the analyse role, not in
        # every process that imports the CLI (a crawler among them).
        self.layout = BandLayout.tuned(threshold, num_perm)

    def signature(self, text: str) -> np.ndarray | None:
        """The text's MinHash values (``num_perm`` uint32), or None if it is too short."""
        grams = shingles(text, self.shingle_words)
        if len(grams) < self.min_shingles:
            return None
        from datasketch import MinHash

        sig = MinHash(num_perm=self.num_perm, scheme=SCHEME)
        sig.update_batch(list(grams))
        return np.asarray(sig.hashvalues, dtype=np.uint32)

    def from_bytes(self, raw: bytes) -> np.ndarray | None:
        """A kept signature, or None if it is of another number of permutations."""
        values = np.frombuffer(raw, dtype=np.uint32)
        return values if len(values) == self.num_perm else None

    def band_keys(self, sig: np.ndarray) -> list[int]:
        """One 63-bit key per band: two signatures share a key when a band is equal."""
        rows, raw = self.layout.rows, sig.astype("<u4", copy=False).tobytes()
        width = rows * 4
        return [int.from_bytes(hashlib.blake2b(
            raw[band * width:(band + 1) * width], digest_size=8,
            person=band.to_bytes(2, "little")).digest(), "little") >> 1
            for band in range(self.layout.bands)]

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float:
        """The estimated Jaccard similarity of two signatures: the share of equal values."""
        return float(np.count_nonzero(a == b)) / len(a)

    def near(self, sig: np.ndarray,
             candidates: list[tuple[str, bytes]]) -> list[tuple[str, float]]:
        """(record, similarity) of the candidates at or above the threshold, by record."""
        found = []
        for record, raw in candidates:
            other = self.from_bytes(raw)
            if other is None:
                continue
            score = self.similarity(sig, other)
            if score >= self.threshold:
                found.append((record, round(score, 3)))
        return sorted(found)
