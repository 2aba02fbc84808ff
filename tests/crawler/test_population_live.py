"""The lab population through the lab Tor client's SOCKS port, as a crawler sees it: every
published service answers, dead ones fail, an intermittent one goes down and comes back on
command, the rate-limited one answers 429 with Retry-After, stable pages answer 304 to
conditional requests, a changing page changes, and the calendar trap never ends."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp_socks import ProxyConnector, ProxyError, ProxyType
from multidict import CIMultiDict

from tests.crawler.population_fixture import OPTIONS, LabPopulation

pytestmark = pytest.mark.tor

TRY_S = 60.0
UP_TIMEOUT_S = 150.0
NEXT_MONTH = re.compile(r'href="(/calendar/\d{4}/\d{2}\.html)">Next month')


def _session(lab_population: LabPopulation, lab_world: Any, user: str) -> aiohttp.ClientSession:
    connector = ProxyConnector(proxy_type=ProxyType.SOCKS5, host="127.0.0.1",
                               port=lab_world.info["socks"]["port"], rdns=True,
                               username=user, password="x")
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=TRY_S))


async def _get(session: aiohttp.ClientSession, url: str,
               headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], str]:
    async with session.get(url, headers=headers or {}, allow_redirects=False) as reply:
        return reply.status, reply.headers.copy(), await reply.text()


async def _until(what: str, check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(1.0)


def test_every_published_service_answers_and_dead_ones_fail(
    lab_population: LabPopulation, lab_world: Any
) -> None:
    truth = lab_population.truth
    assert len(truth["published"]) >= 30
    # The scheduled intermittent service may be in its withdrawn phase now.
    steady = [n for n in truth["published"] if truth["intermittent"].get(n, {}).get("schedule")
              is None]

    async def run() -> None:
        async with _session(lab_population, lab_world, "population-all") as session:

            async def front(name: str) -> tuple[str, Any]:
                try:
                    return name, await _get(session, f"http://{lab_population.onion(name)}/")
                except (ProxyError, aiohttp.ClientError, TimeoutError) as exc:
                    return name, exc

            results = dict(await asyncio.gather(*(front(n) for n in steady)))
            failed = {n: r for n, r in results.items() if not isinstance(r, tuple)
                      or r[0] != 200}
            assert not failed, f"published services that did not answer: {failed}"
            for name, (_, _, body) in results.items():
                title = truth["pages"][f"http://{lab_population.onion(name)}/"]["title"]
                assert f"<title>{title}</title>" in body, name
            for name in truth["dead"]:
                with pytest.raises(ProxyError):
                    await _get(session, f"http://{lab_population.onion(name)}/")

    lab_population.control.set_slow_delay(1.0)  # the slow onion's first byte, for this test
    try:
        asyncio.run(run())
    finally:
        lab_population.control.set_slow_delay(OPTIONS.slow_delay_s)
    served = {r["service"] for r in lab_population.requests() if r["path"] == "/"}
    assert served >= set(steady)


def test_behaviours_through_tor(lab_population: LabPopulation, lab_world: Any) -> None:
    truth = lab_population.truth

    async def run() -> None:
        async with _session(lab_population, lab_world, "population-behaviour") as session:
            # Rate limit: more requests at once than the limit allows.
            limited = f"http://{truth['rate_limited']['onion']}/"
            answers = await asyncio.gather(*(_get(session, limited)
                                             for _ in range(OPTIONS.rate_limit + 3)))
            refused = [headers for status, headers, _ in answers if status == 429]
            assert refused, [status for status, _, _ in answers]
            assert all(int(h["Retry-After"]) >= 1 for h in refused)

            # Conditional requests on a stable page.
            stable = truth["conditional"]["stable_url"]
            status, headers, _ = await _get(session, stable)
            assert status == 200 and headers["Last-Modified"] == truth["conditional"][
                "last_modified"]
            status, _, body = await _get(session, stable, {"If-None-Match": headers["ETag"]})
            assert (status, body) == (304, "")
            status, _, _ = await _get(session, stable,
                                      {"If-Modified-Since": headers["Last-Modified"]})
            assert status == 304

            # A page that changes on every visit; its old ETag no longer matches.
            counter = next(u for u, c in truth["changing"].items() if c["every_visit"])
            _, first_headers, first = await _get(session, counter)
            status, _, second = await _get(session, counter,
                                           {"If-None-Match": first_headers["ETag"]})
            assert status == 200 and first != second

            # The calendar: every month links a next one that is new.
            url, seen = truth["trap"]["start_url"], set()
            for _ in range(6):
                status, _, body = await _get(session, url)
                assert status == 200 and url not in seen
                seen.add(url)
                match = NEXT_MONTH.search(body)
                assert match, body
                url = f"http://{truth['trap']['onion']}{match.group(1)}"

            # Intermittent: the descriptor withdrawn, then published again, on command.
            flaky = f"http://{truth['intermittent']['pop-flaky-command']['onion']}/"
            assert (await _get(session, flaky))[0] == 200

            async def answers_with(expected: int | None) -> bool:
                try:
                    return (await _get(session, flaky))[0] == expected
                except (ProxyError, aiohttp.ClientError, TimeoutError):
                    return expected is None

            await asyncio.to_thread(lab_population.control.take_down, "pop-flaky-command")
            assert lab_population.control.state()["pop-flaky-command"] == "down"
            await _until("the withdrawn service fails", lambda: answers_with(None), TRY_S)
            await asyncio.to_thread(lab_population.control.bring_up, "pop-flaky-command")
            await _until("the service answers again", lambda: answers_with(200), UP_TIMEOUT_S)

    asyncio.run(run())
