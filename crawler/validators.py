"""What the crawler remembers of each indexed page to fetch it again cheaply: its ``ETag``,
``Last-Modified`` and body SHA-256.

``open_validators(settings)`` opens the table beside the frontier: with ``frontier.backend =
"redis"`` one Redis hash (``<frontier.key_prefix>:validators``, so every machine sees what any
of them indexed), otherwise ``<data_dir>/crawl-validators.sqlite``. A row is written only once
its page is committed to the spool, so a page answered 304 (or with the same body) was
indexed before. Failures raise :class:`crawler.frontier.FrontierUnavailable`. Reads
``[frontier]``, ``[coordination]`` ``redis_url`` and ``data_dir``.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from config import Settings
from crawler.frontier import FrontierUnavailable
from storage.sqlite import open_database, transaction

DB_NAME = "crawl-validators.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS validators (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Validators:
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""

    def headers(self) -> dict[str, str]:
        """The conditional-request headers these validators allow."""
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out


class ValidatorStore(ABC):
    @abstractmethod
    def get(self, url: str) -> Validators | None: ...

    @abstractmethod
    def put(self, rows: Iterable[tuple[str, Validators]]) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class SqliteValidatorStore(ValidatorStore):
    def __init__(self, path: Path):
        self.path = path
        try:
            self._db = open_database(path, _SCHEMA)
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"validators database {str(path)!r}: {exc}") from exc

    def get(self, url: str) -> Validators | None:
        try:
            row = self._db.execute("SELECT etag, last_modified, sha256 FROM validators "
                                   "WHERE url = ?", (url,)).fetchone()
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"validators database {str(self.path)!r}: {exc}") from exc
        return Validators(*row) if row else None

    def put(self, rows: Iterable[tuple[str, Validators]]) -> None:
        values = [(url, v.etag, v.last_modified, v.sha256) for url, v in rows]
        if not values:
            return
        try:
            with transaction(self._db):
                self._db.executemany("INSERT OR REPLACE INTO validators VALUES (?, ?, ?, ?)",
                                     values)
        except sqlite3.Error as exc:
            raise FrontierUnavailable(f"validators database {str(self.path)!r}: {exc}") from exc

    def close(self) -> None:
        self._db.close()


class RedisValidatorStore(ValidatorStore):
    def __init__(self, url: str, key: str):
        import redis

        self.key = key
        self._redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    def _run(self, op: str, *args: object) -> object:
        from redis.exceptions import RedisError

        try:
            return getattr(self._redis, op)(*args)
        except RedisError as exc:
            raise FrontierUnavailable(f"validators in Redis ({self.key!r}): {exc}") from exc

    def get(self, url: str) -> Validators | None:
        raw = self._run("hget", self.key, url)
        if not raw:
            return None
        etag, last_modified, sha256 = json.loads(raw)  # type: ignore[arg-type]
        return Validators(etag, last_modified, sha256)

    def put(self, rows: Iterable[tuple[str, Validators]]) -> None:
        mapping = {url: json.dumps([v.etag, v.last_modified, v.sha256]) for url, v in rows}
        if mapping:
            self._run("hset", self.key, None, None, mapping)

    def close(self) -> None:
        self._redis.close()


def open_validators(settings: Settings) -> ValidatorStore:
    if settings.frontier.backend == "redis":
        url = settings.coordination.redis_url.get_secret_value()
        return RedisValidatorStore(url, f"{settings.frontier.key_prefix}:validators")
    return SqliteValidatorStore(Path(settings.data_dir) / DB_NAME)
