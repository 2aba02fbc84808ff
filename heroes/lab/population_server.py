"""The population's one web server: every population onion on one port, told apart by Host.

Run as ``python -m heroes.lab.population_server CONFIG`` (the JSON that
:func:`heroes.lab.population.up` writes). It listens on 127.0.0.1 (``port``, where the
onions point, and ``admin_port``, never behind an onion), publishes the services on the
population's tor (:mod:`heroes.lab.population_onions`), and prints ``population ready``
once every published service's descriptor was uploaded.

Per request: static pages carry ``ETag`` and ``Last-Modified`` and answer 304 to a
matching conditional request; ``pop-slow`` waits ``slow_delay_s`` before the first byte;
``pop-limited`` answers 429 with ``Retry-After`` over its limit; ``pop-news`` has a visitor
counter (new text every visit) and a bulletin (new text every ``bulletin_period_s``);
``pop-calendar`` makes month pages without end; ``/lab-probe`` answers 204 at once on
every service (the start-up check). Every request is one JSON line in
``requests_log`` (status 503: dropped unanswered, the service being withdrawn); every
publish/withdraw one line in ``events_log``.

The admin port: ``GET /state``; ``POST /services/NAME/down`` (descriptor withdrawn);
``POST /services/NAME/up`` (answers once the descriptor was uploaded); ``POST
/slow?delay_s=N``. ``pop-flaky-schedule`` is withdrawn and re-published by itself every
``schedule.up_s``/``schedule.down_s``. Reads no settings (only its config file).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import mimetypes
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from heroes.lab import population_dynamic as dyn
from heroes.lab.population_onions import OnionPublisher, PopulationError
from heroes.lab.population_sites import (
    BULLETIN_PATH,
    CALENDAR,
    CALENDAR_PREFIX,
    COUNTER_PATH,
    FLAKY_SCHEDULE,
    LIMITED,
    NEWS,
    PROBE_PATH,
    SLOW,
)

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_S = 240.0
UP_TIMEOUT_S = 90.0


@dataclass
class _Page:
    body: bytes
    etag: str


@dataclass
class _State:
    config: dict[str, Any]
    by_host: dict[str, str]  # onion -> service name
    pages: dict[str, dict[str, _Page]]  # service -> path -> page
    limiter: dyn.RateLimiter
    requests: TextIO
    events: TextIO
    started: float = field(default_factory=time.time)
    visits: int = 0
    states: dict[str, str] = field(default_factory=dict)
    publisher: OnionPublisher | None = None
    slow_delay_s: float = 0.0

    def service(self, name: str) -> dict[str, Any]:
        return self.config["services"][name]

    def record(self, out: TextIO, entry: dict[str, Any]) -> None:
        out.write(json.dumps({"at": round(time.time(), 3), **entry}) + "\n")
        out.flush()


STATE = web.AppKey("state", _State)


def _load_pages(sites: Path, names: list[str]) -> dict[str, dict[str, _Page]]:
    pages: dict[str, dict[str, _Page]] = {}
    for name in names:
        own: dict[str, _Page] = {}
        root = sites / name
        for file in sorted(root.rglob("*")):
            if file.is_file():
                body = file.read_bytes()
                path = "/" + file.relative_to(root).as_posix()
                own[path] = _Page(body, dyn.etag_of(body))
        if "/index.html" in own:
            own["/"] = own["/index.html"]
        pages[name] = own
    return pages


def _html(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="text/html", charset="utf-8",
                        headers={"Server": "nginx", **(headers or {})})


def _conditional(request: web.Request, body: bytes, etag: str, modified_s: float,
                 extra: dict[str, str] | None = None) -> web.Response:
    headers = {"ETag": etag, "Last-Modified": dyn.http_date(modified_s), **(extra or {})}
    if dyn.not_modified(request.headers, etag, modified_s):
        return web.Response(status=304, headers={"Server": "nginx", **headers})
    kind = mimetypes.guess_type(request.path)[0]
    if kind is not None and not kind.startswith("text/"):
        # An operator site's favicon and picture, as a web server would type them.
        return web.Response(status=200, body=body, content_type=kind,
                            headers={"Server": "nginx", **headers})
    return _html(200, body, headers)


def _answer(state: _State, name: str, request: web.Request) -> web.Response:
    service = state.service(name)
    onion, seed, path = service["onion"], state.config["seed"], request.path
    if name == NEWS and path == COUNTER_PATH:
        state.visits += 1
        body = dyn.counter_page(name, onion, seed, state.visits)
        return _html(200, body, {"ETag": dyn.etag_of(body), "Cache-Control": "no-cache",
                                 "Last-Modified": dyn.http_date(time.time())})
    if name == NEWS and path == BULLETIN_PATH:
        period = state.config["bulletin_period_s"]
        version = int((time.time() - state.started) // period)
        body = dyn.bulletin_page(name, onion, seed, version)
        return _conditional(request, body, dyn.etag_of(body), state.started + version * period)
    if name == CALENDAR and path.startswith(CALENDAR_PREFIX):
        month = dyn.calendar_month(path)
        if month is None:
            return _html(404, b"<html><body>no such month</body></html>")
        body = dyn.calendar_page(name, onion, seed, *month)
        return _conditional(request, body, dyn.etag_of(body), state.config["last_modified"])
    page = state.pages[name].get(path)
    if page is None:
        return _html(404, b"<html><body>not found</body></html>")
    return _conditional(request, page.body, page.etag, state.config["last_modified"])


async def _handle(request: web.Request) -> web.StreamResponse:
    state: _State = request.app[STATE]
    host = (request.host or "").split(":", 1)[0].lower()
    name = state.by_host.get(host)
    if name is None:
        response = _html(404, b"<html><body>no such service</body></html>")
    elif state.states.get(name) == "down":
        # Withdrawn: nothing answers, also on a keep-alive connection opened before.
        if request.transport is not None:
            request.transport.close()
        response = web.Response(status=503)  # never delivered; logged as such
    elif request.path == PROBE_PATH:
        response = web.Response(status=204, headers={"Server": "nginx"})
    else:
        if name == SLOW and state.slow_delay_s > 0:
            await asyncio.sleep(state.slow_delay_s)  # the slow onion: first byte this late
        wait = state.limiter.check(time.monotonic()) if name == LIMITED else 0
        if wait:
            response = _html(429, b"<html><body>Too many requests.</body></html>",
                             {"Retry-After": str(wait)})
        else:
            response = _answer(state, name, request)
    state.record(state.requests, {
        "service": name, "host": host, "method": request.method, "path": request.path,
        "status": response.status, "if_none_match": "If-None-Match" in request.headers,
        "if_modified_since": "If-Modified-Since" in request.headers})
    return response


def _secret(state: _State, name: str) -> bytes:
    return base64.b64decode(state.service(name)["secret"])


async def set_published(state: _State, name: str, up: bool, cause: str) -> bool:
    """Publish or withdraw one service; True once done (for ``up``: the descriptor went up)."""
    if state.publisher is None:
        raise PopulationError("the population's tor is not attached yet")
    onion = state.service(name)["onion"]
    if up:
        await asyncio.to_thread(state.publisher.publish, onion, _secret(state, name))
        missing = await asyncio.to_thread(state.publisher.wait_uploaded, [onion], UP_TIMEOUT_S)
        ok = not missing
    else:
        await asyncio.to_thread(state.publisher.withdraw, onion)
        ok = True
    state.states[name] = "up" if up else "down"
    state.record(state.events, {"service": name, "onion": onion, "state": state.states[name],
                                "cause": cause, "uploaded": ok if up else None})
    return ok


async def _admin_state(request: web.Request) -> web.Response:
    state: _State = request.app[STATE]
    return web.json_response({"services": state.states, "slow_delay_s": state.slow_delay_s,
                              "started": state.started})


async def _admin_set(request: web.Request) -> web.Response:
    state: _State = request.app[STATE]
    name, action = request.match_info["name"], request.match_info["action"]
    if name not in state.states or state.states[name] == "dead" or action not in ("up", "down"):
        return web.json_response({"error": f"no published service {name!r} or action "
                                           f"{action!r} (up, down)"}, status=404)
    try:
        ok = await set_published(state, name, action == "up", "command")
    except PopulationError as exc:
        return web.json_response({"error": str(exc)}, status=502)
    return web.json_response({"service": name, "state": state.states[name], "uploaded": ok},
                             status=200 if ok else 504)


async def _admin_slow(request: web.Request) -> web.Response:
    state: _State = request.app[STATE]
    raw = request.query.get("delay_s", "")
    try:
        delay = float(raw)
    except ValueError:
        delay = -1.0
    if delay < 0:
        return web.json_response({"error": f"delay_s must be a number >= 0, not {raw!r}"},
                                 status=400)
    state.slow_delay_s = delay
    return web.json_response({"slow_delay_s": delay})


async def _schedule(state: _State) -> None:
    """Withdraw and re-publish the scheduled intermittent service, for ever."""
    up_s, down_s = state.config["schedule"]["up_s"], state.config["schedule"]["down_s"]
    while True:
        await asyncio.sleep(up_s)
        await set_published(state, FLAKY_SCHEDULE, False, "schedule")
        await asyncio.sleep(down_s)
        await set_published(state, FLAKY_SCHEDULE, True, "schedule")


def make_state(config: dict[str, Any]) -> _State:
    """The server's state from its config (pages loaded, logs opened); no tor attached."""
    names = [n for n, s in config["services"].items() if s["published"]]
    limit = config["rate_limit"]
    state = _State(
        config=config,
        by_host={s["onion"]: n for n, s in config["services"].items() if s["published"]},
        pages=_load_pages(Path(config["sites_dir"]), names),
        limiter=dyn.RateLimiter(limit["limit"], limit["window_s"]),
        requests=open(config["requests_log"], "a", encoding="utf-8"),
        events=open(config["events_log"], "a", encoding="utf-8"),
        slow_delay_s=float(config["slow_delay_s"]),
    )
    state.states = {n: ("up" if s["published"] else "dead")
                    for n, s in config["services"].items()}
    return state


