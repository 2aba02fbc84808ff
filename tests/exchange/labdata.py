"""A lab-like index for exports: two services, their pages, a torrent, peers, an alert, a cluster.

Synthetic and innocuous: generic market text; the values are the identifiers' own examples.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config import Settings, load_settings
from documents import Alert, Document, Observation, Page, Service, Torrent
from documents.alert import MatchedRef
from documents.cluster import Cluster, Edge, Member
from documents.page import Entities, Media
from identifiers.onion import onion_address
from index.store import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ONION_A = onion_address(hashlib.sha256(b"lab service a").digest())
ONION_B = onion_address(hashlib.sha256(b"lab service b").digest())
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
XMR = ("4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K"
       "5Jv2684Rge")
ETH = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
EMAIL = "sales@example.org"
PHONE = "+441212345678"
PGP = "C859733601A0FD41F62A1543453FE29670FDA78E"
INFOHASH = hashlib.sha1(b"lab torrent").hexdigest()
IMAGE = b"lab image bytes"
MD5, SHA1, SHA256 = (hashlib.md5(IMAGE).hexdigest(), hashlib.sha1(IMAGE).hexdigest(),
                     hashlib.sha256(IMAGE).hexdigest())
PEER_IPS = ("127.0.0.21", "127.0.0.22")
CLUSTER_ID = ONION_A
MERGED_ID = "lab-merged-cluster"


def front_page() -> Page:
    return Page(
        url=f"http://{ONION_A}/", fetched_at=T0, title="Tea market", text="tea and coffee",
        sha256=hashlib.sha256(b"front").hexdigest(),
        entities=Entities(onions=[ONION_B], emails=[EMAIL], btc=[BTC], xmr=[XMR], eth=[ETH],
                          pgp=[PGP], phones=[PHONE], infohashes=[INFOHASH],
                          magnets=[f"magnet:?xt=urn:btih:{INFOHASH}"]),
        media=[Media(url=f"http://{ONION_A}/img/lamp.jpg", md5=MD5, sha1=SHA1, sha256=SHA256,
                     size=len(IMAGE), content_type="image/jpeg", kind="image")],
    )


def documents() -> list[Document]:
    page = front_page()
    other = Page(url=f"http://{ONION_B}/shop", fetched_at=T0 + timedelta(hours=2),
                 title="Garden forum", text="garden books lamp",
                 sha256=hashlib.sha256(b"b").hexdigest(), entities=Entities(emails=[EMAIL]))
    docs: list[Document] = [
        Service(host=ONION_A, first_seen=T0, last_seen=T0 + timedelta(days=2), up=True,
                title="Tea market"),
        Service(host=ONION_B, first_seen=T0, last_seen=T0 + timedelta(days=1), up=True,
                title="Garden forum"),
        page, other,
        Torrent(infohash=INFOHASH, name="garden-photos", total_size=1000,
                found_on=[page.url], first_seen=T0),
        *[Observation(infohash=INFOHASH, ip=ip, port=6881 + n, sources=["tracker"],
                      client="lab", first_seen=T0, last_seen=T0 + timedelta(hours=1),
                      level=1)
          for n, ip in enumerate(PEER_IPS)],
        Alert(rule="hash-hit", key="lab", window_start=T0, created_at=T0, first_seen=T0,
              last_seen=T0, summary="lab alert",
              matched=[MatchedRef(kind="page", id=page.id, summary="front page")]),
    ]
    return docs


def alert_id() -> str:
    return next(d.id for d in documents() if isinstance(d, Alert))


def cluster() -> Cluster:
    later = T0 + timedelta(days=1)
    return Cluster(
        cluster_id=CLUSTER_ID, size=3, score=2.5, updated_at=later,
        members=[Member(kind="service", key=ONION_A, first_seen=T0, last_seen=later),
                 Member(kind="service", key=ONION_B, first_seen=T0, last_seen=later),
                 Member(kind="torrent", key=INFOHASH, first_seen=T0, last_seen=later)],
        edges=[Edge(a=ONION_A, b=ONION_B, type="email", value=EMAIL, weight=1.0,
                    a_first_seen=T0, a_last_seen=T0, b_first_seen=T0, b_last_seen=later,
                    a_record="page-a", b_record="page-b"),
               Edge(a=ONION_A, b=INFOHASH, type="wallet", value=BTC, weight=2.0,
                    a_first_seen=T0, a_last_seen=T0, b_first_seen=T0, b_last_seen=T0)],
    )


def settings_for(data_dir: Path, **exchange: object) -> Settings:
    return load_settings(None, environ={}, overrides={
        "data_dir": str(data_dir), "exchange": exchange,
        "index": {"reader_reload_s": 0.1, "batch_age_s": 0.1}})


async def ingest(settings: Settings, docs: list[Document]) -> None:
    store = Store(settings)
    try:
        store.append(docs)
        async with store.writer() as drainer:
            await drainer.drain_all()
    finally:
        store.close()


def more_clusters() -> list[Cluster]:
    """A cluster first made for a torrent (its id an infohash), and one merged into CLUSTER_ID."""
    later = T0 + timedelta(days=1)
    return [
        Cluster(cluster_id=INFOHASH, size=2, updated_at=later,
                members=[Member(kind="torrent", key=INFOHASH, first_seen=T0, last_seen=later),
                         Member(kind="service", key=ONION_B, first_seen=T0, last_seen=later)]),
        Cluster(cluster_id=MERGED_ID, size=0, updated_at=later, merged_into=CLUSTER_ID),
    ]
