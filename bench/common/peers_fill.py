"""The observations of the peer-ranking benchmark, and filling a backend with them fast.

What is filled is what the ingest path would store. Every observation is a validated
:class:`~documents.Observation` whose natural key (swarm, address, port, probe) no other one
has, so the backends' merge of versions has nothing to merge and each write is a create;
each batch goes through the drain's own :class:`~index.matching.MatchingStage` against a
hash-list store holding the benchmark's list (flagged swarms come out marked as the drain
marks them); each document is converted by the backend's own code
(:func:`~index.backends.tantivy_schema.to_tantivy`, :func:`~index.backends.es_mappings.body_for`
and :func:`~index.backends.es_mappings.target_index`). Only the writing is done in bulk:

- embedded index (:class:`TantivyBulk`): one writer with a large heap and a thread per core
  on the kind's index directory, no delete term per document (a fresh index of unique ids)
  and one commit at the end instead of one per batch;
- Elasticsearch (:class:`ElasticsearchBulk`): the index and its template are made by
  ``Backend.write`` of the first batch, the rest goes as pre-serialised ``create`` bulk
  requests, several in flight, with the index's refresh off and its translog synced
  asynchronously while filling (both put back before ranking).

:class:`BackendWrite` fills through ``Backend.write`` for comparison. :class:`FillTimes`
says where the time went. Reads no settings.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import random
import time
from array import array
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
import tantivy

from config.sections.matching import MatchingSettings
from documents import Document, FlaggedHash, Observation
from index.backends import es_mappings as layout
from index.backends.base import Backend
from index.backends.elasticsearch import ElasticsearchBackend
from index.backends.tantivy_schema import build_schema, to_tantivy
from index.hashsets.membership import Entry, MembershipStore
from index.matching import MatchingStage

T0 = datetime(2026, 10, 1, tzinfo=UTC)
LIST = "bench-list"
CATEGORIES = ("a", "b", "")
BATCH = 20_000
# Golden-ratio multiplier: spreads the peers' first swarm over the slots.
SPREAD = 2_654_435_761


class FillError(RuntimeError):
    """The backend refused part of the fill; names the first refusal."""


@dataclass(frozen=True)
class Sizes:
    observations: int
    peers: int
    swarms: int  # flagged; a quarter as many unflagged swarms beside them

    @property
    def slots(self) -> int:
        """Distinct swarms, flagged and not: the most observations one peer can have."""
        return self.swarms + max(1, self.swarms // 4)

    def check(self) -> str | None:
        """What is wrong with these sizes, or None."""
        if not 1 <= self.peers <= min(self.observations, 2**24):
            return "--peers must be 1 .. min(--observations, 16777216)"
        if self.swarms < 1:
            return "--swarms must be at least 1"
        if self.observations > self.peers * self.slots:
            return (f"{self.observations:,} observations do not fit {self.peers:,} peers in "
                    f"{self.slots} swarms (one observation per peer and swarm)")
        return None


def infohash(i: int, flagged: bool) -> str:
    return f"{'f' if flagged else 'e'}{i:039x}"


def ip_of(i: int) -> str:
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def hashes(swarms: int) -> list[FlaggedHash]:
    """The flagged list as the index holds it."""
    return [FlaggedHash(value=infohash(i, True), type="infohash", list=LIST,
                        category=CATEGORIES[i % 3], added_at=T0) for i in range(swarms)]


def entries(swarms: int) -> list[Entry]:
    """The same list as the drain's hash-list store holds it."""
    return [Entry(LIST, "infohash", infohash(i, True), CATEGORIES[i % 3], f"e{i}",
                  T0.isoformat()) for i in range(swarms)]


def _stride(slots: int) -> int:
    """A step coprime with ``slots``: a peer's k-th swarm differs from its others."""
    step = max(1, round(slots * 0.618))
    while math.gcd(step, slots) != 1:
        step += 1
    return step


