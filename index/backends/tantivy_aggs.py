"""Exact terms and date_histogram aggregations from a tantivy searcher.

Terms: tantivy is asked for every bucket (up to its bucket limit) and the buckets are
ordered here by count, then key, as Elasticsearch orders them; beyond the limit they are
counted in Python (from the column of a single-valued number, else from ``_source``).
date_histogram: a histogram over the epoch-ms column with ``min_doc_count`` 1. Reads no
settings.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import tantivy

from index.backends.tantivy_schema import SOURCE, KindSchema
from index.documents.fields import FieldType
from index.errors import BackendUnavailable
from index.query import reference
from index.query.model import DateHistogram, Search, TermsAgg, interval_ms

log = logging.getLogger(__name__)

# tantivy refuses aggregations with more buckets than this (AggregationLimits' default).
BUCKET_LIMIT = 65_000


class Aggregator:
    def __init__(self, ks: KindSchema, searcher: tantivy.Searcher, query: tantivy.Query):
        self.ks = ks
        self.searcher = searcher
        self.query = query
        self._sources: list[dict[str, Any]] | None = None

    def run(self, search: Search) -> dict[str, Any]:
        return {name: self._one(agg) for name, agg in search.aggs.items()}

    def _one(self, agg: TermsAgg | DateHistogram) -> dict[str, Any]:
        ftype = self.ks.fields[agg.field]
        name = self.ks.names[agg.field]
        if isinstance(agg, TermsAgg):
            spec = {"terms": {"field": name, "size": BUCKET_LIMIT, "segment_size": BUCKET_LIMIT}}
        else:
            spec = {"histogram": {"field": name, "interval": interval_ms(agg.fixed_interval),
                                  "min_doc_count": 1}}
        try:
            out = self.searcher.aggregate(self.query, {"a": spec})["a"]
        except ValueError as exc:
            if "bucket limit" not in str(exc):
                raise BackendUnavailable(f"aggregation on {agg.field!r} failed: {exc}") from exc
            out = None
        if out is not None and out.get("sum_other_doc_count", 0) == 0:
            buckets = out["buckets"]
            if isinstance(agg, DateHistogram):
                return {"buckets": reference.histogram_buckets(
                    {int(b["key"]): b["doc_count"] for b in buckets})}
            counts = {self._key(ftype, b["key"]): b["doc_count"] for b in buckets}
            return {"buckets": reference.terms_buckets(counts, ftype, agg.size)}
        # More buckets than tantivy hands out: count them exactly from the stored sources.
        log.info("aggregation on %s has more than %d buckets; counting in Python",
                 agg.field, BUCKET_LIMIT)
        return self._from_sources(agg, ftype)

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


def empty_aggs(search: Search) -> dict[str, Any]:
    return {name: {"buckets": []} for name in search.aggs}
