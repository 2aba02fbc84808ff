"""``heroes users``, ``heroes audit``, ``heroes index purge`` and ``heroes serve --get``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from heroes.cli import main
from heroes.console.audit import AuditLog
from heroes.console.smoke import get
from heroes.console.users import UserStore
from tests.console.conftest import EMBEDDED, console_settings, ingest, make_store
from tests.console.labdata import documents


def run(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    key = data_dir.parent / f"{data_dir.name}-key.pem"  # the signing key, outside the data dir
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), *args], input=stdin,
                                env={"HEROES_EVIDENCE__SIGNING_KEY_FILE": str(key)})
    return result.exit_code, result.output


def test_users_add_from_stdin_and_refusals(tmp_path: Path) -> None:
    code, out = run(
        tmp_path, "users", "add", "carol", "--role", "analyst", stdin="carol-password-1\n"
    )
    assert code == 0, out
    code, out = run(
        tmp_path, "users", "add", "carol", "--role", "analyst", stdin="another-pass-1\n"
    )
    assert code == 2 and "exists" in out
    code, out = run(tmp_path, "users", "add", "dave", "--role", "analyst", stdin="short\n")
    assert code == 2 and "at least" in out
    code, out = run(
        tmp_path, "users", "add", "bad name", "--role", "admin", stdin="long-enough-1\n"
    )
    assert code == 2 and "'bad name'" in out
    code, out = run(tmp_path, "users", "list")
    assert out.strip() == "carol\tanalyst"
    settings = console_settings(tmp_path)
    users = UserStore.for_data_dir(tmp_path, settings.console)
    stored = users._db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "carol-password-1" not in stored
    assert users.authenticate("carol", "carol-password-1", "127.0.0.1") is not None
    users.close()


def test_no_default_account(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    users = UserStore.for_data_dir(tmp_path, settings.console)
    assert users.list() == []
    assert users.authenticate("admin", "admin", "127.0.0.1") is None
    users.close()


def test_audit_export_and_verify_detect_edits(tmp_path: Path) -> None:
    log = AuditLog.for_data_dir(tmp_path)
    old = datetime.now(UTC) - timedelta(days=3)
    log._log.append(
        {"action": "search", "user": "alice", "address": "127.0.0.1", "query": "old"}, at=old
    )
    log.record("search", user="alice", address="127.0.0.1", query="tea")
    log.record("view", user="alice", address="127.0.0.1", target="/page/x")
    assert run(tmp_path, "keys", "init")[0] == 0 and run(tmp_path, "evidence", "seal")[0] == 0
    code, out = run(tmp_path, "audit", "verify")
    assert code == 0 and "3 records, 3 sealed" in out
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    code, out = run(tmp_path, "audit", "export", "--since", since)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["data"].get("query") for r in lines] == ["tea", None]
    code, out = run(tmp_path, "audit", "export", "--since", "yesterday")
    assert code == 2 and "'yesterday'" in out
    # An analyst who edits their own search out of the log is caught.
    text = log.path.read_text().replace('"query":"tea"', '"query":"coffee"')
    log.path.write_text(text)
    code, out = run(tmp_path, "audit", "verify")
    assert code == 1 and "record 2: edited" in out
    assert log.verify() is not None


def test_audit_verify_detects_deletion(tmp_path: Path) -> None:
    log = AuditLog.for_data_dir(tmp_path)
    for i in range(3):
        log.record("view", user="alice", address="127.0.0.1", target=f"/page/{i}")
    assert run(tmp_path, "keys", "init")[0] == 0 and run(tmp_path, "evidence", "seal")[0] == 0
    lines = log.path.read_text().splitlines(keepends=True)
    log.path.write_text(lines[0] + lines[2])
    code, out = run(tmp_path, "audit", "verify")
    assert code == 1 and "record 2" in out


@pytest.mark.skipif(not EMBEDDED, reason="needs the embedded index backend")
def test_index_purge_deletes_old_documents_and_is_audited(tmp_path: Path) -> None:
    settings = console_settings(tmp_path)
    asyncio.run(ingest(make_store(settings), documents()))
    config = tmp_path / "heroes.toml"
    config.write_text("[retention]\nobservation_days = 1\n")
    code, out = run(tmp_path, "--config", str(config), "index", "purge", "--dry-run", "--json")
    assert code == 0, out
    assert json.loads(out)["deleted"] == {"observation": 8}
    code, out = run(tmp_path, "--config", str(config), "index", "purge")
    assert code == 0 and "deleted 8" in out, out
    code, out = run(tmp_path, "--config", str(config), "index", "purge", "--dry-run", "--json")
    assert json.loads(out)["deleted"] == {"observation": 0}
    purges = AuditLog.for_data_dir(tmp_path).tail(action="purge")
    assert purges and purges[0]["data"]["deleted"] == {"observation": 8}


def test_serve_get_smoke(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, drain=False)
    store = make_store(settings)
    asyncio.run(ingest(store, documents()))
    users = UserStore.for_data_dir(tmp_path, settings.console)
    users.add("erin", "analyst", "erin-password-1")
    users.close()
    status, body = asyncio.run(get(settings, "/api/search?q=tea", store=store))
    assert status == 401
    status, body = asyncio.run(get(settings, "/api/search?q=tea", "erin", store=store))
    assert status == 200 and json.loads(body)["total"] > 0
    status, body = asyncio.run(get(settings, "/search", store=store))
    assert status == 302 and "/login" in body
    if EMBEDDED:
        code, out = run(tmp_path, "serve", "--get", "/api/openapi.json")
        assert code == 0 and json.loads(out)["openapi"].startswith("3.")


def test_demo_access_creates_a_working_account(tmp_path: Path) -> None:
    from heroes.console.demo import DEMO_USER, demo_access

    settings = console_settings(tmp_path)
    lines = demo_access(settings)
    password = lines[1].split("password '")[1].split("'")[0]
    users = UserStore.for_data_dir(tmp_path, settings.console)
    assert users.authenticate(DEMO_USER, password, "127.0.0.1") is not None
    users.close()


def test_console_starts_on_an_empty_installation(tmp_path: Path) -> None:
    settings = console_settings(tmp_path, drain=False)
    users = UserStore.for_data_dir(tmp_path, settings.console)
    users.add("frank", "analyst", "frank-password-1")
    users.close()
    status, body = asyncio.run(
        get(settings, "/api/search?q=tea", "frank", store=make_store(settings))
    )
    assert status == 200 and json.loads(body)["total"] == 0
