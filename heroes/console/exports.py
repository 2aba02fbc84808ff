"""The console's export buttons: an alert, service, infohash or cluster as MISP or STIX.

``POST /export/{kind}/{id}`` (and under ``/api``) with a ``format`` field (``misp`` or
``stix``) and an optional ``tlp`` answers the file as a download; the guard checks the
session's CSRF token, and every export is audited (who, what, format, TLP, how many values
and peers). Reads ``[exchange]`` (TLP, tags, producer, whether peers leave) and the index.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from config.sections.exchange import TLP_LEVELS
from exchange.collect import SUBJECTS, collect
from exchange.errors import BadSubject, SubjectNotFound
from exchange.importing import EXCHANGE_FORMATS
from exchange.misp_export import build_event, event_json
from exchange.stix_export import build_bundle, bundle_json
from heroes.console.respond import audit, form_fields, run
from heroes.console.searchreq import RequestError
from heroes.console.state import READER, SETTINGS
from heroes.console.views import NotFound


async def export(request: web.Request) -> web.StreamResponse:
    kind, key = request.match_info["kind"], request.match_info["id"]

    async def act(_: web.Request) -> dict[str, Any]:
        if kind not in SUBJECTS:
            raise RequestError("kind", f"{kind!r} is not one of {', '.join(SUBJECTS)}")
        form = await form_fields(request)
        fmt = form.get("format", "").lower()
        if fmt not in EXCHANGE_FORMATS:
            raise RequestError("format", f"{fmt!r} is not one of "
                               f"{', '.join(EXCHANGE_FORMATS)}")
        settings = request.app[SETTINGS].exchange
        tlp = form.get("tlp") or settings.tlp
        if tlp not in TLP_LEVELS:
            raise RequestError("tlp", f"{tlp!r} is not one of {', '.join(TLP_LEVELS)}")
        try:
            facts = await collect(await request.app[READER].get(), kind, key, settings)
        except SubjectNotFound as exc:
            raise NotFound(str(exc)) from exc
        except BadSubject as exc:
            raise RequestError("id", str(exc)) from exc
        if fmt == "misp":
            body = event_json(build_event(facts, tlp=tlp, producer=settings.producer,
                                          tags=settings.tags))
        else:
            body = bundle_json(build_bundle(facts, tlp=tlp, producer=settings.producer,
                                            tags=settings.tags))
        await audit(request, "export", target=f"{kind}/{facts.subject.key}", format=fmt,
                    tlp=tlp, values=facts.count(), peers=len(facts.peers))
        return {"body": body, "name": f"{kind}-{facts.subject.key}-{fmt}"}

    result = await run(request, act)
    if isinstance(result, web.Response):
        return result
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in result["name"])[:120]
    return web.Response(
        text=result["body"], content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{safe}-{stamp}.json"'})
