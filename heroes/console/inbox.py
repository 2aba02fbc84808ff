"""The alerts inbox and the hash-list overview: listing, filtering, acknowledging.

An acknowledgement is an updated ``alert`` document appended to the spool, so it reaches
the index the way every other write does (whichever process drains). Reads no settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from documents import Alert, Document
from documents.base import validate
from errors import InvalidDocument
from heroes.console.searchreq import RequestError, decode_after, encode_after
from heroes.console.views import NotFound
from index.backends.base import Backend
from query.model import Bool, MatchAll, Query, Search, SortField, Term, TermsAgg

STATUSES = ("new", "acknowledged")
MAX_COMMENT = 2000
PAGE_SIZE = 50


async def alerts(
    backend: Backend,
    *,
    status: str = "",
    rule: str = "",
    severity: str = "",
    alert_id: str = "",
    after: str = "",
) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise RequestError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    filters: list[Query] = []
    for name, value in (("status", status), ("rule", rule), ("severity", severity)):
        if value:
            filters.append(Term(name, value))
    query: Query = Bool(filter=tuple(filters)) if filters else MatchAll()
    if alert_id:
        found = await backend.get("alert", [alert_id])
        items = [{"id": k, **v} for k, v in found.items()]
        return {
            "alerts": items,
            "total": len(items),
            "rules": [],
            "severities": [],
            "statuses": [],
            "filters": {"id": alert_id},
            "next_after": None,
        }
    result = await backend.search(
        Search(
            kind="alert",
            query=query,
            size=PAGE_SIZE,
            sort=(SortField("created_at", "desc"),),
            search_after=decode_after(after) if after else None,
            aggs={
                "rules": TermsAgg("rule", 50),
                "severities": TermsAgg("severity", 10),
                "statuses": TermsAgg("status", 2),
            },
        )
    )
    hits = result["hits"]["hits"]
    aggs = result.get("aggregations", {})
    return {
        "alerts": [{"id": h["_id"], **h["_source"]} for h in hits],
        "total": result["hits"]["total"]["value"],
        "rules": aggs.get("rules", {}).get("buckets", []),
        "severities": aggs.get("severities", {}).get("buckets", []),
        "statuses": aggs.get("statuses", {}).get("buckets", []),
        "filters": {"status": status, "rule": rule, "severity": severity},
        "next_after": encode_after(hits[-1]["sort"]) if len(hits) == PAGE_SIZE else None,
    }


async def acknowledge(
    backend: Backend,
    append: Callable[[Iterable[Document]], int],
    alert_id: str,
    *,
    user: str,
    comment: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Spool the alert as acknowledged by ``user`` with ``comment``; returns the new version."""
    if len(comment) > MAX_COMMENT:
        raise RequestError("comment", f"longer than {MAX_COMMENT} characters")
    found = await backend.get("alert", [alert_id])
    if alert_id not in found:
        raise NotFound(f"no alert with id {alert_id!r}")
    try:
        current = validate(Alert, found[alert_id])
    except InvalidDocument as exc:
        raise RequestError("alert", f"stored alert {alert_id!r} is invalid: {exc}") from exc
    updated = current.model_copy(
        update={
            "status": "acknowledged",
            "acknowledged_by": user,
            "acknowledged_at": (now or datetime.now(UTC)),
            "comment": comment.strip(),
        }
    )
    await asyncio.to_thread(append, [updated])
    return {
        "id": updated.id,
        "status": "acknowledged",
        "acknowledged_by": user,
        "comment": updated.comment,
        "matched": [m.model_dump() for m in updated.matched],
    }


async def hash_lists(backend: Backend) -> dict[str, Any]:
    """Entries per list, and per type within each list."""
    top = await backend.search(Search(kind="hash", size=0, aggs={"lists": TermsAgg("list", 500)}))
    lists = top.get("aggregations", {}).get("lists", {}).get("buckets", [])
    per_list = await asyncio.gather(
        *(
            backend.search(
                Search(
                    kind="hash",
                    query=Term("list", b["key"]),
                    size=0,
                    aggs={"types": TermsAgg("type", 20)},
                )
            )
            for b in lists
        )
    )
    return {
        "total": top["hits"]["total"]["value"],
        "lists": [
            {
                "list": b["key"],
                "count": b["doc_count"],
                "types": r.get("aggregations", {}).get("types", {}).get("buckets", []),
            }
            for b, r in zip(lists, per_list, strict=True)
        ],
    }
