"""One page of hits in sort order from a tantivy searcher, exact with the id tie-breaker.

tantivy orders by one fast column only. When the primary sort field is a single-valued
number or date, tantivy picks the page by that column; every document equal to the page's
boundary value (and to the ``search_after`` value) is fetched as well, and the candidates
are ordered in Python by all sort values and the id (whose first 64 bits are a column).
Other sorts order every hit in Python, reading values from columns or from ``_source``.
Relevance sorts take tantivy's top hits; a query whose hits all score alike is ordered by
id. Reads no settings.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import tantivy

from documents.fields import FieldType
from errors import QueryError
from index.backends.tantivy_query import constant_score, exists
from index.backends.tantivy_schema import ID, ID_KEY, SOURCE, KindSchema, id_key
from query import reference
from query.model import Search, SortField
from query.validate import SCORE

Occur = tantivy.Occur
TQ = tantivy.Query


class Hit:
    """A candidate hit whose sort key is read from columns, its id only when needed."""

    __slots__ = ("addr", "id", "key", "score")

    def __init__(self, addr: tantivy.DocAddress, values: list[Any], idk: int, score: float | None):
        self.addr = addr
        self.key = [*values, idk]
        self.score = score
        self.id: str | None = None


class Pager:
    """Finds one page of hits in sort order (see the module docstring)."""

    def __init__(self, ks: KindSchema, searcher: tantivy.Searcher, query: tantivy.Query,
                 search: Search):
        self.ks = ks
        self.searcher = searcher
        self.query = query
        self.search = search
        self.sort: tuple[SortField, ...] = search.sort or (SortField(SCORE, "desc"),)
        self.relevance_only = self.sort == (SortField(SCORE, "desc"),)

    def page(self) -> list[Hit]:
        sort, size = self.sort, self.search.size
        primary = sort[0]
        if primary.field != SCORE and self.ks.single_numeric(primary.field):
            candidates = self._primary_candidates(primary)
        else:
            candidates = self._hits(self._all(self.query), scored=SCORE in {s.field for s in sort})
        return self._order(candidates)[:size]

    def by_relevance(self) -> tuple[list[Hit], int]:
        """The page of a relevance sort, and the total."""
        size = self.search.size
        if constant_score(self.search.query):
            # Every hit scores alike, so the order is the id's: read it from its column.
            result = self.searcher.search(self.query, size, count=True, order_by_field=ID_KEY,
                                          order=tantivy.Order.Asc)
            hits = [Hit(a, [1.0], k, 1.0) for (_, a), k in zip(
                result.hits, self._column(ID_KEY, [a for _, a in result.hits]), strict=True)]
            return self._order(hits), result.count
        # Relevance ties at the page boundary fall in index order; within the page, by id.
        result = self.searcher.search(self.query, size, count=True)
        pairs = result.hits
        keys = self._column(ID_KEY, [a for _, a in pairs])
        hits = [Hit(a, [s], k, s) for (s, a), k in zip(pairs, keys, strict=True)]
        return self._order(hits), result.count

    def _primary_candidates(self, primary: SortField) -> list[Hit]:
        """Every document that can be on the page, found through the primary sort column."""
        name = self.ks.names[primary.field]
        ftype = tantivy.FieldType.Float if self.ks.fields[primary.field] is FieldType.DOUBLE \
            else tantivy.FieldType.Integer
        asc = primary.order == "asc"
        present = exists(self.ks, primary.field)
        after = self.search.search_after
        found: list[tantivy.DocAddress] = []
        if after is not None and after[0] is None:
            # The cursor is among the documents without the field: only those can follow.
            missing = TQ.boolean_query([(Occur.Must, self.query), (Occur.MustNot, present)])
            return self._hits(self._all(missing))
        if after is not None:
            value = after[0]
            equal = TQ.range_query(self.ks.schema, name, ftype, value, value)
            found += self._all(_and(self.query, equal))
            beyond = TQ.boolean_query([(Occur.Should, TQ.range_query(
                self.ks.schema, name, ftype, value if asc else None, None if asc else value,
                include_lower=not asc, include_upper=asc)), (Occur.Should, TQ.boolean_query(
                    [(Occur.Must, TQ.all_query()), (Occur.MustNot, present)]))], 1)
            base = _and(self.query, beyond)
        else:
            base = self.query
        size = self.search.size
        with_value = _and(base, present)
        result = self.searcher.search(with_value, size, count=False, order_by_field=name,
                                      order=tantivy.Order.Asc if asc else tantivy.Order.Desc)
        top = [a for _, a in result.hits]
        if len(top) == size:
            boundary = self._column(name, top[-1:])[0]
            ties = TQ.range_query(self.ks.schema, name, ftype, boundary, boundary)
            found += top + self._all(_and(with_value, ties))
        else:
            found += top
            without = TQ.boolean_query([(Occur.Must, base), (Occur.MustNot, present)])
            if len(self.sort) == 1:
                result = self.searcher.search(without, size, count=False, order_by_field=ID_KEY,
                                              order=tantivy.Order.Asc)
                found += [a for _, a in result.hits]
            else:
                found += self._all(without)
        unique = {(a.segment_ord, a.doc): a for a in found}
        return self._hits(list(unique.values()))

    def _all(self, query: tantivy.Query) -> list[tantivy.DocAddress]:
        return [a for _, a in self._scored_all(query)]

    def _scored_all(self, query: tantivy.Query) -> list[tuple[float, tantivy.DocAddress]]:
        count = self.searcher.search(query, 1, count=True).count
        if not count:
            return []
        return list(self.searcher.search(query, count, count=False).hits)

    def _column(self, name: str, addrs: list[tantivy.DocAddress]) -> list[Any]:
        return self.searcher.fast_field_values(name, addrs) if addrs else []

    def _hits(self, addrs: list[tantivy.DocAddress], scored: bool = False) -> list[Hit]:
        """Candidates with their sort values (columns where possible, else ``_source``)."""
        scores: dict[tuple[int, int], float] = {}
        if scored:
            pairs = self._scored_all(self.query)
            scores = {(a.segment_ord, a.doc): s for s, a in pairs}
        columns: list[list[Any]] = []
        sources: list[dict[str, Any]] | None = None
        for item in self.sort:
            if item.field == SCORE:
                columns.append([scores.get((a.segment_ord, a.doc), 0.0) for a in addrs])
            elif self.ks.single_numeric(item.field):
                columns.append(self._column(self.ks.names[item.field], addrs))
            else:
                if sources is None:
                    sources = [json.loads(self.searcher.doc(a).get_first(SOURCE)) for a in addrs]
                columns.append([reference.sort_values(s, [item], self.ks.fields)[0]
                                for s in sources])
        keys = self._column(ID_KEY, addrs)
        return [Hit(a, [c[i] for c in columns], keys[i], scores.get((a.segment_ord, a.doc)))
                for i, a in enumerate(addrs)]

    def _full_id(self, hit: Hit) -> str:
        if hit.id is None:
            hit.id = self.searcher.doc(hit.addr).get_first(ID)
        return hit.id

    def _order(self, hits: list[Hit]) -> list[Hit]:
        """Sort candidates by the sort values then the id, and drop those up to the cursor."""
        sort = self.sort
        n = len(sort)

        def cmp(a: Hit, b: Hit) -> int:
            c = reference.compare_keys(a.key, b.key, sort)
            if c == 0:  # same 64-bit id prefix: compare whole ids (practically never)
                x, y = self._full_id(a), self._full_id(b)
                c = (x > y) - (x < y)
            return c

        hits = sorted(hits, key=functools.cmp_to_key(cmp))
        after = self.search.search_after
        if after is None:
            return hits
        cursor_id = str(after[-1])
        cursor = [*after[:n], _safe_id_key(cursor_id)]

        def beyond(hit: Hit) -> bool:
            c = reference.compare_keys(hit.key, cursor, sort)
            return c > 0 or (c == 0 and self._full_id(hit) > cursor_id)

        return [h for h in hits if beyond(h)]


def _safe_id_key(doc_id: str) -> int:
    try:
        return id_key(doc_id)
    except ValueError:
        raise QueryError(f"search_after: {doc_id!r} is not a document id") from None


def _and(a: tantivy.Query, b: tantivy.Query) -> tantivy.Query:
    return TQ.boolean_query([(Occur.Must, a), (Occur.Must, TQ.const_score_query(b, 0.0))])
