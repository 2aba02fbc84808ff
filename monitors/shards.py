"""Which targets this probe watches when several probes split them.

- :class:`AllTargets`: one probe alone watches everything.
- :class:`StaticShard`: ``probe.shard = "I/N"``; a target belongs to part
  ``stable_hash(key) % N + 1``. No coordinator: a probe that stops leaves its part unwatched.
- :class:`RedisShards`: ``[coordination] redis_url``; every probe renews its entry in one
  Redis sorted set (member = probe id, score = the Redis server's clock, so machines with
  skewed clocks agree) twice per ``heartbeat_s``, and drops entries older than 1.5 heartbeats.
  A target belongs to the live probe with the highest ``stable_hash(probe id, key)``
  (rendezvous hashing): when a probe dies only its targets move, each to one of the others,
  within two heartbeats, and they move back when it returns. The ``redis`` client is
  imported only here, only when a URL is set.

Reads the ``probe`` (``probe_id``, ``shard``) and ``coordination`` settings sections.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from config.sections.coordination import CoordinationSettings
from config.sections.probe import ProbeSettings
from errors import BackendUnavailable

log = logging.getLogger(__name__)

# Renew, drop expired entries and list the live probes in one step, on the server's clock.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] ~= '' then redis.call('ZADD', KEYS[1], now, ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


def stable_hash(*parts: str) -> int:
    """The same 64-bit number for the same strings on every machine and run."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shard_of(key: str, parts: int) -> int:
    """The part (1..parts) a target belongs to under ``probe.shard``."""
    return stable_hash(key) % parts + 1


def owner_of(key: str, members: Iterable[str]) -> str | None:
    """Rendezvous hashing: the member with the highest score for ``key``."""
    return max(members, key=lambda m: (stable_hash(m, key), m), default=None)


class AllTargets:
    """No split: this probe watches every target."""

    description = "all targets"

    def owns(self, key: str) -> bool:
        return True

    async def join(self) -> None:
        return None

    async def run(self, stop: asyncio.Event, on_change: Callable[[], None]) -> None:
        return None

    async def leave(self) -> None:
        return None


class StaticShard(AllTargets):
    def __init__(self, index: int, parts: int):
        self.index, self.parts = index, parts
        self.description = f"shard {index}/{parts}"

    def owns(self, key: str) -> bool:
        return shard_of(key, self.parts) == self.index


class RedisShards(AllTargets):
    """Membership in Redis with a heartbeat; targets by rendezvous hashing over live probes."""

    def __init__(self, cfg: CoordinationSettings, probe_id: str, client: Any = None):
        self.cfg = cfg
        self.probe_id = probe_id
        self.key = f"{cfg.key_prefix}:members"
        self.members: tuple[str, ...] = (probe_id,)
        self._client = client
        self._script: Any = None
        self.description = f"rendezvous over Redis ({self.key})"

    def owns(self, key: str) -> bool:
        return owner_of(key, self.members) == self.probe_id

    def _connect(self) -> Any:
        if self._client is None:
            try:
                import redis.asyncio as aredis
            except ImportError as exc:
                raise BackendUnavailable(
                    "[coordination] redis_url is set but the redis client is not installed: "
                    "pip install 'heroes[coordination]'") from exc
            self._client = aredis.Redis.from_url(self.cfg.redis_url.get_secret_value(),
                                                 socket_timeout=self.cfg.heartbeat_s,
                                                 socket_connect_timeout=self.cfg.heartbeat_s)
        if self._script is None:
            self._script = self._client.register_script(_BEAT)
        return self._script

    async def beat(self, register: bool = True) -> tuple[str, ...]:
        """Renew this probe's entry and return the live probes (sorted)."""
        script = self._connect()
        expire_ms = int(self.cfg.heartbeat_s * 1500)
        try:
            raw = await script(keys=[self.key],
                               args=[self.probe_id if register else "", expire_ms])
        except Exception as exc:  # redis raises its own ConnectionError/TimeoutError kinds
            if type(exc).__module__.startswith("redis"):
                raise BackendUnavailable(f"Redis of the probes: {exc}") from exc
            raise
        members = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in raw)
        return tuple(members)

    async def join(self) -> None:
        self.members = await self.beat()
        log.info("probe %s joined %s with %d live probe(s): %s", self.probe_id, self.key,
                 len(self.members), ", ".join(self.members))

    async def run(self, stop: asyncio.Event, on_change: Callable[[], None]) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.cfg.heartbeat_s / 2)
                break
            except TimeoutError:
                pass
            try:
                members = await self.beat()
            except BackendUnavailable as exc:
                # Keep the last split: the others do the same, so no target is dropped.
                log.warning("cannot renew this probe's registration (keeping %d probes): %s",
                            len(self.members), exc)
                continue
            if self.probe_id not in members:
                members = tuple(sorted({*members, self.probe_id}))
            if members != self.members:
                log.info("live probes now %s (were %s)", ", ".join(members),
                         ", ".join(self.members))
                self.members = members
                on_change()

    async def leave(self) -> None:
        if self._client is None:
            return
        try:
            await self._client.zrem(self.key, self.probe_id)
        except Exception as exc:
            log.warning("could not leave %s: %s", self.key, exc)
        finally:
            await self._client.aclose()
            self._client = None
            self._script = None


def target_split(probe: ProbeSettings, coordination: CoordinationSettings) -> AllTargets:
    """The split this probe's settings ask for."""
    if coordination.redis_url.get_secret_value():
        return RedisShards(coordination, probe.probe_id)
    part = probe.shard_part()
    if part is not None:
        return StaticShard(*part)
    return AllTargets()
