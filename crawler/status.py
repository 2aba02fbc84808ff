"""What the crawl service is doing: one snapshot for ``heroes crawl status``.

:func:`crawl_status` reads the index (every ``service`` document, page by page: services by
state up/down/dead/new, see :func:`crawler.recrawl.service_state`; the pages fetched in the
last ``RATE_WINDOW_S`` for pages/min) and the job's frontier (queue sizes per state, leased
URLs and their holders, the most overdue item, the longest per-host queues). A host the
frontier holds that the index has no service document for yet is new. :func:`render` is the
text view. Raises :class:`errors.BackendUnavailable` (index or frontier down). Reads
``[crawler]``, ``[frontier]`` and ``[index]``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config import Settings
from crawler.frontier import open_store
from crawler.known_services import known_services
from crawler.recrawl import service_state
from index.store import Store
from query.model import Range, Search

RATE_WINDOW_S = 600.0
TOP_HOSTS = 10
# Hosts of the frontier compared with the index to find the new ones.
NEW_SCAN_HOSTS = 100_000
STATES = ("up", "down", "dead", "new")


@dataclass
class CrawlStatus:
    job: str
    services: dict[str, int]
    frontier: dict[str, int]
    leased: int
    holders: list[str]
    pages_per_min: float
    oldest_due_s: float | None
    top_hosts: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def crawl_status(settings: Settings, job: str, job_db: Path) -> CrawlStatus:
    store = Store(settings)
    try:
        by_state: Counter[str] = Counter({state: 0 for state in STATES})
        hosts: set[str] = set()
        async for service in known_services(store):
            hosts.add(service.host)
            by_state[service_state(service, settings.crawler)] += 1
        since = datetime.now(UTC) - timedelta(seconds=RATE_WINDOW_S)
        recent = await store.search(Search(kind="page", size=0,
                                           query=Range("fetched_at", gte=since)))
        pages = int(recent["hits"]["total"]["value"])
    finally:
        store.close()
    frontier = open_store(settings, job, job_db)
    try:
        counts = frontier.counts(top=NEW_SCAN_HOSTS)
        holders = frontier.holders()
    finally:
        frontier.close()
    by_state["new"] += sum(1 for host, _ in counts.top_hosts if host not in hosts)
    return CrawlStatus(
        job=job,
        services=dict(by_state),
        frontier={"queued": counts.queued, "due": counts.due, "leased": counts.leased,
                  "done": counts.done, "failed": counts.failed},
        leased=counts.leased,
        holders=sorted(holders),
        pages_per_min=round(pages / (RATE_WINDOW_S / 60.0), 1),
        oldest_due_s=None if counts.oldest_due_s is None else round(counts.oldest_due_s, 1),
        top_hosts=[(host, n) for host, n in counts.top_hosts[:TOP_HOSTS] if n > 0],
    )


def render(status: CrawlStatus) -> str:
    s, f = status.services, status.frontier
    oldest = "nothing due" if status.oldest_due_s is None else f"{status.oldest_due_s:g} s overdue"
    lines = [
        f"crawl {status.job}",
        "services: " + ", ".join(f"{s.get(state, 0)} {state}" for state in STATES),
        f"frontier: {f['queued']} queued ({f['due']} due), {f['leased']} leased, "
        f"{f['done']} done, {f['failed']} failed",
        f"leased URLs: {status.leased} by {len(status.holders)} crawler(s)"
        + (f": {', '.join(status.holders)}" if status.holders else ""),
        f"pages/min (last {RATE_WINDOW_S / 60:g} min): {status.pages_per_min:g}",
        f"oldest due item: {oldest}",
    ]
    if status.top_hosts:
        lines.append("longest host queues:")
        lines += [f"  {n:>8}  {host}" for host, n in status.top_hosts]
    return "\n".join(lines)
