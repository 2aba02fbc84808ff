"""``SessionStore``: the sessions analysts imported, encrypted at rest, one SQLite file.

Rows live in ``<data_dir>/sessions/sessions.sqlite``; the cookies (and anything secret) are
one Fernet token per row (AES-128-CBC + HMAC-SHA256, from ``cryptography``), so the file
alone reveals which onions have a session and who supplied it, never a cookie value. The
key comes from ``crawler.sessions_key`` (the environment: ``HEROES_CRAWLER__SESSIONS_KEY``)
or ``crawler.sessions_key_file``, a file that must lie outside the data directory (a key
beside the data it protects protects nothing). Each session has its own SOCKS username, so
it travels on its own Tor circuit. Reads ``data_dir`` and ``[crawler]`` sessions_key,
sessions_key_file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from crawler.sessions.cookies import Cookie
from storage.sqlite import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    onion TEXT NOT NULL,
    analyst TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'active',
    checked_at REAL,
    secret BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_onion ON sessions(onion);
"""
STATES = ("active", "expired")


class SessionKeyError(Exception):
    """No key, or an unusable one, for the session store."""


@dataclass(frozen=True)
class Session:
    id: str
    onion: str
    analyst: str
    source: str  # "import" or "form-login"
    created_at: float
    state: str
    checked_at: float | None
    cookies: tuple[Cookie, ...] = ()

    @property
    def socks_username(self) -> str:
        """Its own circuit: a username no other session or host shares."""
        return "s-" + hashlib.sha256(self.id.encode()).hexdigest()[:16]

    def summary(self) -> dict[str, object]:
        return {"id": self.id, "onion": self.onion, "analyst": self.analyst,
                "source": self.source, "created_at": self.created_at, "state": self.state,
                "checked_at": self.checked_at, "cookies": len(self.cookies)}


def _fernet(settings: Settings):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    c = settings.crawler
    raw = c.sessions_key.get_secret_value().strip()
    if not raw and c.sessions_key_file:
        path = Path(c.sessions_key_file).expanduser().resolve()
        data_dir = Path(settings.data_dir).expanduser().resolve()
        if path.is_relative_to(data_dir):
            raise SessionKeyError(
                f"crawler.sessions_key_file {str(path)!r} lies inside the data directory "
                f"{str(data_dir)!r}: keep the key elsewhere")
        try:
            raw = path.read_text().strip()
        except OSError as exc:
            raise SessionKeyError(
                f"crawler.sessions_key_file {str(path)!r}: cannot read: {exc.strerror}") from exc
    if not raw:
        raise SessionKeyError(
            "sessions are stored encrypted and no key is set: set HEROES_CRAWLER__SESSIONS_KEY "
            "or crawler.sessions_key_file (a file outside the data directory)")
    # Any secret string works: it is stretched to a Fernet key.
    key = base64.urlsafe_b64encode(hashlib.sha256(b"heroes-sessions\0" + raw.encode()).digest())
    return Fernet(key)


class SessionStore:
    def __init__(self, settings: Settings):
        self._fernet = _fernet(settings)
        self.path = Path(settings.data_dir) / "sessions" / "sessions.sqlite"
        self._db: sqlite3.Connection = open_database(
            self.path, SCHEMA, synchronous="FULL", version=1
        )
        self.path.chmod(0o600)

    def close(self) -> None:
        self._db.close()

    def _seal(self, payload: dict[str, object]) -> bytes:
        return self._fernet.encrypt(json.dumps(payload).encode())

    def _open(self, token: bytes) -> dict[str, object]:
        from cryptography.fernet import InvalidToken

        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken as exc:
            raise SessionKeyError(
                f"a session in {self.path} does not decrypt with this key (was the key "
                "changed?)") from exc

    def add(self, onion: str, cookies: list[Cookie], *, analyst: str,
            source: str = "import") -> Session:
        session_id = secrets.token_hex(8)
        now = time.time()
        secret = self._seal({"cookies": [c.to_dict() for c in cookies]})
        self._db.execute(
            "INSERT INTO sessions (id, onion, analyst, source, created_at, secret) "
            "VALUES (?, ?, ?, ?, ?, ?)", (session_id, onion, analyst, source, now, secret))
        return Session(session_id, onion, analyst, source, now, "active", None, tuple(cookies))

    def _row(self, row: tuple) -> Session:  # type: ignore[type-arg]
        sid, onion, analyst, source, created, state, checked, secret = row
        payload = self._open(secret)
        cookies = tuple(Cookie(**c) for c in payload.get("cookies", []))  # type: ignore[union-attr]
        return Session(sid, onion, analyst, source, created, state, checked, cookies)

    def all(self) -> list[Session]:
        rows = self._db.execute(
            "SELECT id, onion, analyst, source, created_at, state, checked_at, secret "
            "FROM sessions ORDER BY created_at").fetchall()
        return [self._row(r) for r in rows]

    def active_for(self, onion: str) -> Session | None:
        """The newest working session for ``onion``."""
        row = self._db.execute(
            "SELECT id, onion, analyst, source, created_at, state, checked_at, secret "
            "FROM sessions WHERE onion = ? AND state = 'active' ORDER BY created_at DESC "
            "LIMIT 1", (onion,)).fetchone()
        return self._row(row) if row else None

    def mark(self, session_id: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown session state {state!r}")
        self._db.execute("UPDATE sessions SET state = ?, checked_at = ? WHERE id = ?",
                         (state, time.time(), session_id))

    def remove(self, key: str) -> list[str]:
        """Remove a session by id, or every session of an onion; returns the ids removed."""
        rows = self._db.execute("SELECT id FROM sessions WHERE id = ? OR onion = ?",
                                (key, key)).fetchall()
        ids = [r[0] for r in rows]
        self._db.executemany("DELETE FROM sessions WHERE id = ?", [(i,) for i in ids])
        return ids
