"""The console's URLs: each view is one data function served twice, as HTML and as JSON.

``/x`` renders a template, ``/api/x`` returns the same dict as JSON; both record the access
in the audit log. Errors become words: a bad parameter is a 400 naming it (shown at the
search box on the search page), a missing document a 404, a backend outage a 503.
State-changing actions are in :mod:`heroes.console.actions`, logging in and out in
:mod:`heroes.console.login`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from documents import KINDS
from errors import BackendUnavailable, QueryError
from heroes.console import analysis as analysis_pages
from heroes.console import hits, hygiene, inbox, peers, pivots, searchreq, views
from heroes.console import sessions as session_pages
from heroes.console.actions import acknowledge, export_evidence, import_hashes
from heroes.console.exports import export as export_subject
from heroes.console.login import api_login, login, login_form, logout
from heroes.console.openapi import openapi
from heroes.console.respond import DataFn, audit, context, fail, public, run
from heroes.console.searchreq import RequestError
from heroes.console.security import USERS, session_of
from heroes.console.state import AUDIT, READER, SETTINGS
from heroes.console.upload import UPLOAD_FORMATS
from index.hashsets.registry import HASH_TYPES

log = logging.getLogger(__name__)


def view(
    app: web.Application,
    path: str,
    template: str,
    fn: DataFn,
    action: str = "view",
    *,
    admin: bool = False,
) -> None:
    """Serve ``fn`` at ``path`` (HTML) and ``/api`` + ``path`` (JSON), audited."""

    async def load(request: web.Request) -> dict[str, Any] | web.Response:
        if admin and not session_of(request).user.is_admin:
            await audit(request, action, target=request.path_qs, denied=True)
            return fail(request, 403, "this needs the admin role")
        await audit(request, action, target=request.path_qs)
        return await run(request, fn)

    async def html(request: web.Request) -> web.StreamResponse:
        data = await load(request)
        if isinstance(data, web.Response):
            return data
        return aiohttp_jinja2.render_template(template, request, context(request, data))

    async def api(request: web.Request) -> web.StreamResponse:
        data = await load(request)
        if isinstance(data, web.Response):
            return data
        return web.json_response(public(data))

    app.router.add_get(path, html)
    app.router.add_get("/api" + path, api)


# -- data functions ------------------------------------------------------------------------


async def _backend(request: web.Request) -> Any:
    return await request.app[READER].get()


async def _page(request: web.Request) -> dict[str, Any]:
    data = await views.page(await _backend(request), request.match_info["id"])
    return {**data, **await hits.decisions_of(request, "page", request.match_info["id"]),
            **await pivots.view_of(request, "page", data["page"])}


async def _service(request: web.Request) -> dict[str, Any]:
    data = await views.service(await _backend(request), request.match_info["host"])
    return {**data, **await pivots.view_of(request, "service", data["service"])}


async def _infohash(request: web.Request) -> dict[str, Any]:
    return await views.infohash(await _backend(request), request.match_info["infohash"])


async def _entity(request: web.Request) -> dict[str, Any]:
    return await views.entity(
        await _backend(request), request.match_info["type"], request.match_info["value"]
    )


async def _document(request: web.Request) -> dict[str, Any]:
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise RequestError("kind", f"{kind!r} is not a document kind")
    return await views.document(await _backend(request), kind, request.match_info["id"])


async def _alerts(request: web.Request) -> dict[str, Any]:
    q = request.query
    data = await inbox.alerts(
        await _backend(request),
        status=q.get("status", ""),
        rule=q.get("rule", ""),
        severity=q.get("severity", ""),
        alert_id=q.get("id", ""),
        after=q.get("after", ""),
    )
    return {**data, "_acknowledged": q.get("acknowledged", "")}


async def _hashes(request: web.Request) -> dict[str, Any]:
    data = await inbox.hash_lists(await _backend(request))
    return {**data, "formats": list(UPLOAD_FORMATS), "types": HASH_TYPES.names(),
            **await hits.precision(request), **await hygiene.lists_state(request)}


async def _users(request: web.Request) -> dict[str, Any]:
    users = request.app[USERS].list()
    return {"users": [{"name": u.name, "role": u.role} for u in users]}


async def _audit(request: web.Request) -> dict[str, Any]:
    log_ = request.app[AUDIT]
    q = request.query
    limit = request.app[SETTINGS].console.audit_page_size
    records, problem = await asyncio.gather(
        asyncio.to_thread(
            log_.tail, limit, action=q.get("action") or None, user=q.get("user") or None
        ),
        asyncio.to_thread(log_.head_status),
    )
    return {
        "records": records,
        "chain_ok": problem["ok"],
        "chain_problem": "; ".join(problem["problems"]),
        "heads": problem,
    }


# -- search ----------------------------------------------------------------------------------


async def _search_data(request: web.Request) -> tuple[dict[str, Any], int]:
    query = request.query
    await audit(
        request,
        "search",
        query=query.get("q", ""),
        kind=query.get("kind", "page"),
        filters=query.getall("f", []) or None,
        target=request.path_qs,
    )
    try:
        req = searchreq.parse_request(query)
        return await views.search(await _backend(request), req), 200
    except RequestError as exc:
        error = {"param": exc.param, "message": exc.message}
    except QueryError as exc:
        error = {"param": "q", "message": str(exc)}
    except BackendUnavailable as exc:
        return {"error": {"param": "", "message": f"the index is unavailable: {exc}"}}, 503
    return {"error": error, "q": query.get("q", ""), "kind": query.get("kind", "page")}, 400


async def search_html(request: web.Request) -> web.StreamResponse:
    data, status = await _search_data(request)
    if status != 200:
        kind = data.get("kind") if data.get("kind") in KINDS else "page"
        data = {**data, "_req": searchreq.SearchRequest(kind=kind, q=data.get("q", ""))}
    page = context(request, {**data, "kinds": searchreq.KIND_ORDER})
    return aiohttp_jinja2.render_template("search.html", request, page, status=status)


async def search_api(request: web.Request) -> web.StreamResponse:
    data, status = await _search_data(request)
    return web.json_response(public(data), status=status)


# -- actions ---------------------------------------------------------------------------------


async def api_openapi(request: web.Request) -> web.StreamResponse:
    return web.json_response(openapi())


async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/search")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", root)
    r.add_get("/login", login_form)
    r.add_post("/login", login)
    r.add_post("/api/login", api_login)
    r.add_post("/logout", logout)
    r.add_get("/api/openapi.json", api_openapi)
    r.add_get("/search", search_html)
    r.add_get("/api/search", search_api)
    view(app, "/page/{id}", "page.html", _page)
    view(app, "/service/{host}", "service.html", _service)
    view(app, "/infohash/{infohash}", "infohash.html", _infohash)
    view(app, "/entity/{type}/{value}", "entity.html", _entity)
    view(app, "/doc/{kind}/{id}", "doc.html", _document)
    view(app, "/alerts", "alerts.html", _alerts)
    view(app, "/hashes", "hashes.html", _hashes)
    view(app, "/audit", "audit.html", _audit, "audit_view", admin=True)
    view(app, "/users", "users.html", _users, admin=True)
    view(app, "/peers", "peers.html", peers.peers)
    view(app, "/peer/{ip}", "peer.html", peers.peer)
    view(app, "/sessions", "sessions.html", session_pages.sessions)
    view(app, "/clusters", "clusters.html", analysis_pages.cluster_list)
    view(app, "/cluster/{id}", "cluster.html", analysis_pages.cluster_view)
    view(app, "/timeline/{value}", "timeline.html", analysis_pages.timeline_view)
    r.add_get("/peer/{ip}/export.{fmt}", peers.export_peer)
    for prefix in ("", "/api"):
        r.add_post(prefix + "/peer/{ip}/assign", peers.assign)
        r.add_post(prefix + "/sessions/import", session_pages.import_session)
        r.add_post(prefix + "/sessions/{id}/remove", session_pages.remove_session)
        r.add_post(prefix + "/alerts/{id}/ack", acknowledge)
        r.add_post(prefix + "/infohash/{infohash}/export", export_evidence)
        r.add_post(prefix + "/export/{kind}/{id}", export_subject)
        r.add_post(prefix + "/hashes/import", import_hashes)
        r.add_post(prefix + "/hits/{kind}/{id}/decide", hits.decide)
        r.add_post(prefix + "/hashes/quarantine/{action}", hygiene.quarantine_action)
