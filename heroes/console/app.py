"""Build the console's aiohttp application, and the console role that serves it.

The application keeps one read backend open for its lifetime (refreshed at most every
``[index] reader_reload_s``), appends writes (acknowledgements) to the spool, and - when
``[console] drain`` is on - runs the drain role (:class:`index.store.DrainRole`) for its
lifetime, as every long-lived process may. :class:`ConsoleRole` listens on entry, serves
until stopped and, on exit, stops listening and closes the application's resources in
reverse order. Reads ``[console]`` and ``[index]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from config import Settings
from heroes.console import plots, routes
from heroes.console.audit import AuditLog, AuditWriter
from heroes.console.security import USERS, auth_middleware, headers_middleware
from heroes.console.state import (
    AUDIT,
    AUDIT_WRITER,
    READER,
    SETTINGS,
    STORE,
    Reader,
    host_of,
    segment,
    shown,
)
from heroes.console.users import UserStore
from index.store import Store

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
DRAIN_STOP_TIMEOUT_S = 30


def make_app(settings: Settings, store: Store | None = None) -> web.Application:
    """The console application for one installation (``store`` defaults to its data dir)."""
    store = store or Store(settings)
    app = web.Application(
        middlewares=[headers_middleware, auth_middleware], client_max_size=32 * 1024 * 1024
    )
    app[SETTINGS] = settings
    app[STORE] = store
    app[AUDIT] = AuditLog.for_data_dir(settings.data_dir, settings.evidence)
    app[USERS] = UserStore.for_data_dir(settings.data_dir, settings.console)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.globals.update(plot_histogram=plots.histogram, plot_uptime=plots.uptime)
    env.filters.update(host_of=host_of, segment=segment, shown=shown)
    app.router.add_static("/static/", HERE / "static", name="static")
    routes.add_routes(app)
    app[AUDIT_WRITER] = AuditWriter(app[AUDIT])
    app.cleanup_ctx.append(_audit_ctx)
    app.cleanup_ctx.append(_backend_ctx)
    if settings.console.drain:
        app.cleanup_ctx.append(_drain_ctx)
    else:
        log.info("console does not drain the spool ([console] drain = false)")
    app.on_cleanup.append(_close_stores)
    log.info("console: users in %s, audit log %s", app[USERS].path, app[AUDIT].path)
    return app


async def _audit_ctx(app: web.Application) -> AsyncIterator[None]:
    app[AUDIT_WRITER].start()
    yield
    await app[AUDIT_WRITER].stop()


async def _backend_ctx(app: web.Application) -> AsyncIterator[None]:
    async with app[STORE].reader() as backend:
        app[READER] = Reader(backend, app[SETTINGS].index.reader_reload_s)
        log.info("console reads the %s backend", backend.name)
        yield


async def _drain_ctx(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with app[STORE].drain_role() as role:
        task = asyncio.create_task(role.run(stop), name="console-drain")
        yield
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=DRAIN_STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("the drain did not finish within %d s; the spool keeps what is left",
                      DRAIN_STOP_TIMEOUT_S)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            log.exception("the console's drain failed; the spool keeps what is left")


async def _close_stores(app: web.Application) -> None:
    app[USERS].close()


class ConsoleRole:
    """The console role: ``async with ConsoleRole(...) as console: await console.run(stop)``.

    Entry builds the application and listens (an ``OSError`` when the address is taken);
    ``run`` serves until ``stop`` is set; exit stops listening and cleans the application up.
    """

    name = "console"

    def __init__(self, settings: Settings, host: str, port: int, store: Store | None = None):
        self.settings = settings
        self.host = host
        self.port = port
        self._own_store = store is None
        self.store = store or Store(settings)
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> ConsoleRole:
        runner = web.AppRunner(make_app(self.settings, self.store), access_log=None)
        await runner.setup()
        self._runner = runner
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await self.__aexit__()
            raise
        log.info("console listening on http://%s:%d/", self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._own_store:
            self.store.close()

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()
