"""``heroes serve --get PATH``: one request through the whole application, in-process.

Uses aiohttp's test server on a loopback port; with a user name, a session for that
existing user is opened first (and audited like any other login). Reads ``[console]``.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from config import Settings
from heroes.console.app import make_app
from heroes.console.audit import AuditLog
from heroes.console.security import SESSION_COOKIE
from heroes.console.users import UserStore
from index.store import Store


async def get(
    settings: Settings, path: str, user: str | None = None, store: Store | None = None
) -> tuple[int, str]:
    cookies = {}
    if user:
        users = UserStore.for_data_dir(settings.data_dir, settings.console)
        try:
            found = users.get(user)
            if found is None:
                return 404, f"error: no console user {user!r} (heroes users add)"
            session = users.open_session(found, "in-process")
            AuditLog.for_data_dir(settings.data_dir).record(
                "login", user=user, address="in-process"
            )
        finally:
            users.close()
        cookies[SESSION_COOKIE] = session.token
    app = make_app(settings, store)
    async with TestClient(TestServer(app, host="127.0.0.1"), cookies=cookies) as client:
        response = await client.get(path, allow_redirects=False)
        body = await response.text()
        if response.status in (301, 302, 303, 307, 308):
            body = f"{response.status} -> {response.headers.get('Location', '')}"
        return response.status, body
