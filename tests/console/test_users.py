"""Users, sessions and the login throttle (SQLite file, argon2 hashes)."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from config.sections.console import ConsoleSettings
from heroes.cli import main
from heroes.console.users import LockedOut, UserError, UserStore


@pytest.fixture
def users(tmp_path: Path) -> UserStore:
    store = UserStore(
        tmp_path / "users.sqlite", ConsoleSettings(login_attempts=2, login_lockout_s=600)
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
    # Password hashing is slow on a busy machine: the window is long and the test moves it.
    users._db.execute("UPDATE failures SET last_at = last_at - 601")
    assert users.authenticate("bob", "bob-password-123", "127.0.0.2") is not None


def test_bad_users_are_refused(users: UserStore) -> None:
    with pytest.raises(UserError, match="'boss'"):
        users.add("carol", "boss", "long-enough-pass")
    with pytest.raises(UserError, match=r"'\.\./x'"):
        users.add("../x", "admin", "long-enough-pass")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("admin1\n", "control character U+000A"),
        ("admin1\r", "control character U+000D"),
        ("ad\tmin", "control character U+0009"),
        ("admin\x00", "control character U+0000"),
        ("admin\u200b", "control character U+200B"),
        (" admin", "leading or trailing whitespace"),
        ("admin ", "leading or trailing whitespace"),
        ("\u00a0admin", "leading or trailing whitespace"),
    ],
)
def test_names_with_control_characters_or_outer_space_are_refused(
    users: UserStore, name: str, problem: str
) -> None:
    with pytest.raises(UserError, match=re.escape(problem)) as refused:
        users.add(name, "admin", "long-enough-pass")
    assert repr(name) in str(refused.value)
    assert users.list() == []


def test_names_are_one_account_whatever_their_case(users: UserStore) -> None:
    users.add("Alice", "analyst", "analyst-password-1")
    for other in ("alice", "ALICE", "aLICE"):
        with pytest.raises(UserError, match="collides with the existing user 'Alice'"):
            users.add(other, "admin", "another-password-1")
        with pytest.raises(UserError, match="collides"):
            users.add(other, "admin", "another-password-1", replace=True)
    assert [(u.name, u.role) for u in users.list()] == [("Alice", "analyst")]
    # Every spelling logs in to the one account, which keeps its own spelling.
    assert users.authenticate("aLiCe", "analyst-password-1", "127.0.0.1") == users.get("Alice")
    assert users.get("ALICE") == users.get("Alice")
    assert users.get("ａｌｉｃｅ") == users.get("Alice")  # NFKC: full-width letters too
    # Failed logins of every spelling count against the one account.
    assert users.authenticate("alice", "nope", "127.0.0.9") is None
    assert users.authenticate("ALICE", "nope", "127.0.0.9") is None
    with pytest.raises(LockedOut):
        users.authenticate("Alice", "analyst-password-1", "127.0.0.9")
    assert users.remove("ALICE")
    assert users.list() == []


def test_an_older_file_gets_name_keys(tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
        " password_hash TEXT NOT NULL, created_at REAL NOT NULL);"
    )
    old.execute("INSERT INTO users VALUES ('Bob', 'admin', 'x', 0)")
    old.commit()
    old.close()
    store = UserStore(path, ConsoleSettings())
    try:
        assert store.get("bob") == store.get("Bob") != None  # noqa: E711
        with pytest.raises(UserError, match="collides with the existing user 'Bob'"):
            store.add("BOB", "analyst", "long-enough-pass")
    finally:
        store.close()


def test_cli_refuses_a_name_with_a_newline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(tmp_path), "users", "add", "admin1\n", "--role", "admin"],
        input="long-enough-pass\n",
    )
    assert result.exit_code == 2
    assert "'admin1\\n'" in result.output and "control character" in result.output
    assert "Traceback" not in result.output
    listed = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "users", "list"])
    assert listed.exit_code == 0 and listed.output == ""


def test_cli_refuses_a_name_that_differs_only_in_case(tmp_path: Path) -> None:
    def add(name: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path), "users", "add", name, "--role", "analyst"],
            input="long-enough-pass\n",
        )
        return result.exit_code, result.output

    assert add("Carol")[0] == 0
    code, out = add("carol")
    assert code == 2 and "'carol' collides with the existing user 'Carol'" in out
    listed = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "users", "list"])
    assert listed.output == "Carol\tanalyst\n"


def test_an_older_file_with_case_twins_warns_and_keeps_both(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "users.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL,"
        " password_hash TEXT NOT NULL, created_at REAL NOT NULL);"
    )
    old.execute("INSERT INTO users VALUES ('Bob', 'admin', 'x', 0), ('bob', 'analyst', 'y', 0)")
    old.commit()
    old.close()
    with caplog.at_level("WARNING", logger="heroes.console.users"):
        store = UserStore(path, ConsoleSettings())
    try:
        warned = caplog.text.split("differ only in case: ")[1].split(";")[0]
        assert sorted(warned.split(", ")) == ["Bob", "bob"]
        # The exact spelling finds its own account; removing one leaves the other.
        assert store.get("Bob").role == "admin" and store.get("bob").role == "analyst"
        assert store.remove("bob")
        assert [(u.name, u.role) for u in store.list()] == [("Bob", "admin")]
    finally:
        store.close()
