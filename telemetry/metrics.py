"""The metrics of this process: one registry that every role counts into.

Counters are moved where the work happens (the drain, the alert engine and sender, the
probe's recorder); what is a state rather than an event (spool depth, outbox age, a
session's payload bytes, the crawl's Scrapy stats) is read when scraped from a *source* a
role registers with :meth:`Sampled.watch` on entry and drops with :meth:`Sampled.forget`
on exit. The names are listed in ``docs/metrics.md``. Reads no settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

# Label values of a sample, in the order of the metric's labels; () for no label.
Samples = Mapping[tuple[str, ...], float]
Source = Callable[[], Samples]


class Sampled(Collector):
    """A gauge (or a counter kept elsewhere) whose samples come from the registered sources.

    A source that fails is logged and left out of that scrape: one broken role never takes
    the other roles' metrics down.
    """

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...] = (),
                 kind: Literal["gauge", "counter"] = "gauge",
                 registry: CollectorRegistry = REGISTRY):
        self.name, self.documentation, self.labels, self.kind = name, documentation, labels, kind
        self._sources: dict[str, Source] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def watch(self, key: str, source: Source) -> None:
        """Sample ``source`` at every scrape (``key`` names it; a new one replaces the old)."""
        with self._lock:
            self._sources[key] = source

    def forget(self, key: str) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        with self._lock:
            sources = list(self._sources.items())
        for key, source in sources:
            try:
                samples = source()
            except Exception as exc:
                log.warning("metric %s: source %s failed: %s", self.name, key, exc)
                continue
            for labels, value in samples.items():
                family.add_metric(list(labels), value)
        yield family

    def _family(self) -> Metric:
        if self.kind == "counter":
            # The family name drops the _total suffix; the sample keeps it.
            return CounterMetricFamily(self.name.removesuffix("_total"), self.documentation,
                                       labels=self.labels)
        return GaugeMetricFamily(self.name, self.documentation, labels=self.labels)


# The drain (index.drain).
DRAINED = Counter("heroes_drained_documents", "Spooled documents committed to the index.",
                  ["kind"], registry=REGISTRY)
SET_ASIDE = Counter("heroes_documents_set_aside",
                    "Spooled documents set aside (invalid, or refused by the backend).",
                    ["kind"], registry=REGISTRY)
BACKEND_ERRORS = Counter("heroes_backend_errors",
                         "Batches the index backend could not take (they stay in the spool).",
                         ["backend"], registry=REGISTRY)
DRAIN_LAG = Gauge("heroes_drain_lag_seconds",
                  "Seconds the oldest document of the last committed batch had waited.",
                  registry=REGISTRY)
SPOOL_DEPTH = Sampled("heroes_spool_documents", "Documents waiting in the spool.", ("kind",))
SPOOL_AGE = Sampled("heroes_spool_oldest_age_seconds",
                    "Seconds the oldest document in the spool has waited (0: empty).")

# Alerts (alerting.engine, alerting.sender, alerting.outbox).
ALERTS_RAISED = Counter("heroes_alerts_raised", "Alerts created or updated by a rule firing.",
                        registry=REGISTRY)
ALERT_EMAILS = Counter("heroes_alert_emails",
                       "Alert emails by outcome: sent, retried (temporary failure) or failed.",
                       ["outcome"], registry=REGISTRY)
ALERT_WEBHOOKS = Counter("heroes_alert_webhooks",
                         "Alert webhook POSTs by outcome: sent, retried (temporary failure) or "
                         "failed.", ["outcome"], registry=REGISTRY)
OUTBOX_DEPTH = Sampled("heroes_outbox_messages", "Outbox messages by status.", ("status",))
OUTBOX_AGE = Sampled("heroes_outbox_oldest_age_seconds",
                     "Seconds the oldest undelivered outbox message has waited (0: none).")

# The probe and discovery (monitors).
OBSERVATIONS = Counter("heroes_peer_observations", "Peer observations recorded, by level.",
                       ["level"], registry=REGISTRY)
PEERS = Sampled("heroes_peers", "Peers the probe knows now, by level.", ("level",))
PROBE_TARGETS = Sampled("heroes_probe_targets",
                        "Infohashes the probe watches (watched), waits to add (pending) or "
                        "could not add (failed).", ("state",))
DISCOVERY_BACKLOG = Sampled("heroes_discovery_backlog",
                            "Sampled infohashes discovery has yet to look up.")
PAYLOAD_BYTES = Sampled("heroes_payload_bytes",
                        "Payload bytes moved by a probe session (must stay 0).",
                        ("session", "direction"))

# The analysis (analysis.runner; sampled from its counters and its database).
ANALYSED = Sampled("heroes_analysed_documents_total",
                   "Documents the analysis read, by kind (page, service; skipped: unchanged).",
                   ("kind",), kind="counter")
ANALYSIS_WRITTEN = Sampled("heroes_analysis_output_total",
                           "What the analysis produced: cluster documents, relaunch candidates, "
                           "failed batches.", ("what",), kind="counter")
ANALYSIS_BEHIND = Sampled("heroes_analysis_cursor_age_seconds",
                          "Seconds since the time of the newest document analysed, by kind.",
                          ("kind",))
RELAUNCHES = Sampled("heroes_relaunches", "Relaunches by status (candidate, confirmed, "
                     "rejected).", ("status",))

# The crawl (crawler; sampled from the crawl's Scrapy stats).
PAGES = Sampled("heroes_pages_fetched_total", "Pages fetched by the crawl.", kind="counter")
PAGE_ERRORS = Sampled("heroes_page_errors_total", "Pages that failed.", kind="counter")
CRAWL_QUEUE = Sampled("heroes_crawl_queue_requests",
                      "Requests the crawl's scheduler holds (enqueued, not yet dequeued).")
NEWNYMS = Sampled("heroes_tor_newnym_total", "NEWNYM signals sent to the Tor clients.",
                  kind="counter")
SOCKS_FAILURES = Sampled("heroes_socks_failures_total",
                         "Tor SOCKS failures by kind (circuit, service, ...).", ("kind",),
                         kind="counter")
TOR_CLIENTS = Sampled("heroes_tor_clients", "Tor clients the crawl uses.")
TOR_CIRCUITS = Sampled("heroes_tor_circuits", "Circuits built now, per Tor client of the crawl.",
                       ("client",))
