"""The retro-hunt on the Elasticsearch backend (a real node): the same outcome as embedded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config import Settings
from index.hashsets.membership import Entry
from tests import es_node as node_fixtures
from tests.index.test_hunt import ADDED, HIT, World

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings

pytestmark = pytest.mark.elasticsearch


async def test_list_hunt_on_elasticsearch(tmp_path: Path,
                                          es_settings: Callable[..., Settings]) -> None:
    world = World(tmp_path, rules=(HIT,), base=es_settings())
    await world.index()
    assert not await world.flagged_pages()
    world.flag_hashes()
    report = await world.hunt(list_name="retro-list")
    assert report.hits == 5 and report.scanned == len(world.pages)
    alerts = world.alerts()
    assert {a.matched[0]["id"] for a in alerts} == world.expected and len(alerts) == 5
    assert {a.rule_type for a in alerts} == {"retro"}
    await world.drain()
    assert await world.flagged_pages() == world.expected
    assert len(world.alerts()) == 5
    again = await world.hunt(list_name="retro-list")
    assert again.already_done and len(world.alerts()) == 5
    # A media-hash-only list is looked up by terms queries instead of scanned.
    world.flag(Entry("exact", "md5", world.md5s[0], "", "", ADDED),
               Entry("exact", "md5", "0f" * 16, "", "", ADDED))
    exact = await world.hunt(list_name="exact")
    assert exact.kinds["page"].unit == "values" and exact.scanned == 2
    assert exact.hits == 1
    # The page's alert under the same rule exists already (the rule's dedup): none more.
    assert len(world.alerts()) == 5
