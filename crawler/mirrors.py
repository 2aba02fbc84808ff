"""Mirrors: services whose front pages are near duplicates form one mirror group.

A front page (the host's ``/``, or where it redirected) gets the SimHash of its text
(:mod:`crawler.extract.similarity`); services whose hashes differ in at most
``crawler.mirror_max_distance`` bits are mirrors, and mirrors of mirrors join the same group
(single linkage). A group's id is its lowest onion, so it stays the same while that onion
stays in it; a service with no mirror has no group (empty).

:func:`mirror_groups` is the pure rule. :class:`MirrorPipeline` (a Scrapy item pipeline)
hashes the front pages of a crawl and, when the spider closes, finds the indexed services
that may be their mirrors (those sharing a 16-bit quarter of a hash, and the members of
their groups), groups them all and appends the changed ``service`` documents: the crawled
hosts with their hash and group, and known services whose group changed. Outcomes are
counted as ``heroes/mirrors/front_pages`` and ``heroes/mirrors/grouped``; an index that
cannot be read is logged and the grouping is done among this crawl's hosts only. Under
``crawl --forever`` the spider never closes, so the front pages hashed so far are grouped
every ``crawler.pipelines.SERVICE_EVERY_S`` too.

Crawling a group deeply once and only checking the others for uptime is the frontier's
decision: :func:`is_group_primary` says which service of a group that is. Reads
``[crawler]`` mirror_max_distance, and ``[index]`` through :class:`index.store.Store`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self
from urllib.parse import urlsplit

from pydantic import ValidationError
from scrapy.crawler import Crawler

from crawler.extract.similarity import (
    BANDS,
    hamming,
    simhash,
    simhash_bands,
    simhash_hex,
)
from crawler.items import PageItem
from crawler.settings import heroes_settings
from documents.base import utcnow
from documents.service import Service
from errors import HeroesError
from index.store import Store
from query.model import Bool, Search, Terms

log = logging.getLogger(__name__)

# Services read from the index per lookup at most.
MAX_CANDIDATES = 10_000
# Two hashes within this many bits share a 16-bit quarter (pigeonhole over BANDS quarters).
MAX_FINDABLE_DISTANCE = BANDS - 1


def mirror_groups(hashes: Mapping[str, int], max_distance: int) -> dict[str, str]:
    """Host -> group id (its group's lowest host) for every host that has a mirror among
    ``hashes``; hosts without one are left out."""
    if not 0 <= max_distance <= MAX_FINDABLE_DISTANCE:
        raise ValueError(
            f"max_distance must be between 0 and {MAX_FINDABLE_DISTANCE} (got {max_distance!r})"
        )
    parent = {host: host for host in hashes}

    def root(host: str) -> str:
        while parent[host] != host:
            parent[host] = parent[parent[host]]
            host = parent[host]
        return host

    buckets: dict[str, list[str]] = {}
    for host, value in hashes.items():
        for band in simhash_bands(value):
            buckets.setdefault(band, []).append(host)
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if hamming(hashes[a], hashes[b]) <= max_distance:
                    ra, rb = root(a), root(b)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for host in hashes:
        groups.setdefault(root(host), []).append(host)
    return {
        host: min(members)
        for members in groups.values()
        if len(members) > 1
        for host in members
    }


def is_group_primary(service: Service) -> bool:
    """True when this service is the one of its mirror group to crawl deeply (the group's
    id, its lowest onion), or has no mirror; the others only need their uptime checked."""
    return not service.mirror_group or service.mirror_group == service.host


@dataclass(frozen=True)
class FrontPage:
    host: str
    simhash: int
    fetched_at: datetime
    title: str = ""


def front_page(item: PageItem) -> FrontPage | None:
    """The front page an item is, with its hash; None for any other page, a failed fetch, a
    challenge or a page without words."""
    page = item.page
    if page.error or (item.access is not None and item.access.challenge):
        return None
    urls = (*item.request_urls, page.url)
    if not any(urlsplit(url).path in ("", "/") for url in urls):
        return None
    value = simhash(page.text)
    if value is None:
        return None
    host = page.host or (urlsplit(page.url).hostname or "")
    return FrontPage(host, value, page.fetched_at, page.title)


def regroup(
    fronts: Mapping[str, FrontPage],
    known: Iterable[Service],
    max_distance: int,
    now: datetime,
) -> list[Service]:
    """The service documents to append after grouping ``fronts`` (this crawl's front pages)
    with ``known`` (indexed services): one per crawled host (hash and group only, merged into
    the indexed service by its ``mirror_at``), and a copy of every known service whose group
    changed."""
    known_by_host = {s.host: s for s in known}
    hashes = {h: int(s.simhash, 16) for h, s in known_by_host.items() if s.simhash}
    hashes.update({host: front.simhash for host, front in fronts.items()})
    groups = mirror_groups(hashes, max_distance)
    out: list[Service] = []
    for host, front in fronts.items():
        # Its own times only: the crawl's service document (and the indexed one) keep theirs.
        out.append(Service(
            host=host,
            first_seen=front.fetched_at,
            last_seen=front.fetched_at,
            last_up=front.fetched_at,
            up=True,
            title=front.title,
            simhash=simhash_hex(front.simhash),
            simhash_bands=simhash_bands(front.simhash),
            mirror_group=groups.get(host, ""),
            mirror_at=now,
        ))
    for host, service in known_by_host.items():
        if host not in fronts and groups.get(host, "") != service.mirror_group:
            out.append(service.model_copy(
                update={"mirror_group": groups.get(host, ""), "mirror_at": now}
            ))
    return out


class MirrorPipeline:
    """Item pipeline: hashes front pages, groups mirrors when the spider closes."""

    def __init__(self, crawler: Crawler):
        settings = heroes_settings(crawler.settings)
        self.max_distance = settings.crawler.mirror_max_distance
        self.store = Store(settings)
        self.stats = crawler.stats
        self.fronts: dict[str, FrontPage] = {}
        from crawler.pipelines import HEROES_FOREVER

        self.forever = crawler.settings.getbool(HEROES_FOREVER)
        self._grouped_at = time.monotonic()
        self._grouping: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageItem):
            front = front_page(item)
            if front is not None:
                self.fronts[front.host] = front
                if self.stats is not None:
                    self.stats.inc_value("heroes/mirrors/front_pages")
                if self.forever and self._due():
                    self._grouping = asyncio.get_running_loop().create_task(self._group())
        return item

    def _due(self) -> bool:
        from crawler.pipelines import SERVICE_EVERY_S

        if self._grouping is not None and not self._grouping.done():
            return False
        return time.monotonic() - self._grouped_at >= SERVICE_EVERY_S

    async def _known(self, fronts: Mapping[str, FrontPage]) -> list[Service]:
        bands = sorted({b for f in fronts.values() for b in simhash_bands(f.simhash)})
        first = await self.store.search(Search(
            kind="service",
            query=Bool(should=(Terms("simhash_bands", tuple(bands)),
                               Terms("host", tuple(sorted(fronts)))),
                       minimum_should_match=1),
            size=MAX_CANDIDATES,
        ))
        found = [Service.model_validate(h["_source"]) for h in first["hits"]["hits"]]
        groups = sorted({s.mirror_group for s in found if s.mirror_group})
        if groups:
            members = await self.store.search(Search(
                kind="service", query=Terms("mirror_group", tuple(groups)), size=MAX_CANDIDATES
            ))
            found += [Service.model_validate(h["_source"]) for h in members["hits"]["hits"]]
        return list({s.host: s for s in found}.values())

    async def close_spider(self) -> None:
        try:
            if self._grouping is not None:
                await self._grouping
            await self._group()
        finally:
            self.store.close()

    async def _group(self) -> None:
        # Front pages hashed while this runs wait for the next turn; the ones grouped now are
        # in the index once drained, where that turn finds them.
        fronts, self.fronts = self.fronts, {}
        self._grouped_at = time.monotonic()
        if not fronts:
            return
        try:
            known = await self._known(fronts)
        except (HeroesError, ValidationError, OSError) as exc:
            log.warning("mirror groups: cannot read the indexed services (%s); grouping "
                        "this crawl's services only", exc)
            known = []
        docs = regroup(fronts, known, self.max_distance, utcnow())
        grouped = sum(1 for d in docs if d.mirror_group)
        if grouped:
            log.info("mirror groups: %d services in %d groups", grouped,
                     len({d.mirror_group for d in docs if d.mirror_group}))
        if self.stats is not None:
            self.stats.set_value("heroes/mirrors/grouped", grouped)
        self.store.append(docs)
