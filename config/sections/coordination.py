"""Settings of probe coordination: several probes splitting the targets through Redis.

With ``redis_url`` empty (the default) a probe coordinates with nobody: it watches every
target, or its ``probe.shard``. With it set, probes register in Redis with a heartbeat and
split the targets by rendezvous hashing (``monitors.shards``); the ``redis`` client is then
needed (``pip install 'heroes[coordination]'``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from config.sections.base import Section


class CoordinationSettings(Section):
    redis_url: SecretStr = Field(
        SecretStr(""), description="Redis of the probes and of the crawl frontier when "
        "frontier.backend is \"redis\", redis://[:password@]host:port/db "
        "(environment HEROES_COORDINATION__REDIS_URL when it holds a password). Empty: none.")
    heartbeat_s: float = Field(
        5.0, gt=0, description="A probe renews its registration twice per this many seconds; "
        "the targets of a probe silent for 1.5 times this move to the others, so within "
        "2 heartbeats of its end.")
    key_prefix: str = Field(
        "heroes:probes", min_length=1, pattern=r"^[A-Za-z0-9:._-]+$",
        description="Prefix of the Redis keys (one prefix per group of probes).")

    @field_validator("redis_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value().strip()
        if text:
            parts = urlsplit(text)
            if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname
                                                                      or parts.path):
                # The URL may hold a password: name the part that is wrong, not the value.
                raise ValueError(f"expected redis://host:port/db, got scheme {parts.scheme!r}")
        return SecretStr(text)
