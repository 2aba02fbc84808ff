"""The demo's peers step on the synthetic installation: ranking printed, top peer exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from config import Settings
from heroes import demo_peers
from index.store import Store
from tests.triage import peer_data as pd
from tests.triage.conftest import load


async def test_demo_ranks_and_exports_the_top_peer(make_settings: Callable[..., Settings],
                                                   tmp_path: Path) -> None:
    settings = make_settings(triage={"severity": pd.SEVERITY})
    store = Store(settings)
    try:
        async with store.writer() as drainer:
            await load(drainer.backend, settings)
    finally:
        store.close()
    lines = await demo_peers.lines(settings, tmp_path / "demo.toml")
    assert lines[1].strip().startswith(f"1. {pd.TOP}")
    exported = sorted((Path(settings.data_dir) / "exports").glob("peer-*.json"))
    assert len(exported) == 1 and any(str(exported[0]) in line for line in lines)
    assert len(json.loads(exported[0].read_text())["sightings"]) == 6