def observations(sizes: Sizes, seed: int = 17) -> Iterator[Observation]:
    """Every peer once, then peers at random; a peer's k-th observation is in the k-th swarm
    of its own walk over the swarms, so no two observations share a natural key."""
    rnd = random.Random(seed)
    slots, swarms, peers = sizes.slots, sizes.swarms, sizes.peers
    stride = _stride(slots)
    seen = array("L", bytes(array("L").itemsize * peers))
    for i in range(sizes.observations):
        peer = i if i < peers else rnd.randrange(peers)
        while seen[peer] >= slots:
            peer = (peer + 1) % peers
        k = seen[peer]
        seen[peer] = k + 1
        slot = (peer * SPREAD + k * stride) % slots
        swarm = infohash(slot, True) if slot < swarms else infohash(slot - swarms, False)
        r = rnd.random()
        level = 0 if r < 0.60 else 1 if r < 0.85 else 2 if r < 0.95 else 3
        first = T0 + timedelta(seconds=rnd.randrange(30 * 86_400))
        # Validated like every document the probe makes (and faster than model_construct).
        yield Observation(
            infohash=swarm, ip=ip_of(peer), port=6881 + (peer % 50), sources=["tracker"],
            first_seen=first, last_seen=first + timedelta(seconds=rnd.randrange(3 * 86_400)),
            level=level, have_fraction=round(rnd.random(), 3) if level >= 2 else None,
            peer_id=f"{peer:040x}", client="lab client", probe_id="bench")


@dataclass
class FillTimes:
    """Seconds spent in each step of a fill."""

    generate: float = 0.0  # building the validated observations
    match: float = 0.0  # the drain's matching stage
    convert: float = 0.0  # the backend's document conversion and serialising
    write: float = 0.0  # handing documents to the backend and waiting for it
    commit: float = 0.0  # the last commit / refresh, merges
    documents: int = 0
    cpu: float = 0.0  # CPU seconds of this process, every thread (the machine may be shared)

    @property
    def total(self) -> float:
        return self.generate + self.match + self.convert + self.write + self.commit

    def summary(self) -> str:
        parts = ", ".join(f"{f.name} {getattr(self, f.name):.0f}s" for f in fields(self)
                          if f.name not in ("documents", "cpu"))
        rate = self.documents / self.total if self.total else 0.0
        return (f"{self.documents:,} in {self.total:.0f}s ({rate:,.0f}/s; {self.cpu:.0f} CPU s "
                f"here): {parts}")


class Loader(Protocol):
    async def add(self, docs: list[Document], times: FillTimes) -> None: ...

    async def finish(self, times: FillTimes) -> None: ...


async def marked_batches(sizes: Sizes, stage: MatchingStage, times: FillTimes,
                         batch: int = BATCH) -> AsyncIterator[list[Document]]:
    """The observations in batches, each marked by the drain's matching stage."""
    docs = observations(sizes)
    while True:
        started = time.perf_counter()
        chunk: list[Document] = list(itertools.islice(docs, batch))
        times.generate += time.perf_counter() - started
        if not chunk:
            return
        started = time.perf_counter()
        marked = await stage.before_write(chunk)
        times.match += time.perf_counter() - started
        times.documents += len(marked)
        yield marked


class MatchingFor:
    """The drain's matching stage over a hash-list store of the benchmark's list."""

    def __init__(self, workdir: Path, swarms: int):
        self.store = MembershipStore(workdir / "bench-hashsets.sqlite")
        self.store.upsert(entries(swarms))
        self.stage = MatchingStage(self.store, MatchingSettings())

    def __enter__(self) -> MatchingStage:
        return self.stage

    def __exit__(self, *exc: object) -> None:
        self.store.close()


async def fill(loader: Loader, sizes: Sizes, workdir: Path, *, batch_size: int = BATCH,
               progress_every: int = 1_000_000) -> FillTimes:
    """Every observation of ``sizes`` into ``loader``, with a progress line now and then."""
    times = FillTimes()
    shown = 0
    cpu = time.process_time()
    with MatchingFor(workdir, sizes.swarms) as stage:
        async for batch in marked_batches(sizes, stage, times, batch_size):
            await loader.add(batch, times)
            if times.documents - shown >= progress_every:
                shown = times.documents
                times.cpu = time.process_time() - cpu
                print(f"  filled {times.summary()}", flush=True)
    await loader.finish(times)
    times.cpu = time.process_time() - cpu
    return times


