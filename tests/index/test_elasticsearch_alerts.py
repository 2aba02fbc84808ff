"""Generated crawl and probe documents searched on Elasticsearch; alerts fire from it.

The production pipeline (Store with the elasticsearch backend, drain role with matching and
the alert engine, the email sender) against the real node and the lab SMTP sink.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import Settings
from config.sections.alerts import AlertRule, AlertSettings, SmtpSettings
from documents import Observation, Page, parse_document
from heroes.sample import sample_documents
from index.backends.elasticsearch import ElasticsearchBackend
from index.hashsets.membership import Entry
from query.model import Bool, Match, Search, SortField, Term, TermsAgg
from query.reference import evaluate
from tests import es_node as node_fixtures
from tests.index import test_alerts_live as live
from tests.index.backend_contract import assert_same

es_node = node_fixtures.es_node
es_settings = node_fixtures.es_settings
sink = live.sink

pytestmark = pytest.mark.elasticsearch

IH = "5f0c3a2e9b7d41e6a8c2f19d3b4e6a7c8d9e0f12"
MD5 = "fedcba9876543210fedcba9876543210"
TO = "unit@lab.localhost"
NOW = datetime.now(UTC)


def _settings(base: Settings, smtp_port: int) -> Settings:
    rule = AlertRule(name="flagged-hit", type="hit", recipients=[TO], severity="critical")
    return base.model_copy(update={
        "alerts": AlertSettings(rules=[rule], console_url="http://console.localhost"),
        "smtp": SmtpSettings(host="127.0.0.1", port=smtp_port, tls="none", poll_s=0.1,
                             retry_initial_s=0.2, retry_max_s=1.0, timeout_s=5.0),
    })


async def test_lab_documents_on_elasticsearch_and_alerts_fire(
        es_settings: Callable[..., Settings], sink: live.Sink) -> None:
    settings = _settings(es_settings(), sink.port)
    live.flag(Path(settings.data_dir),
              Entry("lab-swarm", "infohash", IH, "swarm", "e-1", "2026-11-29T00:00:00Z"),
              Entry("lab-images", "md5", MD5, "img", "e-2", "2026-11-29T00:00:00Z"))
    corpus = [parse_document(d) for d in sample_documents(n_pages=150, seed=11)]
    peer = Observation(infohash=IH, ip="127.0.0.9", port=51413, first_seen=NOW, last_seen=NOW,
                       level=1, sources=["tracker"], client="Transmission 4.0")
    image_page = Page(url="http://shopxyz.onion/item/7", fetched_at=NOW, title="Lamp",
                      media=[{"url": "http://shopxyz.onion/i.png", "md5": MD5}])
    async with live.pipeline(settings) as store:
        store.append([*corpus, peer, image_page])
        await live.wait_until(lambda: len(sink.messages()) >= 2, 60, "two alert emails",
                              sink.log)
        await live.wait_until(lambda: not store.spool.backlog(), 60, "the spool to drain")
    bodies = sorted(live.text_of(m) for m in sink.messages())
    assert any(f"infohash {IH}" in b for b in bodies), bodies
    assert any(f"md5 {MD5} in media.md5" in b.replace("=\n", "") for b in bodies), bodies

    backend = ElasticsearchBackend(settings.elasticsearch)
    await backend.open(writer=False)
    try:
        # The matches were stored with the documents, and the alerts are documents too.
        flagged = await backend.search(Search("page", Term("flagged", True)))
        assert [h["_id"] for h in flagged["hits"]["hits"]] == [image_page.id]
        assert flagged["hits"]["hits"][0]["_source"]["matches"][0]["list"] == "lab-images"
        peers = await backend.search(Search("observation", Term("matches.value", IH)))
        assert [h["_id"] for h in peers["hits"]["hits"]] == [peer.id]
        alerts = await backend.search(Search("alert", Term("rule", "flagged-hit"),
                                             aggs={"kinds": TermsAgg("matched.kind")}))
        assert alerts["hits"]["total"]["value"] == 2
        assert {b["key"] for b in alerts["aggregations"]["kinds"]["buckets"]} == {
            "page", "observation"}
        # An analyst's searches over the generated crawl agree with the reference.
        pages = [d for d in corpus if d.KIND == "page"]
        sources, ids = [d.source() for d in pages], [d.id for d in pages]
        host = pages[0].host
        for search in [
            Search("page", Match("text", "escrow kettle", operator="and"), size=200,
                   sort=(SortField("fetched_at", "desc"),)),
            Search("page", Bool(filter=(Term("host", host),), must=(Match("title", "market"),)),
                   size=200, aggs={"hosts": TermsAgg("host")}),
        ]:
            want = evaluate(search, [*sources, image_page.source()], [*ids, image_page.id])
            assert_same(search, await backend.search(search), want)
        assert await backend.count("service") == 5
    finally:
        await backend.close()
