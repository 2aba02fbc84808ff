"""A long video's vPDQ entry: its ``hash`` document stays under the index's term limit."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import Settings, load_settings
from heroes.cli import main
from identifiers.vpdq import frames_of
from index.hashsets.importer import import_file
from index.hashsets.membership import MembershipStore, membership_path
from index.matching_vpdq import VpdqIndex
from index.store import Store
from query.model import Search, Term
from tests import es_node as node_fixtures

FRAMES = 2000  # 33 minutes at one frame a second: ~150 kB of frames, past any term limit


def long_video(path: Path, seed: int = 5) -> Path:
    """A ThreatExchange vPDQ file of FRAMES frames (frame_number,quality,pdq_hex,timestamp)."""
    rng = random.Random(seed)
    lines = [f"{n},{rng.randint(60, 100)},{rng.getrandbits(256):064x},{n:.3f}"
             for n in range(FRAMES)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_long_vpdq_entry_is_indexed_by_digest_and_found_by_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    video = long_video(tmp_path / "talk-1.vpdq")
    runner = CliRunner()
    base = ["--data-dir", str(data)]
    done = runner.invoke(main, [*base, "hashes", "import", str(video), "--list", "long"])
    assert done.exit_code == 0, done.output
    drained = runner.invoke(main, [*base, "index", "drain"])
    assert drained.exit_code == 0, drained.output
    assert "drained 1 documents (0 set aside)" in drained.output

    members = MembershipStore(membership_path(data))
    [entry] = members.entries_of_type("vpdq")
    members.close()
    assert len(frames_of(entry.value)) == FRAMES and len(entry.value) > 100_000

    reader = Store(load_settings(None, environ={}, overrides={"data_dir": str(data)}))
    try:
        found = asyncio.run(reader.search(Search("hash", Term("list", "long"))))
    finally:
        reader.close()
    assert found["hits"]["total"]["value"] == 1
    doc = found["hits"]["hits"][0]["_source"]
    assert doc["value"] == "sha256:" + hashlib.sha256(entry.value.encode()).hexdigest()
    assert (doc["type"], doc["frames"], doc["duration_s"]) == ("vpdq", FRAMES, FRAMES - 1)
    assert (doc["list_kind"], doc["list_state"], doc["source_id"]) == ("flag", "active", "talk-1")

    # Matching reads the full value from the membership store: a ten-minute excerpt matches.
    index = VpdqIndex([(entry.value, frames_of(entry.value))])
    [hit] = index.match(frames_of(entry.value)[600:1200])
    assert hit.query_fraction == 1.0 and hit.time_ranges


es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings


@pytest.mark.elasticsearch
async def test_long_vpdq_entry_on_elasticsearch(es_settings: Callable[..., Settings],
                                                tmp_path: Path) -> None:
    settings = es_settings()
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    try:
        report = import_file(long_video(tmp_path / "talk-2.vpdq"), members, store.append,
                             list_name="long")
        assert report.imported == 1
        async with store.writer() as drainer:
            await drainer.drain_all()
        assert store.spool.rejected() == []
        found = await store.search(Search("hash", Term("list", "long")))
    finally:
        members.close()
        store.close()
    [hit] = found["hits"]["hits"]
    assert hit["_source"]["value"].startswith("sha256:")
    assert hit["_source"]["frames"] == FRAMES
