"""Near-duplicate texts with MinHash LSH (``datasketch``): templated ads and cloned pages.

A text is cut into shingles of ``shingle_words`` words (lower-cased, punctuation dropped);
its MinHash signature of ``num_perm`` permutations goes into an LSH index whose bands are
tuned well below ``threshold`` (LSH misses about a third of the pairs just above the
threshold it is tuned for), and every candidate it proposes is checked against the
threshold by its estimated similarity. :meth:`NearDuplicates.add` returns the records
already indexed whose estimated Jaccard similarity with the new one reaches the threshold,
then indexes it, so pages are compared as they arrive. Signatures are plain bytes
(:meth:`signature_bytes`) for the caller to keep, and :meth:`restore` puts them back after a
restart without recomputing.
Texts with fewer than ``min_shingles`` shingles (menus, error pages) are not compared.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from datasketch import MinHash

_WORD_RE = re.compile(r"\w+", re.UNICODE)
# The LSH bands are tuned for this share of the threshold: candidates, then checked.
LSH_MARGIN = 0.75
# Kept signatures are of this scheme; a signature is only comparable with its own scheme.
SCHEME = "affine32"


def shingles(text: str, words: int) -> set[bytes]:
    tokens = _WORD_RE.findall(text.lower())
    if len(tokens) < words:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i:i + words]).encode() for i in range(len(tokens) - words + 1)}


class NearDuplicates:
    def __init__(self, *, threshold: float, num_perm: int, shingle_words: int,
                 min_shingles: int = 8):
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_words = shingle_words
        self.min_shingles = min_shingles
        # datasketch (and the scipy it imports) loads here, with the analyse role, not in
        # every process that imports the CLI (a crawler among them).
        from datasketch import MinHashLSH

        self._lsh = MinHashLSH(threshold=max(0.05, threshold * LSH_MARGIN), num_perm=num_perm,
                               weights=(0.2, 0.8))
        self._sigs: dict[str, MinHash] = {}

    def __len__(self) -> int:
        return len(self._sigs)

    def signature(self, text: str) -> MinHash | None:
        grams = shingles(text, self.shingle_words)
        if len(grams) < self.min_shingles:
            return None
        from datasketch import MinHash

        sig = MinHash(num_perm=self.num_perm, scheme=SCHEME)
        sig.update_batch(list(grams))
        return sig

    @staticmethod
    def signature_bytes(sig: MinHash) -> bytes:
        return np.asarray(sig.hashvalues, dtype=np.uint32).tobytes()

    def restore(self, record: str, raw: bytes) -> None:
        values = np.frombuffer(raw, dtype=np.uint32)
        if record not in self._sigs and len(values) == self.num_perm:
            from datasketch import MinHash

            sig = MinHash(num_perm=self.num_perm, hashvalues=values, scheme=SCHEME)
            self._lsh.insert(record, sig)
            self._sigs[record] = sig

    def add(self, record: str, sig: MinHash) -> list[tuple[str, float]]:
        """Records near ``record`` (with their estimated Jaccard), then index ``record``."""
        if record in self._sigs:
            return []
        near = []
        for other in self._lsh.query(sig):
            jaccard = float(sig.jaccard(self._sigs[other]))
            if jaccard >= self.threshold:
                near.append((other, round(jaccard, 3)))
        self._lsh.insert(record, sig)
        self._sigs[record] = sig
        return sorted(near)

    def forget(self, record: str) -> None:
        """Take ``record`` out again (its batch was not committed)."""
        if self._sigs.pop(record, None) is not None:
            self._lsh.remove(record)
