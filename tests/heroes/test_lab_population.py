"""The lab population without a network: what is generated (deterministic, sizes, mirrors,
dead and text-only onions) and what the server computes per request (conditional answers,
the rate limit, the calendar trap)."""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from heroes.lab import population_dynamic as dyn
from heroes.lab import population_sites as sites
from heroes.lab.population import PopulationOptions, write_server_config
from heroes.lab.population_server import build_apps, make_state
from heroes.lab.tor_config import LabSetupError
from identifiers import get as identifier_type


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("population") / "sites"
    return out, sites.generate_population(out, seed=5)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_onions(generated, tmp_path: Path) -> None:
    out, truth = generated
    again = sites.generate_population(tmp_path / "again", seed=5)
    assert again == truth
    assert _files(tmp_path / "again") == _files(out)
    other = sites.generate_population(tmp_path / "other", seed=6)
    assert {s["onion"] for s in other["services"].values()}.isdisjoint(
        s["onion"] for s in truth["services"].values())


def test_population_shape(generated) -> None:
    out, truth = generated
    services = truth["services"]
    published = [n for n, s in services.items() if s["published"]]
    assert len(published) >= 30
    onion = identifier_type("onion")
    assert all(onion.is_valid(s["onion"]) for s in services.values())
    sizes = [len(services[n]["pages"]) for n in published]
    assert min(sizes) <= 3 and max(sizes) >= 200
    for name in published:
        assert (out / name / "index.html").is_file()
        assert len(list((out / name).rglob("*.html"))) == len(services[name]["pages"])
    for name in truth["dead"]:
        assert not services[name]["published"] and not (out / name).exists()
    assert sorted(len(m) for m in truth["mirror_groups"].values()) == [2, 3]


def test_every_page_of_a_generic_site_is_linked_from_its_front_page(generated) -> None:
    _, truth = generated
    pages = truth["pages"]
    for name, service in truth["services"].items():
        if service["role"] != "generic":
            continue
        seen, todo = set(), [service["pages"][0]]
        while todo:
            url = todo.pop()
            if url in seen:
                continue
            seen.add(url)
            todo += [u for u in pages[url]["links"] if pages.get(u, {}).get("service") == name]
        assert seen == set(service["pages"]), name


def test_mirror_front_pages_are_near_identical(generated) -> None:
    out, truth = generated
    for members in truth["mirror_groups"].values():
        fronts = [(out / m / "index.html").read_text() for m in members]
        for other in fronts[1:]:
            assert other != fronts[0]
            assert difflib.SequenceMatcher(None, fronts[0], other).ratio() > 0.95
        deep = [_files(out / m) for m in members]
        assert all({k: v for k, v in d.items() if k != "index.html"}
                   == {k: v for k, v in deep[0].items() if k != "index.html"} for d in deep)


def test_text_only_services_are_written_never_linked(generated) -> None:
    _, truth = generated
    assert sorted(truth["text_only"]) == sorted(sites.HIDDEN)
    for name, where in truth["text_only"].items():
        onion = truth["services"][name]["onion"]
        linked = {url.split("/")[2] for page in truth["pages"].values()
                  if page["service"] != name for url in page["links"]}
        assert where and onion not in linked
        assert all(onion in truth["text_onions"] and url in truth["text_onions"][onion]
                   for url in where)
    assert truth["dead_onions"][-1] in truth["text_onions"]


def test_conditional_requests() -> None:
    modified = 1767225600.0
    date = dyn.http_date(modified)
    assert dyn.not_modified({"If-None-Match": '"a", "b"'}, '"b"', modified)
    assert dyn.not_modified({"If-None-Match": 'W/"b"'}, '"b"', modified)
    assert not dyn.not_modified({"If-None-Match": '"a"'}, '"b"', modified)
    # If-None-Match decides when both are sent.
    assert not dyn.not_modified({"If-None-Match": '"a"', "If-Modified-Since": date}, '"b"',
                                modified)
    assert dyn.not_modified({"If-Modified-Since": date}, '"b"', modified)
    import datetime as dt

    earlier = format_datetime(dt.datetime.fromtimestamp(modified - 60, dt.UTC), usegmt=True)
    assert not dyn.not_modified({"If-Modified-Since": earlier}, '"b"', modified)
    assert not dyn.not_modified({"If-Modified-Since": "yesterday"}, '"b"', modified)
    assert not dyn.not_modified({}, '"b"', modified)


