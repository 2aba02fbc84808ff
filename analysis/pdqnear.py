"""Near-identical images across pages: PDQ hashes within a Hamming distance of each other.

The hashes of the pages' images (``media.pdq``) are kept in frozen chunks of
:data:`CHUNK` rows, each searched with :class:`index.matching_pdq.PdqIndex` (the index's own
full scan), plus the rows added since the last chunk was frozen. :meth:`PdqNear.add` returns
the records already held with an image within ``max_distance`` of the new one, then holds
it; :meth:`restore` puts back what the analysis store kept. Which (record, hash) pairs are
held already is the store's to say (its ``pdq`` rows are unique), so per image only the
hash's 32 bytes and a reference to its record's id are kept here. Reads no settings.
"""

from __future__ import annotations

import numpy as np

from index.matching_pdq import PdqIndex, pdq_word

CHUNK = 4096


class PdqNear:
    def __init__(self, max_distance: int):
        self.max_distance = max_distance
        self._chunks: list[tuple[PdqIndex, list[str]]] = []
        self._pending: list[np.ndarray] = []
        self._pending_records: list[str] = []
        self._held = 0

    def __len__(self) -> int:
        return self._held

    def restore(self, record: str, hex_value: str) -> None:
        words = pdq_word(hex_value)
        if words is not None:
            self._hold(record, words)

    def add(self, record: str, hex_value: str) -> list[tuple[str, int]]:
        """(record, distance) of the other records with an image this near, then hold it
        (the caller adds each (record, hash) once)."""
        words = pdq_word(hex_value)
        if words is None:
            return []
        found: dict[str, int] = {}
        searched = list(self._chunks)
        if self._pending:
            searched.append((PdqIndex(np.stack(self._pending), self.max_distance),
                             self._pending_records))
        for index, records in searched:
            rows, distances = index.near(words)
            for row, distance in zip(rows.tolist(), distances.tolist(), strict=True):
                other = records[row]
                if other != record:
                    found[other] = min(found.get(other, 256), int(distance))
        self._hold(record, words)
        return sorted(found.items())

    def _hold(self, record: str, words: np.ndarray) -> None:
        self._held += 1
        self._pending.append(words)
        self._pending_records.append(record)
        if len(self._pending) >= CHUNK:
            self._chunks.append((PdqIndex(np.stack(self._pending), self.max_distance),
                                 self._pending_records))
            self._pending, self._pending_records = [], []
