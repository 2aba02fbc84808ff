"""The operator groups served as onions of the lab population, crawled through the lab Tor
network (favicons and pictures fetched, hashed and dropped), indexed, then analysed: each
group is one cluster linked by what its sites share, and no decoy joins one."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from analysis.values import strength
from config.loader import load_settings
from heroes.lab.operators import GROUP_KINDS
from tests.analysis.lab_index import live_clusters, suppression_file
from tests.analysis.test_clusters_lab import REASONS
from tests.crawler.conftest import LabWorld, run_heroes
from tests.crawler.observe import files_holding
from tests.crawler.population_fixture import LabPopulation

pytestmark = pytest.mark.tor


def test_operator_groups_crawled_through_tor_are_clustered_with_their_reasons(
    lab_world: LabWorld, lab_population: LabPopulation, tmp_path: Path
) -> None:
    operators = lab_population.truth["operators"]
    seeds = [f"http://{o['onion']}/" for o in operators.values()]
    data_dir = tmp_path / "data"
    since = time.time()
    env = {"HEROES_ANALYSIS__SUPPRESS_FILES": json.dumps(
               [str(suppression_file(tmp_path / "suppress.txt"))]),
           "HEROES_ANALYSIS__COMMON_MIN_SERVICES": "100000",
           "HEROES_CRAWLER__CONCURRENCY": "8"}
    crawl = run_heroes(lab_world, data_dir, ["crawl", *seeds, "--json"], **env)
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    summary = json.loads(crawl.stdout[crawl.stdout.index("{"):])
    assert summary["pages"] >= len(seeds), summary
    analysed = run_heroes(lab_world, data_dir, ["analyse"], timeout=300, **env)
    assert analysed.returncode == 0, analysed.stderr[-3000:]

    settings = load_settings(environ=lab_world.crawl_env(data_dir, **env))
    found = asyncio.run(live_clusters(settings))
    by_members = {frozenset(m.key for m in c.members): c for c in found if c.members}
    expected = {kind: frozenset(o["onion"] for o in operators.values() if o["group"] == kind)
                for kind in GROUP_KINDS}
    assert set(by_members) == set(expected.values()), sorted(map(sorted, by_members))
    for kind, hosts in expected.items():
        cluster = by_members[hosts]
        assert {e.type for e in cluster.edges if e.weight >= 1} == REASONS[kind], kind
        assert all(strength(e.type) == "weak" for e in cluster.edges if e.weight < 1)
        assert all(e.a_record and e.b_record for e in cluster.edges)
    # The favicons and pictures were hashed in memory: none of their bytes is on disk.
    sites = Path(lab_population.info["dir"]) / "sites"
    blobs = [f.read_bytes() for name in operators for f in (sites / name).iterdir()
             if f.suffix in (".ico", ".jpg")]
    assert len(blobs) > len(operators)
    assert files_holding(blobs, [data_dir], since) == []
