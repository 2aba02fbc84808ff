"""Adapters that watch a spool's, an outbox's, an analysis's or a crawl's state as metrics.

See ``Sampled.watch``. Typed by the methods they call, so ``index``, ``alerting`` and
``analysis`` register their own objects without ``telemetry`` importing them. Reads no
settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from telemetry.metrics import (
    ANALYSED,
    ANALYSIS_BEHIND,
    ANALYSIS_WRITTEN,
    CRAWL_QUEUE,
    NEWNYMS,
    OUTBOX_AGE,
    OUTBOX_DEPTH,
    PAGE_ERRORS,
    PAGES,
    RELAUNCHES,
    SOCKS_FAILURES,
    SPOOL_AGE,
    SPOOL_DEPTH,
    TOR_CLIENTS,
)


class _Spool(Protocol):
    def backlog(self) -> dict[str, int]: ...

    def oldest_age(self) -> float | None: ...


class _Outbox(Protocol):
    def counts(self) -> dict[str, int]: ...

    def oldest_waiting(self) -> float | None: ...


class _AnalysisCounters(Protocol):
    pages: int
    services: int
    skipped: int
    clusters_written: int
    relaunches: int
    failed: int


class _AnalysisState(Protocol):
    def cursors(self) -> dict[str, int]: ...

    def relaunch_counts(self) -> dict[str, int]: ...


def watch_analysis(key: str, counters: Callable[[], _AnalysisCounters],
                   state: _AnalysisState) -> None:
    """Report what the analysis read and wrote, how far behind its cursors are and the
    relaunches by status."""

    def read() -> dict[tuple[str, ...], float]:
        now = counters()
        return {("page",): float(now.pages), ("service",): float(now.services),
                ("skipped",): float(now.skipped)}

    def written() -> dict[tuple[str, ...], float]:
        now = counters()
        return {("clusters",): float(now.clusters_written),
                ("relaunch_candidates",): float(now.relaunches),
                ("failed_batches",): float(now.failed)}

    def behind() -> dict[tuple[str, ...], float]:
        now_ms = time.time() * 1000
        return {(kind,): max(now_ms - at_ms, 0.0) / 1000
                for kind, at_ms in state.cursors().items()}

    ANALYSED.watch(key, read)
    ANALYSIS_WRITTEN.watch(key, written)
    ANALYSIS_BEHIND.watch(key, behind)
    RELAUNCHES.watch(key, lambda: {(status,): float(n)
                                   for status, n in state.relaunch_counts().items()})


def forget_analysis(key: str) -> None:
    for metric in (ANALYSED, ANALYSIS_WRITTEN, ANALYSIS_BEHIND, RELAUNCHES):
        metric.forget(key)


def watch_spool(key: str, spool: _Spool) -> None:
    """Report ``spool``'s depth by kind and its oldest document's age under ``key``."""
    SPOOL_DEPTH.watch(key, lambda: {(kind,): float(n) for kind, n in spool.backlog().items()})
    SPOOL_AGE.watch(key, lambda: {(): spool.oldest_age() or 0.0})


def forget_spool(key: str) -> None:
    SPOOL_DEPTH.forget(key)
    SPOOL_AGE.forget(key)


def watch_outbox(key: str, outbox: _Outbox) -> None:
    """Report ``outbox``'s messages by status and its oldest waiting message's age."""

    def age() -> dict[tuple[str, ...], float]:
        oldest = outbox.oldest_waiting()
        return {(): 0.0 if oldest is None else max(time.time() - oldest, 0.0)}

    OUTBOX_DEPTH.watch(key, lambda: {(s,): float(n) for s, n in outbox.counts().items()})
    OUTBOX_AGE.watch(key, age)


def forget_outbox(key: str) -> None:
    OUTBOX_DEPTH.forget(key)
    OUTBOX_AGE.forget(key)


def watch_crawl(key: str, stats: Callable[[], Mapping[str, Any]], tor_clients: int) -> None:
    """Report a crawl's pages, failures, scheduler queue and Tor NEWNYMs from its Scrapy
    ``stats`` (``heroes/pages``, ``heroes/page_errors``, ``heroes/tor/newnym``,
    ``heroes/socks/<kind>``, ``scheduler/enqueued`` and ``/dequeued``)."""

    def one(name: str) -> Callable[[], dict[tuple[str, ...], float]]:
        return lambda: {(): float(stats().get(name, 0))}

    def queue() -> dict[tuple[str, ...], float]:
        now = stats()
        return {(): float(now.get("scheduler/enqueued", 0)) - now.get("scheduler/dequeued", 0)}

    def socks() -> dict[tuple[str, ...], float]:
        prefix = "heroes/socks/"
        return {(k[len(prefix):],): float(v) for k, v in stats().items()
                if k.startswith(prefix) and not k.startswith(prefix + "error_0x")}

    PAGES.watch(key, one("heroes/pages"))
    PAGE_ERRORS.watch(key, one("heroes/page_errors"))
    NEWNYMS.watch(key, one("heroes/tor/newnym"))
    CRAWL_QUEUE.watch(key, queue)
    SOCKS_FAILURES.watch(key, socks)
    TOR_CLIENTS.watch(key, lambda: {(): float(tor_clients)})


def forget_crawl(key: str) -> None:
    for metric in (PAGES, PAGE_ERRORS, NEWNYMS, CRAWL_QUEUE, SOCKS_FAILURES, TOR_CLIENTS):
        metric.forget(key)
