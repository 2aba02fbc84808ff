"""Local console users, their sessions and the login throttle, in one SQLite file.

File: ``<data_dir>/console/users.sqlite``. Passwords are argon2id hashes (argon2-cffi);
there is no default account. User names are compared by their key (Unicode NFKC, then
case-folded): two names with one key are one account, and a login may spell the name in
either case. Reads ``[console]`` ``session_ttl_s``, ``login_attempts`` and
``login_lockout_s``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from config.sections.console import ConsoleSettings
from storage.sqlite import open_database, transaction

log = logging.getLogger(__name__)

ROLES = ("analyst", "admin")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    name_key TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
-- name holds the name's key, so that every spelling of a name counts against one account.
CREATE TABLE IF NOT EXISTS failures (
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (name, address)
);
"""


class UserError(Exception):
    """A user cannot be created or changed as asked; the message says why."""


class LockedOut(Exception):
    """Too many failed logins for this name from this address; ``retry_after`` in seconds."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {retry_after} s")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    token: str
    user: User
    csrf: str
    expires_at: float


def name_key(name: str) -> str:
    """The key that two spellings of one user name share (NFKC, then case-folded)."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_name(name: str) -> None:
    """Raise :class:`UserError` naming what is wrong with a new user name."""
    for char in name:
        if unicodedata.category(char).startswith("C"):
            raise UserError(f"user name {name!r} contains the control character U+{ord(char):04X}")
    if name != name.strip():
        raise UserError(f"user name {name!r} has leading or trailing whitespace")
    if not NAME_RE.fullmatch(name):
        raise UserError(f"user name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")


