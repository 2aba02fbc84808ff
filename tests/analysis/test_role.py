"""The analyse role with ``forever``: documents indexed while it runs are analysed on its
next pass, and it stops when told."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from analysis.runner import AnalyseRole
from config import Settings
from heroes.lab.operators import operator_world
from index.store import Store
from telemetry.metrics import REGISTRY
from tests.analysis.lab_index import T0, index, live_clusters, world_documents


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def _until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.05)


async def test_the_forever_role_picks_up_new_documents_and_stops(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"poll_s": 0.1})
    first = operator_world(kinds=("pgp",), decoys=0)
    later = operator_world(seed=99, kinds=("analytics",), decoys=0)
    await index(settings, world_documents(first))
    store = Store(settings)
    stop = asyncio.Event()
    try:
        async with AnalyseRole(store, forever=True) as role:
            task = asyncio.create_task(role.run(stop))
            await _until(lambda: role.counters.pages == len(first))
            await index(settings, world_documents(later, T0 + timedelta(days=1)))
            await _until(lambda: role.counters.pages == len(first) + len(later))
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            # What a scrape of the role's metrics says (the listener serves this registry).
            assert sample("heroes_analysed_documents_total", kind="page") == (
                len(first) + len(later))
            assert sample("heroes_analysis_output_total", what="clusters") == 2
            behind = sample("heroes_analysis_cursor_age_seconds", kind="page")
            assert behind is not None and behind >= (
                datetime.now(UTC) - (T0 + timedelta(days=2))).total_seconds()
        assert role.counters.clusters_written == 2
        assert sample("heroes_analysed_documents_total", kind="page") is None
    finally:
        store.close()
    # The cluster documents went to the spool, for whichever process drains it.
    await index(settings, [])
    groups = {frozenset(m.key for m in c.members) for c in await live_clusters(settings)}
    assert groups == {frozenset(s.host for s in first), frozenset(s.host for s in later)}