def build_apps(state: _State) -> tuple[web.Application, web.Application]:
    """The onions' application and the admin one, over one state."""
    site_app, admin_app = web.Application(), web.Application()
    site_app[STATE] = admin_app[STATE] = state
    site_app.router.add_route("*", "/{tail:.*}", _handle)
    admin_app.router.add_get("/state", _admin_state)
    admin_app.router.add_post("/services/{name}/{action}", _admin_set)
    admin_app.router.add_post("/slow", _admin_slow)
    return site_app, admin_app


async def serve(config: dict[str, Any]) -> None:
    state = make_state(config)
    site_app, admin_app = build_apps(state)
    runners = [web.AppRunner(site_app, access_log=None), web.AppRunner(admin_app, access_log=None)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    schedule: asyncio.Task[None] | None = None
    try:
        for runner, port in zip(runners, (config["port"], config["admin_port"]), strict=True):
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
        state.publisher = await asyncio.to_thread(
            OnionPublisher.connect, config["control_port"], config["port"], 60.0)
        onions = []
        for name, service in config["services"].items():
            if service["published"]:
                await asyncio.to_thread(state.publisher.publish, service["onion"],
                                        _secret(state, name))
                onions.append(service["onion"])
        missing = await asyncio.to_thread(state.publisher.wait_uploaded, onions,
                                          PUBLISH_TIMEOUT_S)
        if missing:
            raise PopulationError(f"no descriptor uploaded in {PUBLISH_TIMEOUT_S:.0f} s for "
                                  f"{len(missing)} services, e.g. {missing[0]}")
        for name in state.by_host.values():
            state.record(state.events, {"service": name, "onion": state.service(name)["onion"],
                                        "state": "up", "cause": "start", "uploaded": True})
        if config["schedule"]["up_s"] > 0:
            schedule = asyncio.create_task(_schedule(state))
        print("population ready", flush=True)
        await stop.wait()
    finally:
        if schedule is not None:
            schedule.cancel()
        if state.publisher is not None:
            state.publisher.close()  # tor drops every service of this connection
        for runner in reversed(runners):
            await runner.cleanup()
        state.requests.close()
        state.events.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m heroes.lab.population_server CONFIG.json", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        asyncio.run(serve(json.loads(Path(args[0]).read_text())))
    except PopulationError as exc:
        log.error("%s", exc)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
