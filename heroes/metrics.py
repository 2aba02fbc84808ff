"""The metrics listener beside a command's roles, with the readiness checks of this installation.

:func:`with_metrics` puts a :class:`telemetry.service.MetricsRole` before the roles of a
long-running command when ``[metrics] listen`` is set (so it opens first and closes last,
and answers while the others start and stop); otherwise it returns the roles as they are.
``/readyz`` asks: the index backend answers a count (``backend``), the spool's directory
and file are writable (``spool``) and, when ``coordination.redis_url`` is set, Redis answers
a PING (``redis``). :func:`snapshot_sources` turns a probe's or discoverer's status
snapshot into the gauges of peers by level, payload bytes, targets and discovery backlog.
Reads ``[metrics]``, ``coordination.redis_url`` and what :class:`index.store.Store` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from config import Settings
from heroes.roles import Role
from index.store import Store
from telemetry.metrics import DISCOVERY_BACKLOG, PAYLOAD_BYTES, PEERS, PROBE_TARGETS, Samples
from telemetry.service import Check, MetricsRole, Watched


def with_metrics(settings: Settings, store: Store, roles: Sequence[Role], *,
                 sources: Sequence[Watched] = ()) -> list[Role]:
    """``roles``, led by the metrics listener when ``metrics.listen`` is set."""
    if not settings.metrics.listen:
        return list(roles)
    role = MetricsRole(settings.metrics, readiness_checks(settings, store), sources=sources)
    return [role, *roles]


def readiness_checks(settings: Settings, store: Store) -> dict[str, Check]:
    checks: dict[str, Check] = {"backend": lambda: _backend(store),
                                "spool": lambda: _spool(store)}
    url = settings.coordination.redis_url.get_secret_value()
    if url:
        checks["redis"] = lambda: _redis(url)
    return checks


async def _backend(store: Store) -> None:
    async with store.reader() as backend:
        await backend.count("page")


async def _spool(store: Store) -> None:
    # The spool file, or the directory it will be created in (or that directory's parent).
    path = store.spool_path
    while not path.exists() and path.parent != path:
        path = path.parent
    if not os.access(path, os.W_OK):
        raise OSError(f"{path}: not writable")


async def _redis(url: str) -> None:
    try:
        from redis.asyncio import Redis
    except ImportError as exc:
        raise RuntimeError("coordination.redis_url is set but the redis client is not "
                           "installed (pip install 'heroes[coordination]')") from exc
    client = Redis.from_url(url, socket_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()


def snapshot_sources(name: str, snapshot: Callable[[], dict[str, Any]]) -> list[Watched]:
    """Gauges from a probe's (``peers_by_level``, ``targets``) or discoverer's (``backlog``)
    status ``snapshot``; its ``payload`` is one session's counters or ``{session: counters}``."""

    def peers() -> Samples:
        return {(level,): float(n) for level, n in snapshot().get("peers_by_level", {}).items()}

    def payload() -> Samples:
        found = snapshot().get("payload", {})
        sessions = found if all(isinstance(v, dict) for v in found.values()) else {name: found}
        samples: dict[tuple[str, ...], float] = {}
        for session, counters in sessions.items():
            key = f"{name}/{session}" if session != name else name
            samples[(key, "down")] = float(counters.get("recv_payload_bytes", 0))
            samples[(key, "up")] = float(counters.get("sent_payload_bytes", 0))
        return samples

    def targets() -> Samples:
        snap = snapshot()
        if "targets" not in snap:
            return {}
        return {("watched",): float(snap["targets"]),
                ("pending",): float(snap.get("targets_pending", 0)),
                ("failed",): float(snap.get("targets_failed", 0))}

    def backlog() -> Samples:
        snap = snapshot()
        return {(): float(snap["backlog"])} if "backlog" in snap else {}

    return [(PEERS, name, peers), (PAYLOAD_BYTES, name, payload),
            (PROBE_TARGETS, name, targets), (DISCOVERY_BACKLOG, name, backlog)]
