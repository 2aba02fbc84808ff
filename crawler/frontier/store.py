"""The frontier store interface: queued URLs shared by every crawler of one frontier.

A URL enters once (dedup on its canonical form, :mod:`crawler.frontier.canonical`), unless it
is a URL trap (:mod:`crawler.frontier.traps`) or its host already has
``crawler.max_pages_per_host`` URLs. Each URL is *queued* (with a due time and a priority),
*leased* to one crawler until its lease runs out (``frontier.lease_s``), *done*, or *failed*
(after ``frontier.max_attempts`` failures in a row). The order is global by priority class:
a host is ranked by the priority of its best due URL, and the best-ranked hosts are served
round robin, one URL per host per turn (within a host the highest priority first, then the
oldest), so every new URL (priority 0) of any host goes before any changed page's re-fetch
(``CHANGED_PRIORITY``), and those before stale re-visits (``STALE_PRIORITY``). Never more
than ``crawler.concurrency_per_host`` URLs of one host are leased at once, so a big site
cannot take every slot, and a deferred host is skipped whatever its rank. A host stays with
the crawler that leased its URLs while that crawler holds any of them and
``frontier.host_affinity_s`` after its last lease (not after it released its leases or they
ran out, nor once the crawler has not leased or renewed for ``frontier.lease_s``: it died
between two fetches of the host): other crawlers skip it, so one crawler's politeness (its
streams, delays and a rate limit learned from 429s) sees all of the host's traffic, and
several crawlers never add up to more than one polite crawler on one onion. A lease that
runs out puts its URL back in the queue (checked on every ``lease``). Times are relative
(seconds from now) in the interface, so crawlers on machines with skewed clocks agree.

Every operation may raise :class:`FrontierUnavailable` (the store cannot be reached): the
operation did not happen, or happened in full; retrying it is safe. Backends:
:class:`crawler.frontier.sqlite.SqliteFrontierStore`,
:class:`crawler.frontier.redis.RedisFrontierStore`; :func:`crawler.frontier.open_store`
picks one from the settings.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from config.sections.frontier import FrontierSettings
from crawler.frontier.canonical import BadUrl, canonical_url, host_of, url_key
from crawler.frontier.traps import trap_reason
from errors import BackendUnavailable

# The priority classes of the crawl service (higher first): URLs never fetched, pages that
# changed at their last visit, re-visits of pages that did not (and services' re-checks).
NEW_PRIORITY = 0
CHANGED_PRIORITY = -5
STALE_PRIORITY = -10


class FrontierUnavailable(BackendUnavailable):
    """The frontier store cannot be reached (Redis down, database unreadable); retry later."""


class Outcome(enum.StrEnum):
    """What ``push`` did with one URL."""

    ADDED = "added"
    DUPLICATE = "duplicate"  # its canonical URL is known (queued, leased, done or failed)
    TRAP = "trap"  # a URL trap (repeating segments, too deep)
    HOST_CAP = "host_cap"  # its host has crawler.max_pages_per_host URLs already
    BAD = "bad"  # not an http(s) URL with a host


@dataclass(frozen=True)
class NewUrl:
    """A URL to queue. ``callback``/``errback`` name spider methods; ``delay_s`` makes it due
    later than now."""

    url: str
    depth: int = 0
    priority: int = 0
    callback: str | None = None
    errback: str | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Leased:
    """A URL leased to the caller; ``key`` is what ``ack``/``nack``/``renew`` take."""

    key: str
    url: str
    host: str
    depth: int
    priority: int
    callback: str | None
    errback: str | None
    attempts: int


@dataclass(frozen=True)
class HostState:
    host: str
    admitted: int = 0  # URLs of this host ever queued (what the page cap counts)
    queued: int = 0
    leased: int = 0
    done: int = 0
    failed: int = 0
    deferred_s: float = 0.0  # seconds until the host may be served again (defer_host)


@dataclass(frozen=True)
class FrontierCounts:
    """For a status view. ``oldest_due_s``: how long the most overdue queued URL has been due
    (None: nothing due). ``top_hosts``: (host, queued) with the longest queues first."""

    queued: int = 0
    due: int = 0
    leased: int = 0
    done: int = 0
    failed: int = 0
    oldest_due_s: float | None = None
    top_hosts: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.queued + self.leased + self.done + self.failed


@dataclass(frozen=True)
class Admitted:
    """A URL that passed the pure checks; what a backend stores."""

    index: int  # position in the push call
    key: str
    url: str
    host: str
    item: NewUrl


class FrontierStore(ABC):
    """One frontier. ``worker`` names one crawler process (unique across machines)."""

    def __init__(self, options: FrontierSettings, *, host_cap: int, host_concurrency: int):
        self.options = options
        self.host_cap = host_cap
        self.host_concurrency = host_concurrency

    def canonical(self, url: str) -> str:
        return canonical_url(url, self.options.session_params)

    def key_of(self, url: str) -> str:
        return url_key(self.canonical(url))

    def push(self, items: Sequence[NewUrl], *, lease_to: str | None = None) -> list[Outcome]:
        """Queue new URLs; one outcome per item. With ``lease_to`` the added URLs are leased to
        that worker at once (a request the caller keeps in memory, e.g. a redirect)."""
        outcomes: list[Outcome] = [Outcome.BAD] * len(items)
        admitted: list[Admitted] = []
        for i, item in enumerate(items):
            try:
                canonical = self.canonical(item.url)
            except BadUrl:
                continue
            if trap_reason(canonical, self.options) is not None:
                outcomes[i] = Outcome.TRAP
                continue
            admitted.append(Admitted(i, url_key(canonical), item.url, host_of(canonical), item))
        for a, outcome in zip(admitted, self._push(admitted, lease_to), strict=True):
            outcomes[a.index] = outcome
        return outcomes

    @abstractmethod
    def _push(self, items: list[Admitted], lease_to: str | None) -> list[Outcome]:
        """Store admitted URLs (ADDED, DUPLICATE or HOST_CAP each), one transaction."""

    @abstractmethod
    def lease(self, worker: str, n: int) -> list[Leased]:
        """Up to ``n`` due URLs, round robin over hosts, leased to ``worker`` for
        ``frontier.lease_s``. Expired leases return to the queue first."""

    @abstractmethod
    def renew(self, worker: str, keys: Iterable[str]) -> int:
        """Extend ``worker``'s leases on ``keys`` by ``frontier.lease_s``; returns how many it
        still held."""

    @abstractmethod
    def ack(self, worker: str, keys: Iterable[str], *, refetch_after_s: float | None = None,
            priority: int | None = None) -> int:
        """Mark ``keys`` done (whoever holds them: the page is in the spool); with
        ``refetch_after_s`` they are queued again, due then, and with ``priority`` at that
        priority from then on (a re-fetch queues behind its host's new URLs). Unknown keys are
        ignored; returns how many changed."""

    @abstractmethod
    def nack(self, worker: str, key: str, *, delay_s: float | None = None) -> bool:
        """``worker`` failed on ``key``: queued again after ``delay_s`` or the capped backoff
        (``frontier.retry_base_s`` doubling to ``retry_max_s``), failed for good after
        ``frontier.max_attempts``. False if ``worker`` did not hold it."""

    @abstractmethod
    def release(self, worker: str, keys: Iterable[str] | None = None) -> int:
        """Put ``worker``'s leases (on ``keys``, or all) back in the queue, due now, without
        counting a failure (shutdown, or a crawler known to be dead)."""

    @abstractmethod
    def defer_host(self, host: str, delay_s: float) -> None:
        """Lease nothing of ``host`` for ``delay_s`` (a Retry-After, a host that is down), for
        every crawler; a later, longer deferral wins, a shorter one changes nothing."""

    @abstractmethod
    def set_uptime_only(self, hosts: Iterable[str]) -> None:
        """Replace the hosts whose deep pages are not crawled (mirrors checked for uptime
        only, :mod:`crawler.uptime_only`) in one step, and change the set's version."""

    @abstractmethod
    def uptime_only_version(self) -> int:
        """Changes whenever :meth:`set_uptime_only` replaced the set (0: never set)."""

    @abstractmethod
    def uptime_only_hosts(self) -> frozenset[str]: ...

    @abstractmethod
    def holders(self) -> list[str]:
        """The workers holding leases now."""

    @abstractmethod
    def pending(self, exclude: str | None = None) -> int:
        """URLs due now plus URLs leased (but not those leased by ``exclude``): the work a
        one-shot crawl still waits for."""

    def has_work(self, exclude: str | None = None) -> bool:
        """``pending(exclude) > 0``, as cheaply as the backend can tell."""
        return self.pending(exclude) > 0

    @abstractmethod
    def is_known(self, url: str) -> bool:
        """True if the canonical form of ``url`` was ever pushed."""

    @abstractmethod
    def host(self, host: str) -> HostState: ...

    @abstractmethod
    def counts(self, top: int = 10) -> FrontierCounts: ...

    @abstractmethod
    def close(self) -> None: ...

    def backoff_s(self, attempts: int) -> float:
        """The wait before try ``attempts + 1``: doubling, capped."""
        o = self.options
        return min(o.retry_base_s * 2 ** max(attempts - 1, 0), o.retry_max_s)
