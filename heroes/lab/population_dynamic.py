"""What the population's server computes per request: conditional answers, the rate limit,
and the pages that change or never end (visitor counter, periodic bulletin, calendar trap).

Pure functions and one small stateful class, so they are tested without a network. The
pages are written with :class:`heroes.lab.site_pages.SitePage`, like the static ones.
Reads no settings.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections import deque
from collections.abc import Mapping
from email.utils import format_datetime, parsedate_to_datetime

from heroes.lab.population_sites import CALENDAR_PREFIX, calendar_path
from heroes.lab.site_pages import SENTENCES, SitePage, SiteWorld

_CALENDAR_RE = re.compile(r"^/calendar/(\d{4})/(\d{2})\.html$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def http_date(epoch_s: float) -> str:
    import datetime as dt

    return format_datetime(dt.datetime.fromtimestamp(int(epoch_s), dt.UTC), usegmt=True)


def not_modified(headers: Mapping[str, str], etag: str, last_modified_s: float) -> bool:
    """RFC 9110 13.1: If-None-Match decides when present; else If-Modified-Since."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            since = parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False  # an unparsable date is ignored, as the RFC says
        return int(last_modified_s) <= since
    return False


class RateLimiter:
    """At most ``limit`` requests in any ``window_s``; :meth:`check` gives the seconds to
    wait (the ``Retry-After``) when a request is over the limit, else 0."""

    def __init__(self, limit: int, window_s: float):
        if limit < 1 or window_s <= 0:
            raise ValueError(f"rate limit needs limit >= 1 and window > 0, not "
                             f"{limit!r} per {window_s!r} s")
        self.limit, self.window_s = limit, window_s
        self._seen: deque[float] = deque()

    def check(self, now: float) -> int:
        while self._seen and self._seen[0] <= now - self.window_s:
            self._seen.popleft()
        if len(self._seen) >= self.limit:
            return max(1, math.ceil(self._seen[0] + self.window_s - now))
        self._seen.append(now)
        return 0


def _world(service: str, onion: str, seed: int) -> SiteWorld:
    world = SiteWorld(seed, "", ())
    world.hosts[service] = onion
    return world


def counter_page(service: str, onion: str, seed: int, visit: int) -> bytes:
    """Different on every visit: the visit number is part of the text."""
    page = SitePage(_world(service, onion, seed), service, "/counter.html", "Visitor counter")
    page.p(f"This page has been visited {visit} times since the service started.")
    page.p(SENTENCES[visit % len(SENTENCES)])
    page.link("/", "News")
    return page.render()


def bulletin_page(service: str, onion: str, seed: int, version: int) -> bytes:
    """The same within one period (``version``), different in the next."""
    rng = random.Random(f"{seed}/bulletin/{version}")
    page = SitePage(_world(service, onion, seed), service, "/bulletin.html", "Latest bulletin")
    page.p(f"Bulletin number {version}.")
    page.p(" ".join(rng.choice(SENTENCES) for _ in range(3)))
    page.link("/", "News")
    return page.render()


def calendar_month(path: str) -> tuple[int, int] | None:
    """(year, month) of a calendar page path, or None when the path names none."""
    match = _CALENDAR_RE.match(path)
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    return (year, month) if 1 <= year <= 9999 and 1 <= month <= 12 else None


def calendar_page(service: str, onion: str, seed: int, year: int, month: int) -> bytes:
    """One month: a few meetups, and links to the months before and after (without end)."""
    rng = random.Random(f"{seed}/calendar/{year}/{month}")
    page = SitePage(_world(service, onion, seed), service, calendar_path(year, month),
                    f"Meetups in {_MONTHS[month - 1]} {year}")
    for day in sorted(rng.sample(range(1, 29), 2)):
        page.p(f"{_MONTHS[month - 1]} {day}: {rng.choice(SENTENCES)}")
    before = (year, month - 1) if month > 1 else (year - 1, 12)
    after = (year, month + 1) if month < 12 else (year + 1, 1)
    if before[0] >= 1:
        page.link(calendar_path(*before), "Previous month")
    if after[0] <= 9999:
        page.link(calendar_path(*after), "Next month")
    page.link("/", "Calendar")
    return page.render()


__all__ = ["CALENDAR_PREFIX", "RateLimiter", "bulletin_page", "calendar_month",
           "calendar_page", "counter_page", "etag_of", "http_date", "not_modified"]