def _token_hash(token: str) -> str:
    # Only a hash of the cookie value is stored, so a copy of the file opens no session.
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users, sessions and failed-login counters of one installation."""

    def __init__(self, path: Path, settings: ConsoleSettings):
        self.path = path
        self.settings = settings
        self._db = open_database(path, _SCHEMA, version=1)
        self._migrate()
        self._hasher = PasswordHasher()
        # Verifying against a dummy hash for unknown names keeps their timing like known ones.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def for_data_dir(cls, data_dir: Path, settings: ConsoleSettings) -> UserStore:
        return cls(Path(data_dir) / "console" / "users.sqlite", settings)

    def close(self) -> None:
        self._db.close()

    def _migrate(self) -> None:
        # Files written before names had keys: fill them in, then make them unique. In one
        # IMMEDIATE transaction, so that two processes opening an old file do it once.
        with transaction(self._db):
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(users)")}
            if "name_key" not in columns:
                self._db.execute("ALTER TABLE users ADD COLUMN name_key TEXT")
            rows = self._db.execute("SELECT name FROM users WHERE name_key IS NULL").fetchall()
            for (name,) in rows:
                self._db.execute(
                    "UPDATE users SET name_key = ? WHERE name = ?", (name_key(name), name)
                )
            self._unique_keys()

    def _unique_keys(self) -> None:
        try:
            self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS users_name_key ON users (name_key)")
        except sqlite3.IntegrityError:
            clashes = self._db.execute(
                "SELECT group_concat(name, ', ') FROM users GROUP BY name_key HAVING count(*) > 1"
            ).fetchall()
            log.warning(
                "%s: users whose names differ only in case: %s; remove all but one of each"
                " (heroes users remove NAME)",
                self.path,
                "; ".join(row[0] for row in clashes),
            )

    def _row(self, name: str, columns: str) -> tuple[Any, ...] | None:
        # By key; when an old file holds several spellings of one key, the exact one wins.
        return self._db.execute(
            f"SELECT {columns} FROM users WHERE name_key = ? ORDER BY name = ? DESC LIMIT 1",
            (name_key(name), name),
        ).fetchone()

    # -- users -------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, replace: bool = False) -> User:
        check_name(name)
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password must have at least {MIN_PASSWORD} characters")
        found = self._row(name, "name")
        if found is not None and found[0] != name:
            raise UserError(
                f"user name {name!r} collides with the existing user {found[0]!r}"
                " (names are compared ignoring case)"
            )
        if found is not None and not replace:
            raise UserError(f"user {name!r} exists (use --replace to set a new password or role)")
        password_hash = self._hasher.hash(password)
        try:
            if found is None:
                self._db.execute(
                    "INSERT INTO users (name, role, password_hash, created_at, name_key)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, role, password_hash, time.time(), name_key(name)),
                )
            else:
                self._db.execute(
                    "UPDATE users SET role = ?, password_hash = ? WHERE name = ?",
                    (role, password_hash, name),
                )
                self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        except sqlite3.IntegrityError as exc:
            # Another process added a spelling of this name since the check above.
            raise UserError(
                f"user name {name!r} collides with an existing user"
                " (names are compared ignoring case)"
            ) from exc
        return User(name, role)

    def remove(self, name: str) -> bool:
        found = self._row(name, "name")
        if found is None:
            return False
        cur = self._db.execute("DELETE FROM users WHERE name = ?", (found[0],))
        return cur.rowcount > 0

    def get(self, name: str) -> User | None:
        row = self._row(name, "name, role")
        return User(*row) if row else None

    def list(self) -> list[User]:
        return [
            User(*row) for row in self._db.execute("SELECT name, role FROM users ORDER BY name")
        ]

    # -- login -------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, address: str) -> User | None:
        """The user when the password is right; None when wrong; LockedOut when throttled.

        An attempt is counted before its password is checked, in one statement, so that
        parallel attempts never check more passwords than ``login_attempts`` allows.
        """
        key = name_key(name)
        self._reserve_attempt(key, address)
        found = self._row(name, "name, role, password_hash")
        ok = False
        try:
            ok = (
                self._hasher.verify(found[2] if found else self._dummy, password)
                and found is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or found is None:
            return None
        self._db.execute("DELETE FROM failures WHERE name = ? AND address = ?", (key, address))
        return User(found[0], found[1])

    def _reserve_attempt(self, key: str, address: str) -> None:
        """Count one attempt for (name key, address), or raise LockedOut without counting
        it as checked. A count older than the lock-out starts again from one."""
        now = time.time()
        attempts = self.settings.login_attempts
        lockout = self.settings.login_lockout_s
        # fetchall: the upsert commits only once its RETURNING rows are read to the end.
        ((count, last_at),) = self._db.execute(
            "INSERT INTO failures (name, address, count, last_at) VALUES (:key, :address, 1, :now)"
            " ON CONFLICT (name, address) DO UPDATE SET"
            "  count = CASE WHEN last_at + :lockout <= :now THEN 1 ELSE count + 1 END,"
            "  last_at = CASE WHEN last_at + :lockout > :now AND count >= :attempts"
            "   THEN last_at ELSE :now END"
            " RETURNING count, last_at",
            {"key": key, "address": address, "now": now, "lockout": lockout, "attempts": attempts},
        ).fetchall()
        if count > attempts:
            raise LockedOut(int(last_at + lockout - now) + 1)

    # -- sessions ----------------------------------------------------------------------------

    def open_session(self, user: User, address: str) -> Session:
        now = time.time()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        expires = now + self.settings.session_ttl_s
        self._db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        self._db.execute(
            "INSERT INTO sessions (token_hash, name, csrf, address, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (_token_hash(token), user.name, csrf, address, now, expires),
        )
        return Session(token, user, csrf, expires)

    def session(self, token: str) -> Session | None:
        row = self._db.execute(
            "SELECT u.name, u.role, s.csrf, s.expires_at FROM sessions s JOIN users u"
            " ON u.name = s.name WHERE s.token_hash = ?",
            (_token_hash(token),),
        ).fetchone()
        if row is None or row[3] < time.time():
            return None
        return Session(token, User(row[0], row[1]), row[2], row[3])

    def close_session(self, token: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
