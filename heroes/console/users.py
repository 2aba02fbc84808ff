"""Local console users, their sessions and the login throttle, in one SQLite file.

File: ``<data_dir>/console/users.sqlite``. Passwords are argon2id hashes (argon2-cffi);
there is no default account. Reads ``[console]`` ``session_ttl_s``, ``login_attempts``
and ``login_lockout_s``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from config.sections.console import ConsoleSettings
from index.sqlite import open_database

ROLES = ("analyst", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    address TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
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


def _token_hash(token: str) -> str:
    # Only a hash of the cookie value is stored, so a copy of the file opens no session.
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users, sessions and failed-login counters of one installation."""

    def __init__(self, path: Path, settings: ConsoleSettings):
        self.path = path
        self.settings = settings
        self._db = open_database(path, _SCHEMA)
        self._hasher = PasswordHasher()
        # Verifying against a dummy hash for unknown names keeps their timing like known ones.
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    @classmethod
    def for_data_dir(cls, data_dir: Path, settings: ConsoleSettings) -> UserStore:
        return cls(Path(data_dir) / "console" / "users.sqlite", settings)

    def close(self) -> None:
        self._db.close()

    # -- users -------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, replace: bool = False) -> User:
        if not NAME_RE.match(name):
            raise UserError(f"user name {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password must have at least {MIN_PASSWORD} characters")
        exists = self.get(name) is not None
        if exists and not replace:
            raise UserError(f"user {name!r} exists (use --replace to set a new password or role)")
        self._db.execute(
            "INSERT OR REPLACE INTO users (name, role, password_hash, created_at)"
            " VALUES (?, ?, ?, ?)",
            (name, role, self._hasher.hash(password), time.time()),
        )
        if exists:
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return User(name, role)

    def remove(self, name: str) -> bool:
        cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
        return cur.rowcount > 0

    def get(self, name: str) -> User | None:
        row = self._db.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
        return User(*row) if row else None

    def list(self) -> list[User]:
        return [
            User(*row) for row in self._db.execute("SELECT name, role FROM users ORDER BY name")
        ]

    # -- login -------------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, address: str) -> User | None:
        """The user when the password is right; None when wrong; LockedOut when throttled."""
        now = time.time()
        row = self._db.execute(
            "SELECT count, last_at FROM failures WHERE name = ? AND address = ?", (name, address)
        ).fetchone()
        if row and row[0] >= self.settings.login_attempts:
            remaining = row[1] + self.settings.login_lockout_s - now
            if remaining > 0:
                raise LockedOut(int(remaining) + 1)
            self._db.execute("DELETE FROM failures WHERE name = ? AND address = ?", (name, address))
        found = self._db.execute(
            "SELECT role, password_hash FROM users WHERE name = ?", (name,)
        ).fetchone()
        ok = False
        try:
            ok = (
                self._hasher.verify(found[1] if found else self._dummy, password)
                and found is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            self._db.execute(
                "INSERT INTO failures (name, address, count, last_at) VALUES (?, ?, 1, ?)"
                " ON CONFLICT(name, address) DO UPDATE"
                " SET count = count + 1, last_at = excluded.last_at",
                (name, address, now),
            )
            return None
        self._db.execute("DELETE FROM failures WHERE name = ? AND address = ?", (name, address))
        return User(name, found[0])

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