class BackendWrite:
    """Through ``Backend.write``, one call per batch: the ingest path's own writes."""

    def __init__(self, backend: Backend):
        self.backend = backend

    async def add(self, docs: list[Document], times: FillTimes) -> None:
        started = time.perf_counter()
        rejected = await self.backend.write(docs)
        times.write += time.perf_counter() - started
        if rejected:
            raise FillError(f"{len(rejected)} refused, first: {rejected[0]}")

    async def finish(self, times: FillTimes) -> None:
        started = time.perf_counter()
        await self.backend.refresh()
        times.commit += time.perf_counter() - started


class TantivyBulk:
    """A fresh embedded index of one kind (``observation`` unless told) at ``path / KIND``
    (the backend's layout: one index per kind), written with one writer and one commit
    before the backend opens it."""

    def __init__(self, path: Path, heap_mb: int = 2048, threads: int | None = None,
                 kind: type[Document] = Observation):
        self.ks = build_schema(kind)
        where = path / kind.KIND
        where.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.ks.schema, path=str(where), reuse=True)
        self.writer = self.index.writer(heap_size=heap_mb * 2**20,
                                        num_threads=threads or os.cpu_count() or 1)

    async def add(self, docs: list[Document], times: FillTimes) -> None:
        started = time.perf_counter()
        converted = [to_tantivy(self.ks, d) for d in docs]
        times.convert += time.perf_counter() - started
        started = time.perf_counter()
        for doc in converted:
            self.writer.add_document(doc)
        times.write += time.perf_counter() - started

    async def finish(self, times: FillTimes) -> None:
        started = time.perf_counter()
        self.writer.commit()
        self.writer.wait_merging_threads()
        times.commit += time.perf_counter() - started


class ElasticsearchBulk:
    """``create`` bulk requests of ``chunk`` documents, ``in_flight`` at a time, into the
    indices the backend made (refresh off and translog async until :meth:`finish`)."""

    def __init__(self, backend: ElasticsearchBackend, chunk: int = 5_000, in_flight: int = 3):
        self.backend = backend
        self.chunk = chunk
        self.slots = asyncio.Semaphore(in_flight)
        self.pending: set[asyncio.Task[None]] = set()
        self.pattern = layout.index_pattern(backend.prefix, Observation.KIND)
        self.started = False

    async def add(self, docs: list[Document], times: FillTimes) -> None:
        if not self.started:
            await BackendWrite(self.backend).add(docs, times)  # makes template and indices
            await self._settings({"refresh_interval": "-1", "translog.durability": "async"})
            self.started = True
            return
        for i in range(0, len(docs), self.chunk):
            started = time.perf_counter()
            lines: list[bytes] = []
            for doc in docs[i:i + self.chunk]:
                lines.append(orjson.dumps({"create": {
                    "_index": layout.target_index(self.backend.prefix, doc), "_id": doc.id}}))
                lines.append(orjson.dumps(layout.body_for(doc)))
            payload = b"\n".join(lines) + b"\n"
            times.convert += time.perf_counter() - started
            started = time.perf_counter()
            await self.slots.acquire()
            times.write += time.perf_counter() - started
            task = asyncio.create_task(self._send(payload))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    async def _send(self, payload: bytes) -> None:
        try:
            resp = await self.backend.client.bulk(operations=payload, refresh=False)
        finally:
            self.slots.release()
        if resp.get("errors"):
            bad = next(i for i in resp["items"] if i["create"].get("error"))["create"]
            raise FillError(f"bulk create refused {bad['_id']}: {bad['error']}")

    async def finish(self, times: FillTimes) -> None:
        started = time.perf_counter()
        await asyncio.gather(*self.pending)
        times.write += time.perf_counter() - started
        started = time.perf_counter()
        refresh = self.backend.settings.refresh_interval or None
        await self._settings({"refresh_interval": refresh, "translog.durability": "request"})
        await self.backend.refresh()
        times.commit += time.perf_counter() - started

    async def _settings(self, values: dict[str, Any]) -> None:
        await self.backend.client.indices.put_settings(index=self.pattern,
                                                       settings={"index": values})
