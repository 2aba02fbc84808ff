"""Exact terms and date_histogram aggregations from a tantivy searcher.

Terms: tantivy is asked for every bucket (up to its bucket limit) and the buckets are
ordered here by count, then key, as Elasticsearch orders them; beyond the limit they are
counted in Python (from the column of a single-valued number, else from ``_source``).
date_histogram: a histogram over the epoch-ms column with ``min_doc_count`` 1. Terms
metrics (min, max, sum, cardinality) are tantivy sub-aggregations. A partition of an exact
(keyword, IP) field is the keys whose CRC-32 falls in it, aggregated from the list of those
keys in chunks that tantivy's bucket limit holds (:mod:`.tantivy_partitions`), so any
number of keys is read one bounded partition at a time; other fields' partitions are
filtered here. Reads no settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable
from typing import Any

import tantivy

from documents.fields import FieldType
from errors import BackendUnavailable
from index.backends.tantivy_partitions import PartitionKeys, chunks
from index.backends.tantivy_schema import SOURCE, KindSchema
from query import reference
from query.model import DateHistogram, Search, TermsAgg, interval_ms

log = logging.getLogger(__name__)

# tantivy refuses aggregations with more buckets than this (AggregationLimits' default).
BUCKET_LIMIT = 65_000


class Aggregator:
    def __init__(self, ks: KindSchema, searcher: tantivy.Searcher, query: tantivy.Query,
                 keys: PartitionKeys | None = None, stamp: Hashable | None = None):
        self.ks = ks
        self.searcher = searcher
        self.query = query
        # Partition keys of this searcher's snapshot, kept across searches under ``stamp``.
        self.keys = keys or PartitionKeys()
        self.stamp = stamp if keys is not None else None
        self._sources: list[dict[str, Any]] | None = None

    def run(self, search: Search) -> dict[str, Any]:
        """Every aggregation of the search; several run in one pass over the hits when their
        buckets fit tantivy's limit together, else one by one."""
        if len(search.aggs) > 1 and not any(self._listed(a) for a in search.aggs.values()):
            specs = {name: self._spec(agg) for name, agg in search.aggs.items()}
            outs = self._aggregate(specs, ", ".join(a.field for a in search.aggs.values()))
            if outs is not None:
                return {name: self._finish(agg, outs.get(name))
                        for name, agg in search.aggs.items()}
        return {name: self._one(agg) for name, agg in search.aggs.items()}

    def _aggregate(self, specs: dict[str, Any], fields: str,
                   query: tantivy.Query | None = None) -> dict[str, Any] | None:
        """tantivy's answer (over ``query``, by default the search's), or None when it
        exceeds the bucket limit."""
        try:
            return self.searcher.aggregate(query or self.query, specs)
        except ValueError as exc:
            if "bucket limit" not in str(exc):
                raise BackendUnavailable(f"aggregation on {fields!r} failed: {exc}") from exc
            return None

    def _one(self, agg: TermsAgg | DateHistogram) -> dict[str, Any]:
        if isinstance(agg, TermsAgg) and self._listed(agg):
            return self._partition(agg)
        out = self._aggregate({"a": self._spec(agg)}, agg.field)
        return self._finish(agg, None if out is None else out["a"])

    def _listed(self, agg: TermsAgg | DateHistogram) -> bool:
        """Whether a partition is read from the list of its keys (exact fields)."""
        return (isinstance(agg, TermsAgg) and agg.num_partitions > 1
                and self.ks.fields[agg.field] in (FieldType.KEYWORD, FieldType.IP))

    def _partition(self, agg: TermsAgg) -> dict[str, Any]:
        """One partition's buckets, its keys asked for a chunk at a time."""
        name = self.ks.names[agg.field]
        keys = self.keys.partition(self.searcher, self.stamp, name, agg.partition,
                                   agg.num_partitions)
        buckets: list[dict[str, Any]] = []
        for chunk in chunks(keys, BUCKET_LIMIT):
            spec = self._spec(agg)
            # The term set visits only the documents of these keys; the include list drops
            # the other values of a field that holds several.
            spec["terms"]["include"] = chunk
            narrowed = tantivy.Query.boolean_query([
                (tantivy.Occur.Must, self.query),
                (tantivy.Occur.Must, tantivy.Query.term_set_query(self.ks.schema, name, chunk))])
            out = self._aggregate({"a": spec}, agg.field, narrowed)
            if out is None:  # a chunk has at most BUCKET_LIMIT keys, so one bucket each
                raise BackendUnavailable(f"aggregation on {agg.field!r}: a partition of "
                                         f"{len(chunk)} keys exceeded the bucket limit")
            buckets += out["a"]["buckets"]
        return self._finish(agg, {"buckets": buckets, "sum_other_doc_count": 0})

    def _spec(self, agg: TermsAgg | DateHistogram) -> dict[str, Any]:
        name = self.ks.names[agg.field]
        if isinstance(agg, TermsAgg):
            spec = {"terms": {"field": name, "size": BUCKET_LIMIT, "segment_size": BUCKET_LIMIT}}
            if agg.metrics:
                spec["aggs"] = {m: {metric.op: {"field": self.ks.names[metric.field]}}
                                for m, metric in agg.metrics}
        else:
            spec = {"histogram": {"field": name, "interval": interval_ms(agg.fixed_interval),
                                  "min_doc_count": 1}}
        return spec

    def _finish(self, agg: TermsAgg | DateHistogram, out: dict[str, Any] | None) -> dict[str, Any]:
        """Buckets as Elasticsearch gives them, from tantivy's answer (None: over the limit)."""
        ftype = self.ks.fields[agg.field]
        if out is not None and out.get("sum_other_doc_count", 0) == 0:
            buckets = out["buckets"]
            if isinstance(agg, DateHistogram):
                return {"buckets": reference.histogram_buckets(
                    {int(b["key"]): b["doc_count"] for b in buckets})}
            counts = {self._key(ftype, b["key"]): b["doc_count"] for b in buckets
                      if in_partition(self._key(ftype, b["key"]), agg)}
            ordered = reference.terms_buckets(counts, ftype, agg.size)
            if agg.metrics:
                by_key = {self._key(ftype, b["key"]): b for b in buckets}
                for b in ordered:
                    raw = by_key[bool(b["key"]) if ftype is FieldType.BOOL else b["key"]]
                    b.update(self._metric_values(agg, raw))
            return {"buckets": ordered}
        # More buckets than tantivy hands out: count them exactly from the stored sources.
        log.info("aggregation on %s has more than %d buckets; counting in Python",
                 agg.field, BUCKET_LIMIT)
        return self._from_sources(agg, ftype)

    def _metric_values(self, agg: TermsAgg, raw: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m, metric in agg.metrics:
            value = (raw.get(m) or {}).get("value")
            ftype = self.ks.fields[metric.field]
            if metric.op == "sum" and value is None:
                value = 0
            if value is not None and (metric.op == "cardinality"
                                      or ftype in (FieldType.LONG, FieldType.DATE)):
                value = round(value)
            out[m] = value
        return out

    @staticmethod
    def _key(ftype: FieldType, key: Any) -> Any:
        if ftype is FieldType.BOOL:
            return bool(key)
        if ftype is FieldType.LONG:
            return int(key)
        return key

    def _matched(self) -> list[tantivy.DocAddress]:
        count = self.searcher.search(self.query, 1, count=True).count
        hits = self.searcher.search(self.query, count, count=False).hits if count else []
        return [a for _, a in hits]

    def _from_sources(self, agg: TermsAgg | DateHistogram, ftype: FieldType) -> dict[str, Any]:
        per_doc: list[set[Any]]
        if isinstance(agg, TermsAgg) and (agg.metrics or agg.num_partitions > 1):
            return self._terms_from_sources(agg, ftype)
        if self.ks.single_numeric(agg.field):
            # One value per document: its column answers without loading the documents.
            matched = self._matched()
            name = self.ks.names[agg.field]
            column = self.searcher.fast_field_values(name, matched) if matched else []
            per_doc = [{v} for v in column if v is not None]
        else:
            if self._sources is None:
                self._sources = [json.loads(self.searcher.doc(a).get_first(SOURCE))
                                 for a in self._matched()]
            per_doc = [set(reference.field_values(s, agg.field, ftype)) for s in self._sources]
        counts: dict[Any, int] = {}
        step = interval_ms(agg.fixed_interval) if isinstance(agg, DateHistogram) else 0
        for values in per_doc:
            if step:
                values = {v // step * step for v in values}
            for value in values:
                counts[value] = counts.get(value, 0) + 1
        if isinstance(agg, DateHistogram):
            return {"buckets": reference.histogram_buckets(counts)}
        return {"buckets": reference.terms_buckets(counts, ftype, agg.size)}

    def _terms_from_sources(self, agg: TermsAgg, ftype: FieldType) -> dict[str, Any]:
        if self._sources is None:
            self._sources = [json.loads(self.searcher.doc(a).get_first(SOURCE))
                             for a in self._matched()]
        members: dict[Any, list[dict[str, Any]]] = {}
        for source in self._sources:
            for value in set(reference.field_values(source, agg.field, ftype)):
                if in_partition(value, agg):
                    members.setdefault(value, []).append(source)
        counts = {key: len(docs) for key, docs in members.items()}
        buckets = reference.terms_buckets(counts, ftype, agg.size)
        for b in buckets:
            key = bool(b["key"]) if ftype is FieldType.BOOL else b["key"]
            b.update(reference.bucket_metrics(self.ks.kind, agg, members[key]))
        return {"buckets": buckets}


def in_partition(key: Any, agg: TermsAgg) -> bool:
    return agg.num_partitions <= 1 or \
        reference.partition_of(key, agg.num_partitions) == agg.partition


def empty_aggs(search: Search) -> dict[str, Any]:
    return {name: {"buckets": []} for name in search.aggs}
