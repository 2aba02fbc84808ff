"""The hosts of one crawl service whose deep pages are not crawled: mirrors of a service
that is crawled deeply (:func:`crawler.mirrors.is_group_primary` says which one).

The set lives in the frontier store (:meth:`crawler.frontier.FrontierStore.set_uptime_only`),
so every crawler process of the frontier, on this machine or another one sharing its Redis,
agrees on it. The service scan (:class:`crawler.service.ServiceScanRole`) replaces it whole
after each pass over the index; the scheduler of every crawler process
(:class:`crawler.service_frontier.ServiceFrontier`) reads it through :class:`UptimeOnly`,
which looks at the set's version at most every ``CHECK_EVERY_S`` and reads the hosts only
when it changed, and then fetches only the front pages of these hosts (their uptime check).
While the store is unavailable the last set read is kept. Reads no settings.
"""

from __future__ import annotations

import time

from crawler.frontier.store import FrontierStore, FrontierUnavailable

# How often a reader asks the store for the set's version at most.
CHECK_EVERY_S = 2.0


class UptimeOnly:
    """The set as last replaced; :meth:`hosts` reads it again when its version changed."""

    def __init__(self, store: FrontierStore):
        self.store = store
        self._hosts: frozenset[str] = frozenset()
        self._version: int | None = None
        self._checked: float | None = None

    def hosts(self) -> frozenset[str]:
        now = time.monotonic()
        if self._checked is not None and now - self._checked < CHECK_EVERY_S:
            return self._hosts
        self._checked = now
        try:
            version = self.store.uptime_only_version()
            if version != self._version:
                self._hosts = self.store.uptime_only_hosts()
                self._version = version
        except FrontierUnavailable:
            pass  # the frontier pauses the crawl; keep the last set until it is back
        return self._hosts
