"""The metrics listener beside real roles: counters move with real work, health answers.

A drain over a real spool and the embedded index, a real libtorrent probe session (no
targets: its payload counters must read 0), a real redis-server for readiness; scraped over
HTTP on a free 127.0.0.1 port and parsed with prometheus-client's own parser.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config import Settings, load_settings
from documents import Page
from heroes.lab import redis as lab_redis
from heroes.metrics import snapshot_sources, with_metrics
from heroes.roles import Role, run_roles
from index.store import Store
from telemetry.service import MetricsListenError, MetricsRole

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": str(tmp_path / "data"),
                              "metrics": {"listen": "127.0.0.1:0", "ready_timeout_s": 5},
                              "index": {"batch_age_s": 0.05}}
    values.update(overrides)
    return load_settings(None, environ={}, overrides=values)


def pages(n: int, prefix: str = "p") -> list[Page]:
    return [Page(url=f"http://{prefix}{i}example.onion/", title=f"t{i}", text="market forum",
                 fetched_at="2026-11-28T12:00:00Z", sha256=f"{i:064x}") for i in range(n)]


@dataclass
class Unchecked:
    """A spooled body that skipped validation, as one from an older or broken producer."""

    KIND: str
    id: str
    body: dict[str, Any]

    def source(self) -> dict[str, Any]:
        return {**self.body, "kind": self.KIND}


@contextlib.asynccontextmanager
async def serving(roles: Sequence[Role]) -> AsyncIterator[str]:
    """Run ``roles`` (the metrics listener first); yields its base URL."""
    metrics = roles[0]
    assert isinstance(metrics, MetricsRole)
    stop = asyncio.Event()
    task = asyncio.create_task(run_roles(roles, stop, signals=False))
    try:
        await until(lambda: metrics._runner is not None and metrics.port != 0, "listening")
        yield f"http://127.0.0.1:{metrics.port}"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)


async def scrape(base: str) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def get_json(base: str, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}{path}") as response:
        return response.status, await response.json()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_drain_moves_its_counters_and_the_spool_gauges(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = Store(settings)
    try:
        async with serving(with_metrics(settings, store, [store.drain_role()])) as base:
            before = await scrape(base)
            store.append(pages(5))
            # A body its kind refuses (status is a number): the drain sets it aside.
            store.append([Unchecked("page", "bad", {"url": "http://bad.onion/",
                                                    "status": "not a number"})])

            async def drained() -> Samples:
                now = await scrape(base)
                done = value(now, "heroes_drained_documents_total", kind="page")
                return now if done - value(before, "heroes_drained_documents_total",
                                           kind="page") >= 5 else {}

            after: Samples = {}
            deadline = time.monotonic() + 30
            while not after and time.monotonic() < deadline:
                after = await drained()
                if not after:
                    await asyncio.sleep(0.05)
            assert after, "the drain's counter did not move"
            assert value(after, "heroes_documents_set_aside_total", kind="page") >= 1 + value(
                before, "heroes_documents_set_aside_total", kind="page")
            assert value(after, "heroes_spool_documents", kind="page") == 0
            assert value(after, "heroes_spool_oldest_age_seconds") == 0
            assert value(after, "heroes_drain_lag_seconds") >= 0
            assert ("heroes_drain_lag_seconds", ()) in after
            assert await get_json(base, "/healthz") == (200, {"status": "ok"})
            status, body = await get_json(base, "/readyz")
            assert (status, body) == (200, {"status": "ready",
                                            "checks": {"backend": "ok", "spool": "ok"}})
    finally:
        store.close()


async def test_spooled_documents_show_as_depth_and_age_until_drained(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = Store(settings)
    try:
        # No drain in this process: what is spooled stays, and the gauges say so.
        async with serving(with_metrics(settings, store, [])) as base:
            store.append(pages(3, "q"))
            samples = await scrape(base)
            assert value(samples, "heroes_spool_documents", kind="page") == 3
            assert value(samples, "heroes_spool_oldest_age_seconds") > 0
    finally:
        store.close()


async def test_readyz_is_503_while_the_backend_does_not_answer(tmp_path: Path) -> None:
    closed = _free_port()
    settings = settings_for(tmp_path, index={"backend": "elasticsearch"},
                            elasticsearch={"hosts": [f"http://127.0.0.1:{closed}"],
                                           "username": "user", "password": "hunter2",
                                           "max_retries": 0})
    store = Store(settings)
    try:
        async with serving(with_metrics(settings, store, [])) as base:
            status, body = await get_json(base, "/readyz")
            assert await get_json(base, "/healthz") == (200, {"status": "ok"})
    finally:
        store.close()
    assert status == 503
    assert body["status"] == "not ready"
    assert body["checks"]["spool"] == "ok"
    assert body["checks"]["backend"] != "ok"
    assert "hunter2" not in str(body)


async def test_readyz_follows_redis_from_down_to_up(tmp_path: Path) -> None:
    port = _free_port()
    settings = settings_for(tmp_path,
                            coordination={"redis_url": f"redis://127.0.0.1:{port}/0"})
    store = Store(settings)
    lab_dir = tmp_path / "lab"
    try:
        async with serving(with_metrics(settings, store, [])) as base:
            status, body = await get_json(base, "/readyz")
            assert status == 503, body
            assert body["checks"]["redis"] != "ok"
            assert body["checks"]["backend"] == "ok"
            await asyncio.to_thread(lab_redis.up, lab_dir, port)
            status, body = await get_json(base, "/readyz")
            assert (status, body["checks"]["redis"]) == (200, "ok"), body
    finally:
        await asyncio.to_thread(lab_redis.down, lab_dir)
        store.close()


async def test_a_probe_session_reports_zero_payload_bytes(tmp_path: Path) -> None:
    from monitors.probe import Probe

    settings = settings_for(tmp_path, probe={"listen_ip": "127.0.0.81", "dht": False,
                                             "pex": False, "probe_id": "probe-metrics"})
    store = Store(settings)
    try:
        probe = Probe(settings, store, targets=[], use_index=False)
        roles = with_metrics(settings, store, [probe],
                             sources=snapshot_sources("probe", probe.snapshot))
        async with serving(roles) as base:
            samples = await scrape(base)
    finally:
        store.close()
    payload = {labels: v for (name, labels), v in samples.items()
               if name == "heroes_payload_bytes"}
    assert {dict(k)["direction"] for k in payload} == {"up", "down"}
    assert {dict(k)["session"] for k in payload} == {"probe/watcher", "probe/metadata"}
    assert set(payload.values()) == {0.0}


async def test_a_taken_port_stops_start_up_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(tmp_path, metrics={"listen": f"127.0.0.1:{port}"})
        store = Store(settings)
        try:
            with pytest.raises(MetricsListenError, match=f"metrics.listen 127.0.0.1:{port}"):
                await run_roles(with_metrics(settings, store, [store.drain_role()]),
                                signals=False)
        finally:
            store.close()


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    store = Store(settings)
    drain = store.drain_role()
    assert with_metrics(settings, store, [drain]) == [drain]
    store.close()


@pytest.mark.parametrize("bad", ["9464", "localhost:9464", "127.0.0.1:70000", "127.0.0.1:x"])
def test_a_bad_listen_value_is_refused_naming_it(tmp_path: Path, bad: str) -> None:
    from config import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={}, overrides={"metrics": {"listen": bad}})
    text = "\n".join(str(p) for p in caught.value.problems)
    assert "metrics.listen" in text and repr(bad) in text and "IP:PORT" in text