def test_rate_limiter_answers_retry_after_until_the_window_frees() -> None:
    limiter = dyn.RateLimiter(3, 10.0)
    assert [limiter.check(100.0 + i) for i in range(3)] == [0, 0, 0]
    assert limiter.check(103.5) == 7  # the first request leaves the window at 110
    assert limiter.check(110.0) == 0
    with pytest.raises(ValueError, match="limit >= 1"):
        dyn.RateLimiter(0, 10.0)


def test_calendar_never_ends_and_pages_are_stable() -> None:
    page = dyn.calendar_page("pop-calendar", "x.onion", 1, 2026, 12).decode()
    assert 'href="/calendar/2027/01.html">Next month' in page
    assert 'href="/calendar/2026/11.html">Previous month' in page
    assert dyn.calendar_page("pop-calendar", "x.onion", 1, 2026, 12).decode() == page
    assert dyn.calendar_month("/calendar/2031/07.html") == (2031, 7)
    assert dyn.calendar_month("/calendar/2031/13.html") is None
    assert dyn.calendar_month("/calendar/../etc.html") is None


def test_counter_and_bulletin_change() -> None:
    assert dyn.counter_page("pop-news", "x.onion", 1, 1) != dyn.counter_page(
        "pop-news", "x.onion", 1, 2)
    assert dyn.bulletin_page("pop-news", "x.onion", 1, 4) == dyn.bulletin_page(
        "pop-news", "x.onion", 1, 4)
    assert re.search(rb"Bulletin number 5", dyn.bulletin_page("pop-news", "x.onion", 1, 5))


def test_bad_options_are_named() -> None:
    with pytest.raises(LabSetupError, match="slow_delay_s must be >= 0, not -1"):
        PopulationOptions(slow_delay_s=-1).check()
    with pytest.raises(LabSetupError, match="rate_limit >= 1"):
        PopulationOptions(rate_limit=0).check()


@pytest.fixture
def server_config(generated, tmp_path: Path) -> dict:
    out, truth = generated
    pop_dir = tmp_path / "population"
    pop_dir.mkdir()
    (pop_dir / "sites").symlink_to(out)
    opts = PopulationOptions(seed=5, slow_delay_s=0.2, rate_limit=2, rate_window_s=60.0)
    path = write_server_config(pop_dir, truth, opts, {"web": 0, "admin": 0, "control": 0})
    assert path.stat().st_mode & 0o077 == 0
    return json.loads(path.read_text())


def test_server_answers_by_host_with_conditional_limit_trap_and_withdrawal(
    server_config: dict, generated
) -> None:
    """The onions' application on 127.0.0.1 (no tor): what a crawler sees behind each onion."""
    _, truth = generated
    onion = {name: s["onion"] for name, s in truth["services"].items()}

    async def run() -> None:
        state = make_state(server_config)
        site_app, _ = build_apps(state)
        async with TestClient(TestServer(site_app, host="127.0.0.1")) as client:

            async def get(name: str, path: str, **headers: str):
                reply = await client.get(path, headers={"Host": onion[name], **headers},
                                         allow_redirects=False)
                return reply.status, reply.headers, await reply.text()

            status, headers, body = await get("pop-directory", "/")
            assert status == 200 and "<title>Onion Population Directory</title>" in body
            assert (await get("pop-directory", "/", **{"If-None-Match": headers["ETag"]}))[0] \
                == 304
            assert (await get("pop-dead-1", "/"))[0] == 404  # never published, never served
            assert (await get("pop-news", "/counter.html"))[2] != (
                await get("pop-news", "/counter.html"))[2]
            status, _, body = await get("pop-calendar", "/calendar/2026/12.html")
            assert status == 200 and "/calendar/2027/01.html" in body
            assert [(await get("pop-limited", "/"))[0] for _ in range(3)] == [200, 200, 429]
            assert int((await get("pop-limited", "/"))[1]["Retry-After"]) >= 1
            assert (await get("pop-slow", "/"))[0] == 200
            state.states["pop-flaky-command"] = "down"
            with pytest.raises(aiohttp.ClientError):
                await get("pop-flaky-command", "/")
        state.requests.close()
        state.events.close()
        logged = [json.loads(line) for line in
                  Path(server_config["requests_log"]).read_text().splitlines()]
        assert {"service": "pop-limited", "status": 429} in [
            {"service": e["service"], "status": e["status"]} for e in logged]

    asyncio.run(run())
