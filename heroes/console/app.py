"""Build the console's aiohttp application and run it.

The application keeps one read backend open for its lifetime (refreshed at most every
``[index] reader_reload_s``), appends writes (acknowledgements) to the spool, and - when
``[console] drain`` is on and no other process holds the writer lock - drains the spool
too, as every long-lived process may. Reads ``[console]`` and ``[index]``.
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
)
from heroes.console.users import UserStore
from heroes.stages import drain_stages
from index.store import Store

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


def make_app(settings: Settings, store: Store | None = None) -> web.Application:
    """The console application for one installation (``store`` defaults to its data dir)."""
    store = store or Store(settings)
    app = web.Application(
        middlewares=[headers_middleware, auth_middleware], client_max_size=32 * 1024 * 1024
    )
    app[SETTINGS] = settings
    app[STORE] = store
    app[AUDIT] = AuditLog.for_data_dir(settings.data_dir)
    app[USERS] = UserStore.for_data_dir(settings.data_dir, settings.console)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,
    )
    env.globals.update(plot_histogram=plots.histogram, plot_uptime=plots.uptime)
    env.filters.update(host_of=host_of, segment=segment)
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
    store = app[STORE]
    task = asyncio.create_task(
        store.drain_role(stop, drain_stages(app[SETTINGS], store)), name="console-drain"
    )
    yield
    stop.set()
    try:
        await asyncio.wait_for(task, timeout=30)
    except TimeoutError:
        log.error("the drain did not finish within 30 s; the spool keeps what is left")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except Exception:
        log.exception("the console's drain failed; the spool keeps what is left")


async def _close_stores(app: web.Application) -> None:
    app[USERS].close()


async def serve(
    settings: Settings,
    host: str,
    port: int,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until ``stop`` is set (or the task is cancelled), then shut down in order."""
    runner = web.AppRunner(make_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("console listening on http://%s:%d/", host, port)
        if ready is not None:
            ready.set()
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()
