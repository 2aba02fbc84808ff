"""Users, sessions and the login throttle (SQLite file, argon2 hashes)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from config.sections.console import ConsoleSettings
from heroes.console.users import LockedOut, UserError, UserStore


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    store = UserStore(
        tmp_path / "users.sqlite", ConsoleSettings(login_attempts=2, login_lockout_s=1)
    )
    yield store
    store.close()


def test_sessions_expire_and_close_on_password_change(users: UserStore) -> None:
    user = users.add("alice", "analyst", "analyst-password-1")
    session = users.open_session(user, "127.0.0.1")
    assert users.session(session.token).user == user
    assert users.session("forged-token") is None
    users.add("alice", "admin", "new-password-123", replace=True)
    assert users.session(session.token) is None  # a new password ends old sessions
    session = users.open_session(users.get("alice"), "127.0.0.1")
    users._db.execute("UPDATE sessions SET expires_at = ?", (time.time() - 1,))
    assert users.session(session.token) is None


def test_lockout_is_per_name_and_address_and_ends(users: UserStore) -> None:
    users.add("bob", "analyst", "bob-password-123")
    for _ in range(2):
        assert users.authenticate("bob", "nope", "127.0.0.2") is None
    with pytest.raises(LockedOut):
        users.authenticate("bob", "bob-password-123", "127.0.0.2")
    assert users.authenticate("bob", "bob-password-123", "127.0.0.3") is not None
    users._db.execute("UPDATE failures SET last_at = last_at - 5")
    assert users.authenticate("bob", "bob-password-123", "127.0.0.2") is not None


def test_bad_users_are_refused(users: UserStore) -> None:
    with pytest.raises(UserError, match="'boss'"):
        users.add("carol", "boss", "long-enough-pass")
    with pytest.raises(UserError, match=r"'\.\./x'"):
        users.add("../x", "admin", "long-enough-pass")
