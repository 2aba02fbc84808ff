"""The metrics and health listener of a process: ``/metrics``, ``/healthz`` and ``/readyz``.

:class:`MetricsRole` is a role like the others (``async with role: await role.run(stop)``):
entry starts watching the sources it was given and listens on ``[metrics] listen``
(:class:`MetricsListenError` when the address is taken, so a busy port stops start-up),
``run`` serves until stopped (never on its own: a command whose roles end by themselves
names them in ``run_roles(until=...)``), exit stops listening and forgets the sources. Every role of
the process shares it and the one registry of :mod:`telemetry.metrics`.

- ``GET /metrics``: the registry in Prometheus text format.
- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process runs its loop.
- ``GET /readyz``: each readiness check (the index backend answers, the spool is writable,
  Redis answers when configured) runs with ``[metrics] ready_timeout_s``; 200
  ``{"status": "ready", "checks": {...}}`` when all pass, else 503 ``"not ready"`` with the
  failing check's message (credentials in URLs masked).

Reads ``[metrics]``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from config.secrets import mask_urls
from config.sections.telemetry import MetricsSettings
from errors import HeroesError
from telemetry.metrics import REGISTRY, Sampled, Source

log = logging.getLogger(__name__)

# A check returns when its dependency answers and raises (any exception) when it does not.
Check = Callable[[], Awaitable[object]]
# A source the role watches while it runs: (metric, key, source), see Sampled.watch.
Watched = tuple[Sampled, str, Source]


class MetricsListenError(HeroesError):
    """``metrics.listen`` cannot be bound (the address is taken or not this machine's)."""


class MetricsRole:
    """Serves metrics and health on ``settings.listen`` while the other roles run."""

    name = "metrics"

    def __init__(self, settings: MetricsSettings, checks: Mapping[str, Check] | None = None,
                 *, sources: Sequence[Watched] = (), registry: CollectorRegistry = REGISTRY):
        endpoint = settings.endpoint
        if endpoint is None:
            raise ValueError("metrics.listen is empty: metrics are off")
        self.host, self.port = endpoint
        self.timeout_s = settings.ready_timeout_s
        self.checks = dict(checks or {})
        self.registry = registry
        self.sources = list(sources)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def __aenter__(self) -> MetricsRole:
        for metric, key, source in self.sources:
            metric.watch(key, source)
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        self._runner = runner
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await self.__aexit__()
            raise MetricsListenError(
                f"metrics.listen {self.host}:{self.port}: cannot listen: {exc.strerror} (choose "
                "another port, or leave metrics.listen empty)") from exc
        except BaseException:
            await self.__aexit__()
            raise
        # Port 0 picks a free one: report the one the socket got.
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("metrics on http://%s:%d/metrics (health: /healthz, /readyz)",
                 self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for metric, key, _ in self.sources:
            metric.forget(key)

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()

    async def _metrics(self, _: web.Request) -> web.Response:
        # On the loop on purpose: sources read the roles' state, which only the loop changes.
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, _: web.Request) -> web.Response:
        results = await asyncio.gather(*(self._check(c) for c in self.checks.values()))
        checks = dict(zip(self.checks, results, strict=True))
        ready = all(r == "ok" for r in results)
        return web.json_response({"status": "ready" if ready else "not ready", "checks": checks},
                                 status=200 if ready else 503)

    async def _check(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), timeout=self.timeout_s)
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except Exception as exc:
            return mask_urls(str(exc) or type(exc).__name__)
        return "ok"
