"""An analyse pass that dies part-way and is run again reaches the same clusters as one that
never stopped: nothing lost, no record counted twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from analysis.runner import Analyser
from analysis.state import AnalysisDB, analysis_db_path
from config import Settings
from documents import Document
from heroes.lab.operators import operator_world
from index.store import Store
from tests.analysis.lab_index import (
    analyse,
    index,
    lab_analysis,
    live_clusters,
    world_documents,
)


class Crash(Exception):
    pass


async def _crashing_pass(settings: Settings, after_appends: int) -> None:
    """One pass whose process 'dies' at its ``after_appends``-th spool append."""
    store = Store(settings)
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    calls = 0

    def append(docs: Iterable[Document]) -> int:
        nonlocal calls
        calls += 1
        if calls == after_appends:
            raise Crash
        return store.append(docs)

    try:
        analyser = Analyser(settings.analysis, db, append)
        async with store.reader() as backend:
            with pytest.raises(Crash):
                await analyser.run_once(backend)
    finally:
        db.close()
        store.close()


def _shape(clusters: list) -> list:
    return sorted((c.cluster_id, sorted(m.key for m in c.members),
                   sorted((e.a, e.b, e.type, e.value) for e in c.edges)) for c in clusters)


@pytest.mark.parametrize("crash_at", [1, 2, 4])
async def test_killed_and_rerun_gives_the_same_clusters(
        make_settings: Callable[..., Settings], tmp_path: Path, crash_at: int) -> None:
    analysis = lab_analysis(tmp_path, batch_size=3)
    sites = operator_world()
    docs = world_documents(sites)
    clean = make_settings(data_dir=str(tmp_path / "clean"), analysis=analysis)
    await index(clean, docs)
    await analyse(clean)
    expected = _shape(await live_clusters(clean))
    assert len(expected) == 6

    crashed = make_settings(data_dir=str(tmp_path / "crashed"), analysis=analysis)
    await index(crashed, docs)
    await _crashing_pass(crashed, crash_at)
    db = AnalysisDB(analysis_db_path(crashed.data_dir))
    done = db.conn.execute("SELECT count(*) FROM done").fetchone()[0]
    db.close()
    assert 0 < done < len(docs)  # the pass died with work left
    counters = await analyse(crashed)
    assert counters.pages + counters.services == len(docs) - done
    assert _shape(await live_clusters(crashed)) == expected
