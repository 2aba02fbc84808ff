"""The cluster views and the timeline view of the console.

``/clusters`` lists the clusters, largest first; ``/cluster/{id}`` shows one cluster (by id,
or the cluster a member onion is in): its members, every edge with the value that made it,
when each side carried the value and from which record, and a graph drawn on the server as
inline SVG (presentation attributes only: no script, no style attribute, no external asset,
so the console's Content-Security-Policy stays as it is). ``/timeline/{value}`` shows where
and when a phone number or an e-mail address appeared. Reads ``data_dir`` (the analysis
store) through the console's settings.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from analysis.clusters import cluster_by_id, cluster_of, clusters
from analysis.state import AnalysisDB, analysis_db_path
from analysis.timeline import timeline as value_timeline
from documents.cluster import Cluster
from heroes.console.searchreq import RequestError
from heroes.console.state import READER, SETTINGS
from heroes.console.views import NotFound
from identifiers import InvalidIdentifier

SVG_SIZE = 480
# One colour per edge type (strong links drawn solid, weak ones dashed).
EDGE_COLOURS = {
    "wallet": "#b8860b", "pgp": "#6a3d9a", "pgp_keyid": "#6a3d9a", "email": "#1f78b4",
    "phone": "#33a02c", "analytics": "#e31a1c", "favicon": "#ff7f00", "tls": "#a6761d",
    "text_near": "#666666", "pdq_near": "#999999", "infohash": "#17becf",
}
MAX_DRAWN = 60


def member_href(kind: str, key: str) -> str:
    """Where a cluster member is shown: its service or infohash view, a page's captures."""
    if kind == "torrent":
        return f"/infohash/{quote(key, safe='')}"
    if kind == "page":
        return "/search?" + urlencode({"kind": "page", "q": f'url:"{key}"'})
    return f"/service/{quote(key, safe='')}"


async def _backend(request: web.Request) -> Any:
    return await request.app[READER].get()


def _int(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestError(name, f"expected a whole number, got {raw!r}") from None
    if not 0 <= value <= high:
        raise RequestError(name, f"expected 0 to {high}, got {value}")
    return value


async def cluster_list(request: web.Request) -> dict[str, Any]:
    limit = _int(request, "limit", 50, 500)
    offset = _int(request, "offset", 0, 9_000)
    total, found = await clusters(await _backend(request), limit=limit, offset=offset)
    return {"total": total, "offset": offset, "limit": limit, "clusters": [
        {"cluster_id": c.cluster_id, "size": c.size, "score": c.score,
         "updated_at": c.updated_at.isoformat(), "types": sorted({e.type for e in c.edges})}
        for c in found]}


async def cluster_view(request: web.Request) -> dict[str, Any]:
    key = request.match_info["id"]
    backend = await _backend(request)
    found = await cluster_by_id(backend, key)
    if found is not None and found.merged_into:
        found = await cluster_by_id(backend, found.merged_into)
    if found is None or not found.members:
        found = await cluster_of(backend, key)
    if found is None:
        raise NotFound(f"no cluster {key!r} and no cluster with member {key!r}")
    return {"cluster": found.source(), "_graph": graph(found),
            "_href": {m.key: member_href(m.kind, m.key) for m in found.members}}


def graph(cluster: Cluster) -> dict[str, Any]:
    """Node and line positions of the cluster drawn on a circle (deterministic)."""
    members = cluster.members[:MAX_DRAWN]
    n = max(len(members), 1)
    centre, radius = SVG_SIZE / 2, SVG_SIZE / 2 - 60
    nodes, at = [], {}
    for i, m in enumerate(members):
        angle = 2 * math.pi * i / n - math.pi / 2
        x = round(centre + radius * math.cos(angle), 1)
        y = round(centre + radius * math.sin(angle), 1)
        at[m.key] = (x, y)
        nodes.append({"key": m.key, "label": m.key[:10] + "…" if len(m.key) > 12 else m.key,
                      "x": x, "y": y, "kind": m.kind,
                      "href": member_href(m.kind, m.key)})
    lines = []
    for e in cluster.edges:
        if e.a in at and e.b in at:
            (x1, y1), (x2, y2) = at[e.a], at[e.b]
            lines.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2, "type": e.type,
                          "value": e.value, "colour": EDGE_COLOURS.get(e.type, "#444444"),
                          "dash": "" if e.weight >= 1 else "4 3"})
    return {"size": SVG_SIZE, "nodes": nodes, "lines": lines,
            "legend": sorted({(line["type"], line["colour"]) for line in lines}),
            "truncated": len(cluster.members) > MAX_DRAWN}


async def timeline_view(request: web.Request) -> dict[str, Any]:
    value = request.match_info["value"]
    db = AnalysisDB(analysis_db_path(request.app[SETTINGS].data_dir))
    try:
        found = value_timeline(db, value)
    except InvalidIdentifier as exc:
        raise RequestError(
            "value", f"{value!r} is neither a phone number nor an e-mail address: {exc}"
        ) from exc
    finally:
        db.close()
    return {"type": found.type, "value": found.value, "spans": [
        {"service": s.service, "first_seen": s.first_seen.isoformat(),
         "last_seen": s.last_seen.isoformat(), "pages": s.pages, "langs": list(s.langs),
         "records": list(s.records), "urls": list(s.urls)} for s in found.spans]}
