"""The console's sessions page: services waiting for an analyst (with what each needs), a
cookie file imported by the logged-in analyst (bad lines named, a bad onion refused),
sessions listed without their values, removal; all audited."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from config import load_settings
from documents.service import AccessCheck, Service
from evidence.registry import AUDIT, audit_log_path, open_log
from heroes.console.users import UserStore
from identifiers.onion import onion_address
from tests.console.conftest import PASSWORDS, Client, ConsoleThread, ingest, make_store

ONION = onion_address(bytes(range(32)))
OTHER = onion_address(bytes(range(1, 33)))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
VALUE = "cookie-value-never-shown"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ConsoleThread, Path]]:
    data_dir = tmp_path_factory.mktemp("sessions-console")
    settings = load_settings(None, environ={}, overrides={
        "data_dir": str(data_dir), "index": {"reader_reload_s": 0.1, "batch_age_s": 0.1},
        "crawler": {"sessions_key": "console-test-key"},
        "evidence": {"signing_key_file": str(data_dir.parent / f"{data_dir.name}-key.pem")}})
    store = make_store(settings)
    docs = [Service(host=h, first_seen=NOW, last_seen=NOW, access=state, access_why=why,
                    access_history=[AccessCheck(at=NOW, state=state, why=why)])
            for h, state, why in ((ONION, "captcha", "a challenge form"),
                                  (OTHER, "content", "3 content pages"))]
    asyncio.run(ingest(store, docs))
    users = UserStore.for_data_dir(data_dir, settings.console)
    users.add("alice", "analyst", PASSWORDS["alice"])
    users.close()
    server = ConsoleThread(settings, store).start()
    yield server, data_dir
    server.stop()
    store.close()


def _upload(client: Client, onion: str, content: bytes) -> tuple[int, dict[str, Any]]:
    boundary = "----heroes-session-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="onion"\r\n\r\n{onion}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="cookies.txt"\r\nContent-Type: text/plain\r\n\r\n').encode() \
        + content + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
               "X-CSRF-Token": client.csrf}
    req = urllib.request.Request(client.base + "/api/sessions/import", data=body, method="POST",
                                 headers=headers)
    try:
        with client.opener.open(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_waiting_services_and_session_import(console: tuple[ConsoleThread, Path]) -> None:
    server, data_dir = console
    client = Client(server.url).login("alice")
    page = client.get("/api/sessions").json()
    assert [(w["host"], w["access"]) for w in page["waiting"]] == [(ONION, "captcha")]
    assert "Tor Browser" in page["waiting"][0]["needs"]
    cookies = f"{ONION}\tFALSE\t/\tFALSE\t0\tcaptcha_ok\t{VALUE}\nnot a cookie line\n".encode()
    status, result = _upload(client, ONION, cookies)
    assert status == 400 and result["problems"] == [
        "line 2: expected 7 tab-separated fields, found 1: 'not a cookie line'"]
    assert result["session"]["analyst"] == "alice"  # the good cookie was kept
    status, refused = _upload(client, ONION[:-8] + "aa.onion", cookies)
    assert status == 400 and "onion" in json.dumps(refused)
    listed = client.get("/api/sessions")
    assert [s["onion"] for s in listed.json()["sessions"]] == [ONION]
    assert VALUE not in listed.text
    html = client.get("/sessions")
    assert html.status == 200 and ONION in html.text and VALUE not in html.text
    session_id = listed.json()["sessions"][0]["id"]
    assert f'action="/sessions/{session_id}/remove"' in html.text
    # The page's own form: a plain POST with the CSRF field, answered by a redirect.
    removed = client.post(f"/sessions/{session_id}/remove", form={"csrf_token": client.csrf})
    assert removed.status == 303, removed.text
    assert client.get("/api/sessions").json()["sessions"] == []
    actions = [r["data"]["action"] for r in
               open_log(data_dir, AUDIT, audit_log_path(data_dir)).records()]
    assert "session_import" in actions and "session_remove" in actions
