"""Fixtures of the console tests: a data directory with lab documents, users, a live console.

The console runs in a background thread on 127.0.0.1 (port 0) with the production
constructor; documents are ingested through ``Store.append`` and a drain. When the
embedded engine is installed it is used; otherwise a Backend over the reference evaluator.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import importlib.util
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config import Settings, load_settings
from heroes.console.app import make_app
from heroes.console.users import UserStore
from index.store import Store
from tests.console.labdata import documents
from tests.console.memory_backend import MemoryStore

PASSWORDS = {"alice": "analyst-password-1", "root": "admin-password-12"}
EMBEDDED = importlib.util.find_spec("index.backends.tantivy") is not None


def console_settings(data_dir: Path, **console: Any) -> Settings:
    return load_settings(
        None,
        environ={},
        overrides={
            "data_dir": str(data_dir),
            "index": {"reader_reload_s": 0.1, "batch_age_s": 0.1},
            "console": {"login_attempts": 3, "login_lockout_s": 60, **console},
            "evidence": {"signing_key_file": str(data_dir.parent / f"{data_dir.name}-key.pem")},
        },
    )


def make_store(settings: Settings) -> Store:
    return Store(settings) if EMBEDDED else MemoryStore(settings)


async def ingest(store: Store, docs: list[Any]) -> None:
    store.append(docs)
    async with store.writer() as drainer:
        await drainer.drain_all()


class ConsoleThread:
    """The console application served from its own event loop in a thread."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.port = 0
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="console", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test through start()
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runner = web.AppRunner(make_app(self.settings, self.store), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        self.ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def start(self) -> ConsoleThread:
        self.thread.start()
        if not self.ready.wait(timeout=30) or self.error is not None:
            raise RuntimeError(f"console did not start: {self.error!r}")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """A cookie-keeping HTTP client that does not follow redirects (urllib only)."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.csrf = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        data: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = None
        hdrs = dict(headers or {})
        if data is not None:
            body = json.dumps(data).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=hdrs)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, dict(exc.headers), exc.read())

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Response:
        return self.request("POST", path, **kw)

    def login(self, name: str) -> Client:
        resp = self.post("/api/login", data={"name": name, "password": PASSWORDS[name]})
        assert resp.status == 200, resp.text
        self.csrf = resp.json()["csrf_token"]
        return self


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("console-data")
    settings = console_settings(data_dir)
    store = make_store(settings)
    asyncio.run(ingest(store, documents()))
    yield from serve(settings, store)


def serve(settings: Settings, store: Any) -> Iterator[ConsoleThread]:
    """The console over ``store`` with the analyst and admin accounts; closes both after."""
    users = UserStore.for_data_dir(settings.data_dir, settings.console)
    users.add("alice", "analyst", PASSWORDS["alice"])
    users.add("root", "admin", PASSWORDS["root"])
    users.close()
    server = ConsoleThread(settings, store).start()
    try:
        yield server
    finally:
        server.stop()
        store.close()


@pytest.fixture
def analyst(console: ConsoleThread) -> Client:
    return Client(console.url).login("alice")


@pytest.fixture
def admin(console: ConsoleThread) -> Client:
    return Client(console.url).login("root")
