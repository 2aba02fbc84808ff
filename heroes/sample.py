"""A small generated corpus of every document kind, for the demo and tests without a lab world."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

WORDS = ("lamp garden escrow market forum delivery shipping review vendor price order stock "
         "bicycle kettle teapot notebook pencil coffee weather travel recipe guitar camera "
         "puzzle chess library museum river mountain").split()


def sample_documents(n_pages: int = 200, seed: int = 1) -> list[dict[str, Any]]:
    """Pages on a few onion hosts, their services, torrents and peer observations."""
    rng = random.Random(seed)
    hosts = [f"{''.join(rng.choice('abcdefghijklmnopqrstuvwxyz234567') for _ in range(56))}.onion"
             for _ in range(5)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    docs: list[dict[str, Any]] = []
    for i in range(n_pages):
        host = hosts[i % len(hosts)]
        at = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 28))
        docs.append({
            "kind": "page", "url": f"http://{host}/post/{i}", "fetched_at": at.isoformat(),
            "title": " ".join(rng.choice(WORDS) for _ in range(4)).capitalize(),
            "text": " ".join(rng.choice(WORDS) for _ in range(60)),
            "lang": "en", "status": 200,
        })
    for host in hosts:
        docs.append({"kind": "service", "host": host, "first_seen": start.isoformat(),
                     "last_seen": (start + timedelta(days=28)).isoformat(), "up": True})
    return docs
