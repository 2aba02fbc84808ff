"""State-changing console actions: acknowledge an alert, export evidence, import a hash list.

Each needs the session's CSRF token (checked by the guard), is audited, and answers JSON
under ``/api`` or a page otherwise. Reads the data directory (exports, uploads).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from alerting.cluster_state import acknowledge as cluster_acknowledge
from heroes.console import evidence, inbox, views
from heroes.console.respond import audit, context, fail, public, run
from heroes.console.searchreq import RequestError
from heroes.console.security import session_of
from heroes.console.state import READER, SETTINGS, STORE
from heroes.console.upload import import_upload
from index.backends.es_alerts import cluster_alerts_for
from index.hashsets.cluster_lists import cluster_lists_for

log = logging.getLogger(__name__)


async def _comment(request: web.Request) -> str:
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise RequestError("body", "not JSON") from exc
        return str(body.get("comment", "")) if isinstance(body, dict) else ""
    form = await request.post()
    return str(form.get("comment", ""))


async def acknowledge(request: web.Request) -> web.StreamResponse:
    alert_id = request.match_info["id"]
    user = session_of(request).user.name

    async def act(_: web.Request) -> dict[str, Any]:
        comment = await _comment(request)
        result = await inbox.acknowledge(
            await request.app[READER].get(),
            request.app[STORE].append,
            alert_id,
            user=user,
            comment=comment,
        )
        cluster = cluster_alerts_for(request.app[SETTINGS])
        if cluster is not None:  # the alert's shared record, which every machine reads
            try:
                await asyncio.to_thread(cluster_acknowledge, cluster, alert_id, user,
                                        result["comment"], time.time())
            finally:
                cluster.close()
        await audit(request, "acknowledge", target=alert_id, comment=comment)
        return result

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    if request.path.startswith("/api/"):
        return web.json_response(result)
    raise web.HTTPSeeOther(f"/alerts?acknowledged={alert_id}")


async def export_evidence(request: web.Request) -> web.StreamResponse:
    raw = request.match_info["infohash"]

    async def act(_: web.Request) -> dict[str, Any]:
        infohash = views.canonical_infohash(raw)
        settings = request.app[SETTINGS]
        out, manifest = await asyncio.to_thread(evidence.export_bundle, settings, infohash)
        await audit(
            request,
            "export",
            target=infohash,
            output=out.name,
            records=manifest.get("records"),
            head_hash=manifest.get("head_hash"),
        )
        return {"infohash": infohash, "output": str(out), "manifest": manifest, "_dir": out}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    if request.path.startswith("/api/"):
        return web.json_response(public(result))
    body = await asyncio.to_thread(evidence.zip_bundle, result["_dir"])
    return web.Response(
        body=body,
        content_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{result["_dir"].name}.zip"'},
    )


async def import_hashes(request: web.Request) -> web.StreamResponse:
    if not session_of(request).user.is_admin:
        return fail(request, 403, "importing hash lists needs the admin role")

    async def act(_: web.Request) -> dict[str, Any]:
        if request.content_type != "multipart/form-data":
            raise RequestError("file", "upload the list as multipart/form-data with a 'file' part")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise RequestError("file", "no file was uploaded")
        fields = {k: str(form.get(k, "")).strip() for k in ("list", "format", "type", "category")}
        content = await asyncio.to_thread(upload.file.read)
        cluster = cluster_lists_for(request.app[SETTINGS])
        try:
            report = await asyncio.to_thread(
                import_upload,
                request.app[SETTINGS].data_dir,
                request.app[STORE].append,
                filename=upload.filename or "upload",
                content=content,
                list_name=fields["list"],
                fmt=fields["format"],
                type_name=fields["type"],
                category=fields["category"],
                max_document_bytes=request.app[SETTINGS].index.max_document_bytes,
                cluster=cluster,
            )
        finally:
            if cluster is not None:
                cluster.close()
        await audit(
            request,
            "import",
            target=report["list"],
            file=report["file"],
            imported=report["imported"],
            problems=report["problem_count"],
        )
        return report

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    # Bad lines make the answer a 400 even though every good line was imported: the client
    # asked for the whole file, and the report says what was kept.
    status = 400 if result["problem_count"] else 200
    if request.path.startswith("/api/"):
        if status == 400:
            message = f"{result['problem_count']} entries could not be imported " \
                f"({result['imported']} imported, {result['unchanged']} unchanged)"
            result = {**result, "error": {"status": 400, "message": message, "param": "file"}}
        return web.json_response(result, status=status)
    return aiohttp_jinja2.render_template(
        "imported.html", request, context(request, result), status=status
    )
