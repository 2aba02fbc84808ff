"""One line per search hit: what the result lists show for each document kind. Pure."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote as _quote

from documents import KINDS

SNIPPET = 240


def quote(value: str) -> str:
    return _quote(value, safe="")


def view_href(kind: str, doc_id: str, source: dict[str, Any]) -> str:
    """The console view of a document (every kind has one)."""
    if kind == "page":
        return f"/page/{quote(doc_id)}"
    if kind == "service":
        return f"/service/{quote(str(source.get('host', '')))}"
    if kind in ("observation", "torrent"):
        return f"/infohash/{quote(str(source.get('infohash', '')))}"
    if kind == "hash" and source.get("type") == "infohash":
        return f"/infohash/{quote(str(source.get('value', '')))}"
    if kind == "alert":
        return f"/alerts?id={quote(doc_id)}"
    return f"/doc/{quote(kind)}/{quote(doc_id)}"


def _title(kind: str, s: dict[str, Any]) -> str:
    if kind == "page":
        return s.get("title") or s.get("url", "")
    if kind == "service":
        return s.get("host", "")
    if kind == "observation":
        return f"{s.get('ip', '')}:{s.get('port', '')} {s.get('client', '')}".strip()
    if kind == "torrent":
        return s.get("name") or s.get("infohash", "")
    if kind == "hash":
        return f"{s.get('type', '')} {s.get('value', '')}"
    if kind == "alert":
        return f"{s.get('rule', '')}: {s.get('summary', '')}"
    return ""


def _detail(kind: str, s: dict[str, Any]) -> str:
    if kind == "page":
        return str(s.get("text", ""))[:SNIPPET]
    if kind == "service":
        state = "up" if s.get("up") else "down"
        return f"{s.get('title', '')} · pages {s.get('page_count', 0)} · {state}"
    if kind == "observation":
        return f"infohash {s.get('infohash', '')} · level L{s.get('level', 0)}"
    if kind == "torrent":
        return f"{s.get('infohash', '')} · {s.get('total_size') or '?'} bytes"
    if kind == "hash":
        return f"list {s.get('list', '')} · {s.get('category', '')}"
    if kind == "alert":
        return f"{s.get('severity', '')} · {s.get('status', '')}"
    return ""


def summarize(hit: dict[str, Any]) -> dict[str, Any]:
    source = hit.get("_source", {})
    kind = source.get("kind") or hit.get("_index", "")
    time_field = KINDS[kind].TIME_FIELD if kind in KINDS else ""
    return {
        "id": hit["_id"],
        "kind": kind,
        "title": _title(kind, source),
        "detail": _detail(kind, source),
        "time": source.get(time_field, ""),
        "href": view_href(kind, hit["_id"], source),
        "peer_href": f"/peer/{quote(str(source['ip']))}" if kind == "observation"
        and source.get("ip") else "",
        "flagged": bool(source.get("flagged")),
        "lists": sorted({m.get("list", "") for m in source.get("matches", [])}),
        "sort": hit.get("sort"),
    }
