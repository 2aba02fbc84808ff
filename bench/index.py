"""The embedded index against an SQLite FTS5 baseline, built and queried in the same run.

Builds N synthetic pages (Zipf words over a 50k pseudo-word vocabulary, 2,000 hosts,
Zipf e-mails and BTC addresses, times over 2024-2025) through the spool and the drain
into tantivy with the matching stage, the same pages into tantivy with a minimal schema
and nothing else (the engine's own speed), and straight into SQLite (WAL,
``synchronous=NORMAL``, an external-content FTS5 table over title and text, indexes on host
and time, and a keyword side table with its own index). Then, with both engines' files read
once into the page cache and the embedded index opened read-only (as the console opens it),
runs each query type after a warm-up and prints p50/p95 per engine with the ratio, plus how
often both engines counted the same hits:

- term: full-text word, top 10 by relevance, exact total;
- phrase: two adjacent words from a page;
- filter+term: host = H and a word;
- range+terms-agg: a 30-day window, top 10 hosts by count, exact total;
- sorted-page-2: a word sorted by time descending, the second page via search_after.

    .venv/bin/python bench/index.py [--docs 200000] [--queries 200] [--dir DIR] [--gc-default]

``--smoke`` runs every step at tiny sizes (seconds); ``--gc-default`` keeps CPython's
collector thresholds instead of those the ``heroes`` process runs with. Everything stays on
this machine; nothing is downloaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, this folder would shadow the ``index`` package with this very file.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import itertools
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import tantivy

from bench.common.memory import peak_rss_mb
from bench.common.process import add_gc_option, as_heroes_runs
from config.sections.index import IndexSettings
from config.sections.matching import MatchingSettings
from documents import Page
from index.backends.tantivy import TantivyBackend
from index.drain import Drainer
from index.hashsets.membership import Entry, MembershipStore
from index.matching import MatchingStage
from index.spool import Spool
from query.model import (
    Bool,
    Match,
    MatchPhrase,
    Range,
    Search,
    SortField,
    Term,
    TermsAgg,
)
from query.validate import epoch_ms

VOCAB = 50_000
HOSTS = 2_000
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86_400
BATCH = 10_000
WARMUP = 20


# -- corpus ----------------------------------------------------------------------------------

class Corpus:
    """Deterministic synthetic pages (seeded), innocuous pseudo-words only."""

    def __init__(self, n: int, seed: int = 1):
        self.n = n
        self.rng = random.Random(seed)
        syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "da", "zu", "gor",
                     "bel", "fin", "hu", "wex"]
        words: set[str] = set()
        while len(words) < VOCAB:  # 16 syllables, 2 to 5 of them: far more than VOCAB words
            words.add("".join(self.rng.choices(syllables, k=self.rng.randint(2, 5))))
        self.words = sorted(words)
        self.rng.shuffle(self.words)
        self.domain = ["market", "escrow", "vendor", "shipping", "listing", "forum", "review"]
        self.word_cum = list(itertools.accumulate(1 / (i + 1) for i in range(VOCAB)))
        self.hosts = [f"{self.rng.getrandbits(280):056x}"[:56] + ".onion" for _ in range(HOSTS)]
        self.host_cum = list(itertools.accumulate(1 / (i + 1) for i in range(HOSTS)))
        self.emails = [f"user{i}@mail{i % 97}.example" for i in range(20_000)]
        self.email_cum = list(itertools.accumulate(1 / (i + 1) for i in range(20_000)))
        self.btc = [f"1{self.rng.getrandbits(190):033x}"[:34] for _ in range(50_000)]
        self.btc_cum = list(itertools.accumulate(1 / (i + 1) for i in range(50_000)))

    def _text(self, k: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.word_cum, k=k)
        for i in self.rng.sample(range(k), k // 40):
            words[i] = self.rng.choice(self.domain)
        return " ".join(words)

    def pages(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for i in range(self.n):
            host = rng.choices(self.hosts, cum_weights=self.host_cum)[0]
            yield {
                "url": f"http://{host}/p/{i}",
                "host": host,
                "fetched_at": (START + timedelta(seconds=rng.randrange(SPAN_S))).isoformat(),
                "status": 200,
                "title": self._text(rng.randint(4, 9)),
                "text": self._text(rng.randint(200, 360)),
                "entities": {
                    "emails": sorted(set(rng.choices(self.emails, cum_weights=self.email_cum,
                                                     k=rng.randint(0, 3)))),
                    "btc": sorted(set(rng.choices(self.btc, cum_weights=self.btc_cum,
                                                  k=rng.randint(0, 2)))),
                },
            }


# -- building ------------------------------------------------------------------------------

def write_corpus(corpus: Corpus, path: Path) -> None:
    """Generate the pages once, untimed, so both builds pay only for reading and indexing."""
    with path.open("w") as out:
        for body in corpus.pages():
            out.write(json.dumps(body) + "\n")


def read_corpus(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as lines:
        for line in lines:
            yield json.loads(line)


async def build_tantivy(corpus: Path, workdir: Path, settings: IndexSettings) -> dict[str, float]:
    """Append every page to the spool, drain it into the index and close the writer, which
    waits for its segment merges as the raw build does: left running, they would compete
    with the queries measured next (a 1M-page merge takes minutes)."""
    spool = Spool(workdir / "spool.sqlite")
    started = time.perf_counter()
    batch: list[Page] = []
    for body in read_corpus(corpus):
        batch.append(Page.model_validate(body))
        if len(batch) == BATCH:
            spool.append(batch)
            batch = []
    spool.append(batch)
    appended = time.perf_counter()
    due = due_check_ms(spool)
    drain_started = time.perf_counter()
    backend = TantivyBackend(workdir / "tantivy", settings)
    await backend.open(writer=True)
    # Matched too, as in production: a small list of flagged wallets.
    members = MembershipStore(workdir / "members.sqlite")
    members.upsert(Entry("bench", "btc", f"1{i:033x}", "", "", "2026-01-01T00:00:00Z")
                   for i in range(1_000))
    drainer = Drainer(spool, backend, batch_size=BATCH,
                      stages=[MatchingStage(members, MatchingSettings())])
    await drainer.drain_all()
    await backend.close()
    drained = time.perf_counter()
    spool.close()
    members.close()
    return {"append_s": appended - started, "drain_s": drained - drain_started,
            "total_s": appended - started + drained - drain_started, **due}


def due_check_ms(spool: Spool) -> dict[str, float]:
    """What the drain service asks before every batch, timed with the whole corpus waiting:
    the front of the spool (its oldest document, whether a batch is full) against counting
    every waiting row and reading every stamp, which it did before; and the depth by kind a
    metrics scrape reads, kept by the spool, against counting it."""
    def best(ask: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            ask()
            times.append((time.perf_counter() - started) * 1000)
        return min(times)

    front = best(lambda: (spool.oldest_age(), spool.holds(BATCH)))
    depth = best(spool.backlog)
    with sqlite3.connect(spool.path) as db:
        by_kind = best(lambda: db.execute(
            "SELECT kind, COUNT(*) FROM spool GROUP BY kind").fetchall())
        counted = best(lambda: db.execute("SELECT MIN(added_at) FROM spool").fetchone()) + by_kind
    return {"due_front_ms": front, "due_counted_ms": counted, "depth_kept_ms": depth,
            "depth_counted_ms": by_kind}


SQLITE_SCHEMA = """
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE docs (id INTEGER PRIMARY KEY, doc_id TEXT UNIQUE, url TEXT, host TEXT, ts INTEGER,
                   status INTEGER, title TEXT, text TEXT, source TEXT);
