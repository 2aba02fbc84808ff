"""The demo: what a newcomer runs first to see every part work together, offline."""

from __future__ import annotations

import json
from collections.abc import Callable

from config import Settings
from heroes.sample import sample_documents
from heroes.stages import drain_stages
from index.documents import parse_document
from index.query.model import Search, TermsAgg
from index.query.querystring import parse_query_string
from index.store import Store

Say = Callable[[str], None]


async def _show(store: Store, say: Say, kind: str, text: str, columns: tuple[str, ...]) -> None:
    result = await store.search(Search(kind=kind, query=parse_query_string(text, kind), size=5))
    say(f"\n$ heroes search {text!r} --kind {kind}")
    say(f"  {result['hits']['total']['value']} matches")
    for hit in result["hits"]["hits"]:
        say("  " + " | ".join(str(hit["_source"].get(c, ""))[:60] for c in columns))


async def run_sample(settings: Settings, say: Say) -> None:
    store = Store(settings)
    docs = [parse_document(d) for d in sample_documents()]
    store.append(docs)
    async with store.writer(drain_stages(settings, store)) as drainer:
        n = await drainer.drain_all()
    say(f"indexed {n} generated documents into {settings.data_dir}")
    await _show(store, say, "page", 'escrow AND title:"garden"', ("fetched_at", "url", "title"))
    result = await store.search(Search(kind="page", size=0, aggs={"hosts": TermsAgg("host", 5)}))
    say("\npages per service:")
    say(json.dumps(result["aggregations"]["hosts"]["buckets"], indent=2))
    store.close()


async def run_demo(settings: Settings, *, quick: bool, say: Say) -> None:
    await run_sample(settings, say)
