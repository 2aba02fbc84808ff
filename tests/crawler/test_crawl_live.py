"""End to end on the lab world: one crawl from the directory seed, through the real Tor network,
checked against the generator's ground truth."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import stem
from stem.control import Controller

from crawler.extract.entities import ENTITY_KEYS
from crawler.tor.isolation import socks_username
from heroes.lab.http_sites import canary_hits
from tests.crawler.conftest import CrawlRun, LabWorld, indexed
from tests.crawler.observe import files_holding

pytestmark = pytest.mark.tor


def _pages(run: CrawlRun) -> dict[str, dict]:
    return {doc["url"]: doc for doc in indexed(run.data_dir, "page")}


def test_crawl_reaches_every_service_and_page_reachable_by_links(
    lab_world: LabWorld, lab_crawl: CrawlRun
) -> None:
    pages = _pages(lab_crawl)
    missing = [u for u in lab_world.truth["reachable_pages"] if u not in pages]
    assert not missing, f"pages not crawled: {missing[:10]}\n{lab_crawl.output[-2000:]}"
    failed = {
        u: pages[u]["error"] for u in lab_world.truth["reachable_pages"] if pages[u].get("error")
    }
    assert not failed
    services = {doc["host"]: doc for doc in indexed(lab_crawl.data_dir, "service")}
    reachable_hosts = {u.split("/")[2] for u in lab_world.truth["reachable_pages"]}
    assert reachable_hosts <= {h for h, s in services.items() if s["up"]}
    for host in reachable_hosts:
        assert services[host]["page_count"] >= 1
        assert services[host]["history"][-1]["up"] is True
    # Dead onions (valid checksum, no service) are recorded as services that are down.
    for onion in lab_world.truth["dead_onions"]:
        if onion in services:
            assert services[onion]["up"] is False


def test_entities_equal_ground_truth(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    pages = _pages(lab_crawl)
    found: dict[str, set[str]] = {key: set() for key in ENTITY_KEYS}
    for doc in pages.values():
        for key in ENTITY_KEYS:
            found[key].update(doc.get("entities", {}).get(key, []))
    expected = lab_world.truth["reachable_entities"]
    for key in ENTITY_KEYS:
        assert found[key] == set(expected[key]), key
        assert not found[key] & set(lab_world.truth["invalid"].get(key, [])), key


def test_media_hashed_in_memory(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    pages = _pages(lab_crawl)
    hashed = {
        m["url"]: m for doc in pages.values() for m in doc.get("media", []) if m.get("sha256")
    }
    pages_truth = lab_world.truth["pages"]
    expected = {m for p in lab_world.truth["reachable_pages"] for m in pages_truth[p]["media"]}
    assert expected, "the generated sites have no images on reachable pages"
    for url in expected:
        assert hashed[url]["sha256"] == lab_world.truth["media"][url]["sha256"], url
        assert hashed[url]["md5"] == lab_world.truth["media"][url]["md5"], url


def test_canary_never_hit_and_no_local_name_resolution(
    lab_world: LabWorld, lab_crawl: CrawlRun
) -> None:
    assert canary_hits(Path(lab_world.info["canary"]["log"])) == []
    resolved = [e["target"] for e in lab_crawl.spy if e["kind"] == "resolve"]
    assert not [t for t in resolved if ".onion" in t], resolved
    # Every connection goes to loopback (Tor's SocksPort, the control port, nothing else).
    connects = [e["target"] for e in lab_crawl.spy if e["kind"] == "connect"]
    assert connects, "the spy saw no connection at all"
    assert all(t.startswith("('127.") for t in connects), connects
    assert lab_crawl.summary["skipped"].get("clearnet", 0) >= 1  # the redirect to the canary


def test_hostile_pages_are_cut_at_the_cap_and_the_crawl_goes_on(
    lab_world: LabWorld, lab_crawl: CrawlRun
) -> None:
    pages = _pages(lab_crawl)
    hostile = lab_world.truth["hostile"]
    bomb = next(u for u, s in hostile.items() if s["kind"] == "gzip_bomb")
    huge = next(u for u, s in hostile.items() if s["kind"] == "huge")
    assert pages[bomb]["error"].startswith("size cap"), pages[bomb]
    assert pages[huge]["error"].startswith("size cap"), pages[huge]
    assert lab_crawl.summary["pages"] >= len(lab_world.truth["reachable_pages"])
    # The bomb inflates to 256 MB and the page is 50 MB: neither was ever held in memory
    # (held, the bomb alone would add 256 MB to the crawl, whose own peak is ~330 MB with its
    # drain, matching, politeness and WARC capture, and pass the bound). The peak is the
    # crawl's own (VmHWM; ru_maxrss would be at least this test session's size), and its
    # malloc arenas are capped (telemetry.native_memory: 480 MB with glibc's default arenas).
    assert lab_crawl.max_rss_kb < 576 * 1024, f"crawler peak RSS {lab_crawl.max_rss_kb} kB"


def test_each_onion_used_its_own_circuit(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    hosts = {u.split("/")[2] for u in lab_world.truth["reachable_pages"]}
    try:
        with Controller.from_port(port=lab_world.info["control"]["port"]) as controller:
            controller.authenticate()
            circuits = controller.get_circuits()
    except stem.SocketError as exc:
        pytest.fail(f"lab client control port: {exc}")
    rend = [c for c in circuits if c.purpose == "HS_CLIENT_REND" and c.rend_query]
    by_host: dict[str, set[str | None]] = {}
    for circ in rend:
        by_host.setdefault(circ.rend_query + ".onion", set()).add(circ.socks_username)
    for host in hosts:
        assert host in by_host, f"no rendezvous circuit left for {host}: {sorted(by_host)}"
        # "lab-probe" is the lab's own readiness fetch, not the crawler.
        assert by_host[host] - {"lab-probe"} == {socks_username(host)}, (host, by_host[host])


def test_no_media_bytes_on_disk(lab_world: LabWorld, lab_crawl: CrawlRun) -> None:
    sites = lab_world.dir / "sites"
    blobs = []
    for url in lab_world.truth["media"]:
        host, path = url.split("/")[2], "/" + url.split("/", 3)[3]
        service = next(n for n, s in lab_world.truth["services"].items() if s["onion"] == host)
        blobs.append((sites / service / path.lstrip("/")).read_bytes())
    assert blobs
    # Images are stored only as hashes; their bytes appear nowhere, not even inside the
    # spool or the index.
    hits = files_holding(blobs, (lab_crawl.data_dir, Path(tempfile.gettempdir())),
                         lab_crawl.started_at, skip=(lab_world.dir,))
    assert not hits, hits


def test_summary_reports_counts(lab_crawl: CrawlRun) -> None:
    summary = lab_crawl.summary
    assert summary["finish_reason"] == "finished"
    assert summary["services_up"] >= 5
    assert summary["media_hashed"] >= 1
    assert summary["frontier"]["pending"] == 0
    assert "indexed" in summary["drain"]
    # The drain role ran beside the crawl (pages were searchable before the crawl ended).
    assert "draining the spool" in lab_crawl.output
    json.dumps(summary)


def test_progress_is_logged_at_info_and_the_summary_is_the_only_result(
    lab_crawl: CrawlRun,
) -> None:
    # The crawl ran with -v: progress lines are log records on stderr, never bare prints.
    lines = [line for line in lab_crawl.output.splitlines() if "pages/s" in line]
    assert lines, lab_crawl.output[-2000:]
    assert all(" INFO heroes.cli.crawl_cmd: pages " in line for line in lines), lines[:3]