CREATE VIRTUAL TABLE fts USING fts5(title, text, content='docs', content_rowid='id');
CREATE TABLE kw (field TEXT, value TEXT, doc INTEGER);
"""
SQLITE_INDEXES = """
CREATE INDEX docs_host_ts ON docs(host, ts);
CREATE INDEX docs_ts ON docs(ts, doc_id);
CREATE INDEX kw_value ON kw(field, value, doc);
"""


def build_sqlite(corpus: Path, workdir: Path) -> tuple[sqlite3.Connection, dict[str, float]]:
    db = sqlite3.connect(workdir / "fts5.sqlite", isolation_level=None)
    db.executescript(SQLITE_SCHEMA)
    started = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    kw: list[tuple[str, str, int]] = []

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO fts(rowid, title, text) VALUES (?,?,?)",
                       [(r[0], r[6], r[7]) for r in rows])
        db.executemany("INSERT INTO kw VALUES (?,?,?)", kw)
        db.execute("COMMIT")
        rows.clear()
        kw.clear()

    for i, body in enumerate(read_corpus(corpus), start=1):
        page = Page.model_validate(body)  # the same validation the spool path pays
        rows.append((i, page.id, page.url, page.host, epoch_ms(page.fetched_at), page.status,
                     page.title, page.text, json.dumps(page.source())))
        kw += [("btc", v, i) for v in page.entities.btc]
        kw += [("emails", v, i) for v in page.entities.emails]
        if len(rows) == BATCH:
            flush()
    flush()
    db.executescript(SQLITE_INDEXES)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, {"total_s": time.perf_counter() - started}


def group_commit(corpus: Path, workdir: Path, threads: int = 8, appends: int = 40,
                 size: int = 25) -> dict[str, float]:
    """Small appends (a crawler's batch) from ``threads`` threads at once against the same
    appends one after another: docs/s and transactions (fsyncs) for each."""
    pages = [Page.model_validate(b) for b in itertools.islice(read_corpus(corpus), size * 40)]
    batches = [pages[(i * size) % len(pages):(i * size) % len(pages) + size]
               for i in range(threads * appends)]
    serial = Spool(workdir / "serial-spool.sqlite")
    started = time.perf_counter()
    for batch in batches:
        serial.append(batch)
    serial_s = time.perf_counter() - started
    shared = Spool(workdir / "group-spool.sqlite")

    def producer(k: int) -> None:
        for batch in batches[k::threads]:
            shared.append(batch)

    workers = [threading.Thread(target=producer, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    group_s = time.perf_counter() - started
    out = {"docs": len(batches) * size, "serial_s": serial_s, "serial_commits": serial.commits,
           "group_s": group_s, "group_commits": shared.commits}
    serial.close()
    shared.close()
    return out


def build_raw_tantivy(corpus: Path, workdir: Path) -> dict[str, float]:
    """The least an indexer does: tantivy with a minimal schema (id, host, title, text), no
    spool, no validation, no matching, one commit per ``BATCH`` pages."""
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("host", tokenizer_name="raw")
    sb.add_text_field("title")
    sb.add_text_field("text")
    folder = workdir / "raw-tantivy"
    folder.mkdir()
    index = tantivy.Index(sb.build(), path=str(folder))
    writer = index.writer()
    started = time.perf_counter()
    for n, body in enumerate(read_corpus(corpus), 1):
        writer.add_document(tantivy.Document(id=body["url"], host=body["host"],
                                             title=body["title"], text=body["text"]))
        if n % BATCH == 0:
            writer.commit()
    writer.commit()
    writer.wait_merging_threads()
    return {"total_s": time.perf_counter() - started}


def warm(paths: list[Path]) -> tuple[int, float]:
    """Read every file under ``paths`` once (bytes read, seconds): the build wrote gigabytes
    more than the page cache keeps (corpus, spool, both indices), so without it the first
    touch of each posting list is a disk read and p95 measures the disk."""
    started = time.perf_counter()
    total = 0
    for path in (f for p in paths for f in [p, *p.rglob("*")] if f.is_file()):
        with path.open("rb") as f:
            while chunk := f.read(16 * 2**20):
                total += len(chunk)
    return total, time.perf_counter() - started


# -- queries -------------------------------------------------------------------------------

class Workload:
    """The same random query parameters for both engines."""

    def __init__(self, corpus: Corpus, sample: list[dict[str, Any]], seed: int = 7):
        rng = random.Random(seed)
        self.rng = rng
        self.corpus = corpus
        self.sample = sample
        # Words of middling frequency: common enough to hit, rare enough to rank.
        self.term_words = corpus.words[20:2_000]

    def word(self) -> str:
        return self.rng.choice(self.term_words)

    def phrase(self) -> str:
        words = self.rng.choice(self.sample)["text"].split()
        i = self.rng.randrange(len(words) - 1)
        return f"{words[i]} {words[i + 1]}"

    def host(self) -> str:
        return self.rng.choice(self.sample)["host"]

    def window(self) -> tuple[int, int]:
        start = epoch_ms(START) + self.rng.randrange(SPAN_S - 30 * 86_400) * 1000
        return start, start + 30 * 86_400_000


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


async def run_tantivy(backend: TantivyBackend, kind: str, params: Any) -> int:
    if kind == "term":
        search = Search("page", query=Match("text", params), size=10)
    elif kind == "phrase":
        search = Search("page", query=MatchPhrase("text", params), size=10)
    elif kind == "filter+term":
        host, word = params
        search = Search("page", query=Bool(must=(Match("text", word),),
                                           filter=(Term("host", host),)), size=10)
    elif kind == "range+terms-agg":
        lo, hi = params
        search = Search("page", query=Bool(filter=(Range("fetched_at", gte=lo, lt=hi),)), size=10,
                        aggs={"hosts": TermsAgg("host", 10)})
    else:
        word = params
        sort = (SortField("fetched_at", "desc"),)
        first = await backend.search(Search("page", query=Match("text", word), size=10, sort=sort))
        hits = first["hits"]["hits"]
        after = tuple(hits[-1]["sort"]) if hits else None
        started = time.perf_counter()
        result = await backend.search(Search("page", query=Match("text", word), size=10,
                                             sort=sort, search_after=after))
        run_tantivy.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
        return result["hits"]["total"]["value"]
    result = await backend.search(search)
    return result["hits"]["total"]["value"]


def run_sqlite(db: sqlite3.Connection, kind: str, params: Any) -> int:
    def top(match: str, extra: str = "", args: tuple[Any, ...] = ()) -> int:
        total = db.execute(f"SELECT count(*) FROM fts JOIN docs ON docs.id = fts.rowid "
                           f"WHERE fts MATCH ? {extra}", (match, *args)).fetchone()[0]
        db.execute(f"SELECT docs.doc_id, docs.source FROM fts JOIN docs ON docs.id = fts.rowid "
                   f"WHERE fts MATCH ? {extra} ORDER BY rank LIMIT 10", (match, *args)).fetchall()
        return total

    if kind == "term":
        return top(f'text : "{params}"')
    if kind == "phrase":
        return top(f'text : "{params}"')
    if kind == "filter+term":
        host, word = params
        return top(f'text : "{word}"', "AND docs.host = ?", (host,))
    if kind == "range+terms-agg":
        lo, hi = params
        total = db.execute("SELECT count(*) FROM docs WHERE ts >= ? AND ts < ?",
                           (lo, hi)).fetchone()[0]
        db.execute("SELECT host, count(*) AS n FROM docs WHERE ts >= ? AND ts < ? GROUP BY host "
                   "ORDER BY n DESC, host LIMIT 10", (lo, hi)).fetchall()
        db.execute("SELECT doc_id, source FROM docs WHERE ts >= ? AND ts < ? ORDER BY doc_id "
                   "LIMIT 10", (lo, hi)).fetchall()
        return total
    word = params
    match = f'text : "{word}"'
    first = db.execute("SELECT docs.ts, docs.doc_id FROM fts JOIN docs ON docs.id = fts.rowid "
                       "WHERE fts MATCH ? ORDER BY docs.ts DESC, docs.doc_id LIMIT 10",
                       (match,)).fetchall()
    ts, doc_id = first[-1] if first else (2**62, "")
    started = time.perf_counter()
    total = db.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", (match,)).fetchone()[0]
    db.execute("SELECT docs.doc_id, docs.source FROM fts JOIN docs ON docs.id = fts.rowid "
               "WHERE fts MATCH ? AND (docs.ts < ? OR (docs.ts = ? AND docs.doc_id > ?)) "
               "ORDER BY docs.ts DESC, docs.doc_id LIMIT 10", (match, ts, ts, doc_id)).fetchall()
    run_sqlite.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
    return total


QUERY_TYPES: dict[str, Callable[[Workload], Any]] = {
    "term": lambda w: w.word(),
    "phrase": lambda w: w.phrase(),
    "filter+term": lambda w: (w.host(), w.word()),
    "range+terms-agg": lambda w: w.window(),
    "sorted-page-2": lambda w: w.word(),
}


async def measure(backend: TantivyBackend, db: sqlite3.Connection, workload: Workload,
                  queries: int) -> None:
    print(f"\n{'query (ms)':<18}{'tantivy p50':>12}{'p95':>9}{'sqlite p50':>12}{'p95':>9}"
          f"{'ratio p50':>11}{'ratio p95':>11}{'agree':>10}")
    for name, make in QUERY_TYPES.items():
        params = [make(workload) for _ in range(WARMUP + queries)]
        t_times: list[float] = []
        s_times: list[float] = []
        agree = 0
        for i, p in enumerate(params):
            started = time.perf_counter()
            t_total = await run_tantivy(backend, name, p)
            t_elapsed = time.perf_counter() - started
            started = time.perf_counter()
            s_total = run_sqlite(db, name, p)
            s_elapsed = time.perf_counter() - started
            if name == "sorted-page-2":  # only the second page is timed
                t_elapsed = run_tantivy.elapsed  # type: ignore[attr-defined]
                s_elapsed = run_sqlite.elapsed  # type: ignore[attr-defined]
            if i >= WARMUP:
                t_times.append(t_elapsed * 1000)
                s_times.append(s_elapsed * 1000)
                agree += t_total == s_total
        tp50, tp95 = percentiles(t_times)
        sp50, sp95 = percentiles(s_times)
        print(f"{name:<18}{tp50:>12.2f}{tp95:>9.2f}{sp50:>12.2f}{sp95:>9.2f}"
              f"{sp50 / tp50:>10.1f}x{sp95 / tp95:>10.1f}x{agree:>6}/{queries}")


async def main_async(args: argparse.Namespace) -> None:
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
        await run(args, Path(args.dir))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
            await run(args, Path(tmp))


async def run(args: argparse.Namespace, workdir: Path) -> None:
    print(f"{args.docs} synthetic pages in {workdir}")
    settings = IndexSettings(batch_size=BATCH)
    corpus = Corpus(args.docs)
    pages = workdir / "corpus.jsonl"
    started = time.perf_counter()
    write_corpus(corpus, pages)
    print(f"corpus generated in {time.perf_counter() - started:.1f}s "
          f"({pages.stat().st_size / 2**20:.0f} MiB of JSON lines; not part of any timing)")
    t_build = await build_tantivy(pages, workdir, settings)
    built_mb = peak_rss_mb()
    db, s_build = build_sqlite(pages, workdir)
    raw_build = build_raw_tantivy(pages, workdir)
    grouped = group_commit(pages, workdir)
    n = args.docs
    print(f"\n{'build':<34}{'seconds':>10}{'docs/s':>10}")
    print(f"{'tantivy: spool append':<34}{t_build['append_s']:>10.1f}"
          f"{n / t_build['append_s']:>10.0f}")
    print(f"{'tantivy: drain into the index':<34}{t_build['drain_s']:>10.1f}"
          f"{n / t_build['drain_s']:>10.0f}")
    print(f"{'tantivy: end to end':<34}{t_build['total_s']:>10.1f}{n / t_build['total_s']:>10.0f}")
    print(f"{'sqlite fts5: direct insert':<34}{s_build['total_s']:>10.1f}"
          f"{n / s_build['total_s']:>10.0f}")
    print(f"{'raw tantivy, minimal schema':<34}{raw_build['total_s']:>10.1f}"
          f"{n / raw_build['total_s']:>10.0f}")
    print(f"ratio of docs/s, end to end (spool, drain, matching) / raw tantivy: "
          f"{raw_build['total_s'] / t_build['total_s']:.2f}x (to reach: 0.4x); resident peak "
          f"after the spool and drain {built_mb:.0f} MiB")
    print(f"spool, {grouped['docs']} docs in appends of 25: one after another "
          f"{grouped['docs'] / grouped['serial_s']:.0f} docs/s ({grouped['serial_commits']} "
          f"fsyncs); from 8 threads at once {grouped['docs'] / grouped['group_s']:.0f} docs/s "
          f"({grouped['group_commits']} fsyncs, group commit); ratio "
          f"{grouped['serial_s'] / grouped['group_s']:.2f}x")
    print(f"ratio of docs/s, tantivy / sqlite: end to end "
          f"{s_build['total_s'] / t_build['total_s']:.2f}x, "
          f"drain alone {s_build['total_s'] / t_build['drain_s']:.2f}x")
    print(f"before each batch, the drain service's check with {n} pages waiting: "
          f"{t_build['due_front_ms']:.2f} ms (counting them: {t_build['due_counted_ms']:.1f} ms, "
          f"{t_build['due_counted_ms'] / t_build['due_front_ms']:.0f}x); the depth by kind "
          f"a metrics scrape reads: {t_build['depth_kept_ms']:.2f} ms kept (counting them: "
          f"{t_build['depth_counted_ms']:.1f} ms)")
    warmed, seconds = warm([workdir / "tantivy", workdir / "fts5.sqlite"])
    print(f"both engines' files read once into the page cache: {warmed / 2**30:.1f} GiB in "
          f"{seconds:.0f}s (a serving machine has them there; cold, a query waits for the disk)")
    sample = list(itertools.islice(read_corpus(pages), 2_000))
    # Searched read-only, as the console and `heroes search` do beside a drainer.
    backend = TantivyBackend(workdir / "tantivy", settings)
    await backend.open(writer=False)
    await measure(backend, db, Workload(corpus, sample), args.queries)
    await backend.close()
    db.close()
    print(f"resident peak of the whole run {peak_rss_mb():.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000, help="pages to build (200000)")
    parser.add_argument("--queries", type=int, default=200, help="measured queries per type")
    parser.add_argument("--dir", help="work directory (default: a new temporary one)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (2000 pages), seconds")
    add_gc_option(parser)
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.queries = 2_000, WARMUP + 5
    as_heroes_runs(args)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

