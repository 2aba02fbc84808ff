"""Which keys of an exact field fall in each terms partition of the embedded index.

A terms aggregation's ``partition`` of ``num_partitions`` keeps the keys whose hash
(:func:`query.reference.partition_hash`, the one :func:`~query.reference.partition_of`
splits by) falls in it, so the partitions are even whatever the keys look like and grow as
finely as asked. tantivy has no
hash for an ``include``, so the keys themselves are listed: one walk of the field's term
dictionary (every key of the index snapshot, not only the query's) is grouped by partition
and kept for the snapshot it came from. A partition is then aggregated over the documents
of its keys only (a term set query) with an ``include`` list of them, cut into chunks that
tantivy's bucket limit always holds, so no call builds more buckets than the limit and the
partitions together read each matching document about once. Reads no settings.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable

import tantivy

from query.reference import partition_hash, partition_of

# Fields whose keys are kept (a ranking reads two: addresses and peer ids), and groupings
# kept per field (a ranking asks for a few numbers of partitions).
KEEP_FIELDS = 2
KEEP_GROUPINGS = 3


def group_keys(keys: list[str], num_partitions: int) -> list[list[str]]:
    """The keys of each partition, in the order given."""
    groups: list[list[str]] = [[] for _ in range(num_partitions)]
    for key in keys:
        groups[partition_of(key, num_partitions)].append(key)
    return groups


def chunks(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i:i + size] for i in range(0, len(keys), size)]


class _FieldKeys:
    """Every key of one field in one snapshot, its hash, and the last few groupings."""

    def __init__(self, keys: list[str]):
        self.keys = keys
        # Kept so that a new grouping does not hash again.
        self.hashes = array("L", (partition_hash(k) for k in keys))
        self.groupings: OrderedDict[int, list[list[str]]] = OrderedDict()

    def grouping(self, num_partitions: int) -> list[list[str]]:
        groups = self.groupings.get(num_partitions)
        if groups is None:
            groups = [[] for _ in range(num_partitions)]
            for key, h in zip(self.keys, self.hashes, strict=True):
                groups[h % num_partitions].append(key)
            self.groupings[num_partitions] = groups
            while len(self.groupings) > KEEP_GROUPINGS:
                self.groupings.popitem(last=False)
        else:
            self.groupings.move_to_end(num_partitions)
        return groups


class PartitionKeys:
    """The keys of the last few fields read, each valid for one searcher snapshot.

    A snapshot is named by the caller's ``stamp`` (the index generation it reloaded from)
    together with the searcher's own document and segment counts, so keys read from one
    snapshot are never used for another; with no stamp nothing is kept.
    """

    def __init__(self, keep: int = KEEP_FIELDS):
        self.keep = keep
        self._fields: OrderedDict[Hashable, _FieldKeys] = OrderedDict()
        self._lock = threading.Lock()

    def partition(self, searcher: tantivy.Searcher, stamp: Hashable | None, field_name: str,
                  partition: int, num_partitions: int) -> list[str]:
        """The keys of ``field_name`` in ``partition`` in this searcher's snapshot."""
        if stamp is None:
            keys = [term for term, _ in searcher.terms_with_prefix(field_name, "")]
            return group_keys(keys, num_partitions)[partition]
        token = (stamp, searcher.num_docs, searcher.num_segments, field_name)
        with self._lock:
            entry = self._fields.get(token)
            if entry is None:
                entry = _FieldKeys([t for t, _ in searcher.terms_with_prefix(field_name, "")])
                self._fields[token] = entry
                while len(self._fields) > self.keep:
                    self._fields.popitem(last=False)
            else:
                self._fields.move_to_end(token)
            return entry.grouping(num_partitions)[partition]
