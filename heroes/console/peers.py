"""The console's peers: the ranked list, one peer explained, its export, its assignment.

``/peers`` (sortable by any column through ``sort``/``order``; narrowed by ``since``,
``until``, ``min_level``, ``by64``) and ``/peer/{ip}`` are data functions served as HTML and
JSON by :func:`heroes.console.routes.view`, which audits each view. The export
(``/peer/{ip}/export.csv|json``) and the assignment (``POST /peer/{ip}/assign``) are
audited here. Reads ``[triage]``, ``[enrichment]`` and the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from heroes.console.respond import audit, form_fields, run
from heroes.console.searchreq import RequestError
from heroes.console.security import session_of
from heroes.console.state import READER, SETTINGS
from heroes.console.views import NotFound
from triage import export
from triage.args import parse_ip, parse_min_level, parse_range
from triage.assignments import Assignments, assignments_path
from triage.errors import TriageError
from triage.peer import PeerNotFound
from triage.ranking import Scope
from triage.service import Triage

SORTS = ("rank", "score", "ip", "swarms", "severity", "level", "days", "completeness",
         "last_seen", "first_seen", "observations")
PAGE = 200


@contextlib.asynccontextmanager
async def _triage(request: web.Request) -> AsyncIterator[Triage]:
    settings = request.app[SETTINGS]
    backend = await request.app[READER].get()
    try:
        triage = Triage(backend, settings.triage, settings.enrichment, Path(settings.data_dir))
    except TriageError as exc:
        raise RequestError(exc.param, exc.message) from exc
    try:
        yield triage
    except TriageError as exc:
        raise RequestError(exc.param, exc.message) from exc
    except PeerNotFound as exc:
        raise NotFound(str(exc)) from exc
    finally:
        triage.close()


def _scope(request: web.Request, now: datetime) -> Scope:
    q = request.query
    try:
        since, until = parse_range(q.get("since") or None, q.get("until") or None, now)
        return Scope(since, until, parse_min_level(q.get("min_level") or 0, "min_level"))
    except TriageError as exc:
        raise RequestError(exc.param, exc.message) from exc


def _ip(request: web.Request) -> str:
    try:
        return parse_ip(request.match_info["ip"])
    except TriageError as exc:
        raise RequestError(exc.param, exc.message) from exc


def sort_rows(rows: list[dict[str, Any]], key: str, order: str) -> list[dict[str, Any]]:
    if key not in SORTS:
        raise RequestError("sort", f"{key!r} is not one of {', '.join(SORTS)}")
    if order not in ("asc", "desc"):
        raise RequestError("order", f"{order!r} is not asc or desc")
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    present.sort(key=lambda r: r["rank"])
    present.sort(key=lambda r: r[key], reverse=order == "desc")  # stable: ties by rank
    return present + missing


async def peers(request: web.Request) -> dict[str, Any]:
    now = datetime.now(UTC)
    scope = _scope(request, now)
    q = request.query
    by64 = q.get("by64", "") in ("1", "true", "on")
    key, order = q.get("sort", "rank"), q.get("order", "asc")
    async with _triage(request) as triage:
        rows = await triage.rows(scope, now, prefix64=by64)
    shown = sort_rows(rows, key, order)[:PAGE]
    params = {k: v for k, v in q.items() if k not in ("sort", "order") and v}
    return {"peers": shown, "total": len(rows), "sort": key, "order": order,
            "filters": params, "weights": request.app[SETTINGS].triage.model_dump(),
            "_sorts": SORTS}


async def peer(request: web.Request) -> dict[str, Any]:
    now = datetime.now(UTC)
    ip = _ip(request)
    async with _triage(request) as triage:
        return await triage.peer(ip, _scope(request, now), now)


async def export_peer(request: web.Request) -> web.StreamResponse:
    fmt = request.match_info["fmt"]

    async def act(_: web.Request) -> dict[str, Any]:
        ip = _ip(request)
        if fmt not in export.FORMATS:
            raise RequestError("format", f"{fmt!r} is not one of {', '.join(export.FORMATS)}")
        async with _triage(request) as triage:
            table, meta = await triage.export_table(ip)
        await audit(request, "export", target=f"peer/{ip}", format=fmt, rows=len(table))
        body = export.to_csv(table) if fmt == "csv" else export.to_json(ip, table, meta)
        return {"ip": ip, "body": body}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"peer-{result['ip'].replace(':', '_')}-{stamp}.{fmt}"
    return web.Response(
        text=result["body"], content_type="text/csv" if fmt == "csv" else "application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def assign(request: web.Request) -> web.StreamResponse:
    user = session_of(request).user.name

    async def act(_: web.Request) -> dict[str, Any]:
        ip = _ip(request)
        form = await form_fields(request)
        store = Assignments(assignments_path(request.app[SETTINGS].data_dir))
        try:
            if form.get("release"):
                item = await asyncio.to_thread(store.release, ip, user)
                if item is None:
                    raise RequestError("ip", f"{ip} is not assigned")
                await audit(request, "release", target=f"peer/{ip}",
                            case_number=item.case_number)
                return {"ip": ip, "released": True}
            try:
                item = await asyncio.to_thread(
                    store.assign, ip, form.get("case", ""), form.get("analyst", "") or user,
                    user, form.get("note", ""))
            except TriageError as exc:
                raise RequestError(exc.param, exc.message) from exc
        finally:
            store.close()
        await audit(request, "assign", target=f"peer/{ip}",
                    case_number=item.case_number, analyst=item.analyst)
        return {"ip": ip, "assignment": item.__dict__}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    if request.path.startswith("/api/"):
        return web.json_response(result)
    raise web.HTTPSeeOther(f"/peer/{result['ip']}")
