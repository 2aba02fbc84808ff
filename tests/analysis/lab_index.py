"""The operator-group lab sites turned into indexed documents, and one analyse pass.

Pages go through the crawler's real extraction (entities and pivots), the favicon through
the real favicon hash and the pictures through the crawler's PDQ hashing (bytes dropped);
every document goes through the spool and the drain into the configured backend, like the
crawler's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from analysis.common import CommonValues
from analysis.runner import Analyser, Counters
from analysis.state import AnalysisDB, analysis_db_path
from config import Settings
from crawler.extract.page import extract_page
from crawler.extract.pdq import pdq_of_image
from crawler.extract.pivots import favicon_hash
from documents import Document, Page, Service
from documents.cluster import Cluster
from documents.page import Entities, Media
from documents.pivots import Pivots
from heroes.lab.operators import COMMON_VALUES, STOCK_FAVICON, OperatorSite
from index.store import Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def lab_analysis(tmp: Path, **more: Any) -> dict[str, Any]:
    """``[analysis]`` of the lab tests: the suppression list decides what is common (a world
    of two dozen services is too small for the share of services to say anything: there a
    group of three is an eighth of everything)."""
    return {"suppress_files": [str(suppression_file(tmp / "suppress.txt"))],
            "common_min_services": 100_000, **more}


def suppression_file(path: Path) -> Path:
    """The lab unit's suppression list: the stock favicon and the demo tracker id."""
    path.write_text("# values many unrelated sites carry\n"
                    + "".join(f"{v}\n" for v in COMMON_VALUES)
                    + f"favicon:{favicon_hash(STOCK_FAVICON)}\n")
    return path


def site_documents(site: OperatorSite, at: datetime, *, up: bool = True,
                   with_pages: bool = True) -> list[Document]:
    docs: list[Document] = []
    union = Pivots(favicon=[favicon_hash(site.favicon)])
    for path, body in site.pages.items() if with_pages else ():
        url = f"http://{site.host}{path}"
        extracted = extract_page(url, body, {"Content-Type": "text/html; charset=utf-8"})
        pivots = Pivots(**extracted.pivots, favicon=[favicon_hash(site.favicon)])
        union = union.union(pivots)
        media = []
        for media_url in extracted.media_urls:
            image = site.images.get(urlsplit(media_url).path)
            if image is not None:
                pdq = pdq_of_image(image)
                media.append(Media(url=media_url, sha256=hashlib.sha256(image).hexdigest(),
                                   pdq=pdq[0] if pdq else None, kind="image"))
        docs.append(Page(url=url, fetched_at=at, title=extracted.title, text=extracted.text,
                         lang=extracted.lang, entities=Entities(**extracted.entities),
                         pivots=pivots, media=media,
                         sha256=hashlib.sha256(body).hexdigest()))
    docs.append(Service(host=site.host, first_seen=at, last_seen=at, up=up,
                        last_up=at if up else None, pivots=union))
    return docs


def world_documents(sites: Sequence[OperatorSite], start: datetime = T0) -> list[Document]:
    docs: list[Document] = []
    for i, site in enumerate(sites):
        docs += site_documents(site, start + timedelta(minutes=i))
    return docs


async def index(settings: Settings, docs: Iterable[Document]) -> None:
    store = Store(settings)
    try:
        store.append(docs)
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
    finally:
        store.close()


async def analyse(settings: Settings, *, common: Any = None) -> Counters:
    """One analyse pass, then the cluster and alert documents drained into the index."""
    store = Store(settings)
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    try:
        from alerting.db import alert_db_path
        from analysis.relaunch import RelaunchAlerter

        alerter = RelaunchAlerter(settings.alerts, ["unit@example.org"],
                                  alert_db_path(settings.data_dir), store.append)
        analyser = Analyser(settings.analysis, db, store.append, common=common,
                            alerter=alerter)
        async with store.reader() as backend:
            counters = await analyser.run_once(backend)
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
    finally:
        db.close()
        store.close()
    return counters


async def live_clusters(settings: Settings) -> list[Cluster]:
    from analysis.clusters import clusters

    store = Store(settings)
    try:
        _, found = await clusters(store, limit=100)
    finally:
        store.close()
    return found


async def common_values(settings: Settings) -> CommonValues:
    store = Store(settings)
    try:
        async with store.reader() as backend:
            return await CommonValues.load(settings.analysis, backend)
    finally:
        store.close()
