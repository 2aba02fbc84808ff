"""Synthetic, innocuous example documents of every kind, shared by the backend tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from documents import Document, parse_document

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

HOSTS = [
    "marketaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.onion",
    "forumbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.onion",
    "shopcccccccccccccccccccccccccccccccccccccccccccccccccccccccc.onion",
]
LONG_WORD = "x" * 45  # dropped by the tokenizer; its position still counts


def _page(i: int, **extra: Any) -> dict[str, Any]:
    host = HOSTS[i % 3]
    body = {
        "kind": "page",
        "url": f"http://{host}/item/{i}",
        "fetched_at": f"2026-11-{20 + i % 7:02d}T{(i * 5) % 24:02d}:30:00Z",
        "title": f"Listing {i}",
        "text": "",
    }
    body.update(extra)
    return body


PAGES = [
    _page(0, title="Green Tea Market", text="Fresh green tea leaves. Shipping worldwide.",
          status=200, lang="en", size=1200,
          entities={"btc": ["1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"], "emails": ["a@example.org"]},
          links=["http://x.onion/a", "http://x.onion/b"]),
    _page(1, title="Forum rules", text="Please read the rules before posting. Tea talk welcome.",
          status=200, lang="en", size=800,
          entities={"btc": ["1BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
                            "1AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]}),
    _page(2, title="Black tea", text=f"Black {LONG_WORD} tea from the hills; green is sold out.",
          status=404, lang="de", size=300, media=[
              {"url": "http://x.onion/i.png", "sha256": "ab" * 32, "flagged": True},
              {"url": "http://x.onion/j.png", "sha256": "cd" * 32, "flagged": False}],
          flagged=True, matches=[{"list": "lab-list", "type": "sha256", "value": "ab" * 32,
                                  "field": "media.sha256", "category": "lab"}]),
    _page(3, title="Market news", text="News of the market: prices of green coffee rose.",
          status=500, lang="", entities={"emails": ["b@example.org", "a@example.org"]}),
    _page(4, title="Coffee and tea", text="Coffee, tea, cocoa. GREEN-TEA blends!", status=200,
          lang="en", size=1200, links=["http://x.onion/a"]),
    _page(5, title="Untitled", text="", status=200, lang="fr"),
    _page(6, title="Tea market report", text="market report: tea green tea black tea",
          status=301, lang="en", size=50,
          entities={"btc": ["1CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"]}),
    _page(7, title="Ünïcode Straße", text="Grüße aus dem Café: Grüner Tee", status=200, lang="de"),
]

SERVICES = [
    {"kind": "service", "host": HOSTS[0], "first_seen": "2026-10-01T00:00:00Z",
     "last_seen": "2026-11-27T10:00:00Z", "up": True, "title": "Green Tea Market",
     "server": "nginx", "page_count": 12},
    {"kind": "service", "host": HOSTS[1], "first_seen": "2026-09-15T00:00:00Z",
     "last_seen": "2026-11-20T10:00:00Z", "up": False, "title": "Forum", "server": "",
     "page_count": 3},
    {"kind": "service", "host": HOSTS[2], "first_seen": "2026-11-01T00:00:00Z",
     "last_seen": "2026-11-28T09:00:00Z", "last_up": "2026-11-28T09:00:00Z", "up": True,
     "title": "Shop", "server": "nginx", "page_count": 40},
]

OBSERVATIONS = [
    {"kind": "observation", "infohash": "1" * 40, "ip": "127.0.0.2", "port": 6881,
     "sources": ["tracker", "dht"], "client": "qBittorrent 4.6", "have_fraction": 0.5,
     "first_seen": "2026-11-26T10:00:00Z", "last_seen": "2026-11-27T10:00:00Z", "level": 1},
    {"kind": "observation", "infohash": "1" * 40, "ip": "127.0.0.10", "port": 51413,
     "sources": ["pex"], "client": "Transmission 4.0", "have_fraction": 1.0,
     "first_seen": "2026-11-27T11:00:00Z", "last_seen": "2026-11-27T12:00:00Z", "level": 2},
    {"kind": "observation", "infohash": "2" * 40, "ip": "::1", "port": 6881,
     "sources": ["dht"], "client": "", "first_seen": "2026-11-25T10:00:00Z",
     "last_seen": "2026-11-25T10:00:00Z", "level": 0},
    {"kind": "observation", "infohash": "2" * 40, "ip": "127.0.0.9", "port": 7000,
     "sources": ["tracker"], "client": "qBittorrent 4.6", "have_fraction": 0.25,
     "first_seen": "2026-11-28T08:00:00Z", "last_seen": "2026-11-28T08:30:00Z", "level": 3},
]

TORRENTS = [
    {"kind": "torrent", "infohash": "1" * 40, "name": "Lab sample set one",
     "files": [{"path": "one/readme.txt", "size": 10}, {"path": "one/image_001.png", "size": 2000}],
     "total_size": 2010, "found_on": [f"http://{HOSTS[0]}/item/0"],
     "first_seen": "2026-11-20T00:00:00Z"},
    {"kind": "torrent", "infohash": "2" * 40, "name": "Geometric shapes",
     "files": [{"path": "shapes/circle.png", "size": 500}], "total_size": 500,
     "first_seen": "2026-11-22T00:00:00Z"},
]

HASHES = [
    {"kind": "hash", "value": "ab" * 32, "type": "sha256", "category": "lab", "list": "lab-list",
     "added_at": "2026-11-01T00:00:00Z"},
    {"kind": "hash", "value": "1" * 40, "type": "infohash", "category": "lab", "list": "lab-list",
     "added_at": "2026-11-02T00:00:00Z"},
    {"kind": "hash", "value": "ef" * 16, "type": "md5", "category": "other", "list": "second",
     "added_at": "2026-11-03T00:00:00Z"},
]

ALERTS = [
    {"kind": "alert", "rule": "hash-hit", "rule_type": "match", "key": "ab" * 32,
     "window_start": "2026-11-27T00:00:00Z", "severity": "high",
     "created_at": "2026-11-27T10:00:00Z",
     "first_seen": "2026-11-27T10:00:00Z", "last_seen": "2026-11-27T10:05:00Z", "count": 2,
     "summary": "Flagged image hash on a market page",
     "matched": [{"kind": "page", "id": "p1"}, {"kind": "page", "id": "p2"}]},
    {"kind": "alert", "rule": "swarm", "rule_type": "frequency", "key": "1" * 40,
     "window_start": "2026-11-28T00:00:00Z", "severity": "medium", "status": "acknowledged",
     "created_at": "2026-11-28T08:00:00Z", "first_seen": "2026-11-28T08:00:00Z",
     "last_seen": "2026-11-28T08:00:00Z", "summary": "Swarm seen from new peers",
     "matched": [{"kind": "observation", "id": "o1"}], "acknowledged_by": "analyst1"},
]

RAW = {"page": PAGES, "service": SERVICES, "observation": OBSERVATIONS, "torrent": TORRENTS,
       "hash": HASHES, "alert": ALERTS}


def example_documents() -> list[Document]:
    return [parse_document(body) for bodies in RAW.values() for body in bodies]


def sources_of(docs: list[Document], kind: str) -> tuple[list[dict[str, Any]], list[str]]:
    chosen = [d for d in docs if d.KIND == kind]
    return [d.source() for d in chosen], [d.id for d in chosen]
