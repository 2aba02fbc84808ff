"""Whether one document matches a :class:`~query.model.Query`, evaluated in process.

Rules see each committed document once, so keyword and frequency rules test it here
instead of querying the index. The answer comes from the executable specification of the
query semantics (query.reference), so a rule matches exactly the documents a search
with the same query would find in any backend.
"""

from __future__ import annotations

from typing import Any

from query.model import Query, Search
from query.reference import evaluate


def query_matches(query: Query, kind: str, doc_id: str, source: dict[str, Any]) -> bool:
    result = evaluate(Search(kind, query, size=1), [source], ids=[doc_id])
    return result["hits"]["total"]["value"] > 0
