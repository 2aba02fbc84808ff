"""The demo: what a newcomer runs first to see every part work together, offline.

``heroes demo --quick`` ingests a generated sample and searches it (no lab world).
``heroes demo`` runs the whole pipeline on the lab world, in eight steps that each print a
headline and what they found:

1. the lab world up (:mod:`heroes.demo_lab`): private Tor network, onion sites, swarm,
   SMTP sink, all under ``<data_dir>/lab``;
2. the demo's own settings file ``<data_dir>/demo.toml`` (:mod:`heroes.demo_config`) and
   the lab hash lists imported with the real importer, with a turned lab picture, the lab's
   original video and a negative list (:mod:`heroes.demo_hygiene`), and ``heroes hashes
   compute`` / ``check`` on the lab picture;
3. a crawl of the onion sites from one seed, through Tor, by ``heroes crawl``; then two
   crawler processes on the lab's Redis frontier and ``heroes crawl status``
   (:mod:`heroes.demo_service`);
4. the probe on the flagged torrents until every lab peer was seen, the drain beside it;
5. the alert email delivered to the sink until the outbox is empty;
6. what ``heroes search`` finds, with the command lines to re-run, and the pages the turned
   picture and the video variants flagged and the hits the negative list suppressed;
7. the evidence (:mod:`heroes.demo_evidence`): the installation's key and the lab TSA
   (made in step 1) sealed every log; ``heroes evidence check``, then an export of one
   flagged infohash verified with ``heroes evidence verify --key``; and an analyst account
   for the console on this data only; then the ranked peers of the lab swarm and the
   legal-request export of the top one (:mod:`heroes.demo_peers`); then the analysis
   (:mod:`heroes.demo_analysis`): clusters of the services with the values that link them, a
   list that arrives after the crawl hunted over what is already indexed, and the newest
   alert exported for MISP and STIX;
8. the lab world down — always, also after a failure or Ctrl-C.

Every step is bounded (the lab's own start-up limits, then the timeouts below); a failure
raises :class:`DemoFailed` naming the step. The demo only runs on an empty data directory
or one an earlier demo made (marked by ``.heroes-demo``), whose results it replaces.
Reads the settings it writes itself; from the caller only ``data_dir``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import shlex
import shutil
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from config import ConfigError, Settings, load_settings
from documents import parse_document
from heroes import (
    demo_analysis,
    demo_config,
    demo_discovery,
    demo_evidence,
    demo_hygiene,
    demo_lab,
    demo_peers,
    demo_service,
    demo_steps,
)
from heroes.console.demo import demo_access
from heroes.sample import sample_documents
from index.store import Store
from query.model import Search, TermsAgg
from query.querystring import parse_query_string

Say = Callable[[str], None]
T = TypeVar("T")

STEPS = {
    1: "lab world up: Tor network, onion sites, BitTorrent swarm, SMTP sink",
    2: "demo settings and lab hash lists",
    3: "crawl the onion sites through Tor",
    4: "probe the swarms of the flagged torrents; discover new ones in a lab DHT",
    5: "deliver alert email to the SMTP sink",
    6: "search the index",
    7: "evidence check, a verified export, console account",
    8: "lab world down",
}
MARKER = ".heroes-demo"
CONFIG_FILE = "demo.toml"
LAB_DIR = "lab"
DEFAULT_BASE_PORT = 19000
CRAWL_TIMEOUT_S = 240.0
PROBE_TIMEOUT_S = 90.0
DISCOVERY_TIMEOUT_S = 150.0
SEND_TIMEOUT_S = 60.0
SEARCH_TIMEOUT_S = 30.0
ANALYSIS_TIMEOUT_S = 180.0  # per command: each starts a Python process and reads the index


class DemoFailed(Exception):
    """A step of the demo failed; ``step`` is its number, the message says what happened."""

    def __init__(self, step: int, message: str):
        self.step = step
        super().__init__(f"step {step} ({STEPS.get(step, 'preparation')}) failed: {message}")


def headline(step: int) -> str:
    return f"[{step}/{len(STEPS)}] {STEPS[step]}"


# --- the quick demo: a generated sample, no lab world ------------------------------------


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
    async with store.writer(with_stages=True) as drainer:
        n = await drainer.drain_all()
    say(f"indexed {n} generated documents into {settings.data_dir}")
    await _show(store, say, "page", 'escrow AND title:"garden"', ("fetched_at", "url", "title"))
    result = await store.search(Search(kind="page", size=0, aggs={"hosts": TermsAgg("host", 5)}))
    say("\npages per service:")
    say(json.dumps(result["aggregations"]["hosts"]["buckets"], indent=2))
    store.close()


# --- the full demo ------------------------------------------------------------------------


def prepare_data_dir(data_dir: Path) -> None:
    """Refuse a directory that holds anything but an earlier demo; clear an earlier demo's
    results (the lab's keys stay, so onion addresses and Tor keys are reused)."""
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise DemoFailed(0, f"{data_dir} holds data that an earlier demo did not make; "
                            "give the demo an empty directory with --data-dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    for entry in data_dir.iterdir():
        if entry.name in (LAB_DIR, MARKER):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    shutil.rmtree(data_dir / LAB_DIR / "mail", ignore_errors=True)
    (data_dir / MARKER).write_text("made by heroes demo; the next demo run replaces it\n")


def _run_async(step: int, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
    async def bounded() -> T:
        try:
            return await asyncio.wait_for(coro, timeout_s)
        except TimeoutError:
            raise DemoFailed(step, f"no result within {timeout_s:.0f}s") from None

    return asyncio.run(bounded())


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def run_full(data_dir: Path, *, say: Say, base_port: int = DEFAULT_BASE_PORT,
             log_level: str = "WARNING") -> None:
    """The eight steps; raises :class:`DemoFailed` (after step 8) if any step failed."""
    started = time.monotonic()
    prepare_data_dir(data_dir)
    lab_dir = (data_dir / LAB_DIR).resolve()
    logging.getLogger().setLevel(log_level)
    step = 1
    failure: BaseException | None = None
    try:
        say(headline(1))
        world, sink = demo_lab.up(lab_dir, base_port=base_port)
        evidence = demo_evidence.prepare(data_dir, world)
        _say_world(say, world, sink)

        step = 2
        say(headline(2))
        settings = _write_settings(data_dir, world, sink, log_level, say, evidence)
        truth = json.loads(Path(world["ground_truth"]).read_text())
        turned = demo_hygiene.turned_picture(truth, Path(world["ground_truth"]).parent / "sites")
        lists = [*demo_config.hash_lists(world, truth), *demo_hygiene.hash_lists(truth, turned)]
        for line in demo_steps.import_lists(settings, data_dir / "hash-lists", lists):
            say(f"  {line}")
        if turned is not None:
            argv_of = functools.partial(demo_steps.heroes_argv, data_dir / CONFIG_FILE, data_dir)
            for line in demo_hygiene.investigator_lines(argv_of, turned):
                say(f"  {line}")

        step = 3
        say(headline(3))
        _crawl(settings, data_dir, world, truth, say)
        demo_service.shared_crawl(data_dir / CONFIG_FILE, data_dir, world["seed_url"], lab_dir,
                                  say, CRAWL_TIMEOUT_S)

        step = 4
        say(headline(4))
        _probe(settings, world, say)
        found, imported = demo_discovery.run(settings, lab_dir / "discovery",
                                             data_dir / "hash-lists", DISCOVERY_TIMEOUT_S,
                                             swarm=world["swarm"])
        for line in [*imported, *demo_discovery.lines(found)]:
            say(f"  {line}")

        step = 5
        say(headline(5))
        delivery = _run_async(5, demo_steps.deliver_alerts(settings, sink.directory,
                                                           SEND_TIMEOUT_S), SEND_TIMEOUT_S + 30)
        say(f"  {delivery.sent} messages accepted by the sink (STARTTLS, 127.0.0.1:{sink.port});"
            f" each is one file in {delivery.directory}")
        for subject in delivery.subjects:
            say(f"    {subject}")
        if not delivery.subjects:
            raise demo_steps.StepFailed("no alert email reached the sink")

        step = 6
        say(headline(6))
        _searches(settings, data_dir, world, truth, say)

        step = 7
        say(headline(7))
        demo_evidence.finish(data_dir / CONFIG_FILE, data_dir, evidence,
                             world["swarm"]["torrents"][0]["v1"], say)
        for line in demo_access(settings):
            say(f"  {line}")
        say("  peers of the lab swarm, ranked (heroes peers), and the export of the top one:")
        for line in _run_async(7, demo_peers.lines(settings, data_dir / CONFIG_FILE),
                               SEARCH_TIMEOUT_S):
            say(f"  {line}")
        say("  analysis: what links the services, a list hunted over the past, the newest alert "
            "exported:")
        for line in demo_analysis.lines(data_dir / CONFIG_FILE, data_dir, ANALYSIS_TIMEOUT_S):
            say(f"  {line}")
    except BaseException as exc:  # step 8 must run whatever happened
        failure = exc
    finally:
        say(headline(8))
        stopped, left = demo_lab.down(lab_dir)
        say(f"  stopped {len(stopped)} processes: {', '.join(stopped) or 'none'}")
    if isinstance(failure, KeyboardInterrupt | SystemExit):
        raise failure
    if failure is not None:
        leaf = _leaf(failure)
        if isinstance(leaf, DemoFailed):
            raise leaf
        raise DemoFailed(step, str(leaf) or type(leaf).__name__) from failure
    if left:
        raise DemoFailed(8, f"still running after lab down: {', '.join(left)}")
    say(f"  no lab process left; the demo took {time.monotonic() - started:.0f} s")


def _say_world(say: Say, world: dict[str, Any], sink: demo_lab.MailSink) -> None:
    timings = world.get("timings", {})
    say(f"  lab directory {world['dir']}")
    say(f"  Tor: client SOCKS 127.0.0.1:{world['socks']['port']}, control "
        f"127.0.0.1:{world['control']['port']}; first onion page after "
        f"{timings.get('first_fetch_s', '?')} s")
    for name, host in sorted(world["onions"].items()):
        say(f"    {name:<10} http://{host}/")
    swarm = world["swarm"]
    say(f"  swarm: {len(swarm['peers'])} peers on "
        f"{', '.join(p['ip'] for p in swarm['peers'])}, {len(swarm['torrents'])} torrents, "
        f"trackers {', '.join(swarm['trackers'])}, DHT via {swarm['dht_bootstrap']}")
    say(f"  SMTP sink: 127.0.0.1:{sink.port} (STARTTLS required), messages in {sink.directory}")


def _write_settings(data_dir: Path, world: dict[str, Any], sink: demo_lab.MailSink,
                    log_level: str, say: Say,
                    evidence: demo_evidence.EvidenceSetup) -> Settings:
    path = data_dir / CONFIG_FILE
    path.write_text(demo_config.config_text(world, sink.port, str(sink.cert), log_level)
                    + demo_evidence.config_table(evidence))
    try:
        settings = load_settings(path, overrides={"data_dir": str(data_dir)})
    except ConfigError as exc:
        raise demo_steps.StepFailed(
            "the demo's settings do not load: " + "; ".join(str(p) for p in exc.problems)
        ) from exc
    say(f"  settings: {path} (Tor attach mode, probe on the lab swarm, SMTP to the sink)")
    for rule in settings.alerts.rules:
        what = f"new {rule.field}" if rule.type == "new_term" else "hit"
        say(f"    rule {rule.name}: {what} on {', '.join(rule.kinds)} from "
            f"{', '.join(rule.lists)}, key {'+'.join(rule.key) or 'default'} "
            f"-> {', '.join(rule.recipients)}")
    return settings


def _crawl(settings: Settings, data_dir: Path, world: dict[str, Any], truth: dict[str, Any],
           say: Say) -> None:
    config = data_dir / CONFIG_FILE
    seed = world["seed_url"]
    say(f"  $ heroes --config {config} --data-dir {data_dir} crawl {seed} --job demo")
    summary = demo_steps.crawl(config, data_dir, seed, CRAWL_TIMEOUT_S)
    say(f"  {summary['pages']} pages ({summary['page_errors']} with errors), "
        f"{summary['services']} services ({summary['services_up']} up), "
        f"{summary['media_hashed']} images hashed in memory, {summary['seconds']} s")
    if summary.get("skipped"):
        say("  not fetched (out of scope or limits): "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary["skipped"].items())))
    torrents = _run_async(3, demo_steps.count_torrents(settings), SEARCH_TIMEOUT_S)
    counts = _run_async(3, demo_steps.index_counts(settings), SEARCH_TIMEOUT_S)
    say(f"  in the index: {counts['pages']} pages, {counts['services_up']} services up")
    planted = truth.get("reachable_entities", {})
    parts = []
    for name, n in sorted(counts["entities"].items()):
        if name in planted:
            parts.append(f"{name} {n}/{len(planted[name])}")
        elif n:
            parts.append(f"{name} {n}")
    say("  entities found/planted: " + ", ".join(parts))
    say(f"  {torrents} torrents named by magnet links on the pages are now probe targets")
    if not counts["pages"]:
        raise demo_steps.StepFailed("the crawl indexed no page")


def _probe(settings: Settings, world: dict[str, Any], say: Say) -> None:
    swarm = world["swarm"]
    result = _run_async(4, demo_steps.probe(settings, swarm, PROBE_TIMEOUT_S),
                        PROBE_TIMEOUT_S + 30)
    say(f"  every lab peer seen after {result.seconds} s; {result.observations} observations "
        f"recorded; payload {'0 bytes both ways' if result.payload_ok else 'MOVED (see log)'}")
    for t in swarm["torrents"]:
        ih = t["v1"]
        say(f"  torrent {result.names.get(ih) or t['name']} ({t['label']}) {ih}")
        pages = result.found_on.get(ih) or []
        say(f"    magnet link found on: {', '.join(pages) if pages else '(no crawled page)'}")
        for row in result.peers:
            if row.infohash == ih:
                fraction = "?" if row.have_fraction is None else f"{row.have_fraction:.0%}"
                say(f"    {row.ip}:{row.port:<6} {row.client or '?':<22} L{row.level}  "
                    f"pieces {fraction}")
    if not result.payload_ok:
        raise demo_steps.StepFailed("payload bytes moved during the probe run")


def _searches(settings: Settings, data_dir: Path, world: dict[str, Any],
              truth: dict[str, Any], say: Say) -> None:
    ih = world["swarm"]["torrents"][0]["v1"]
    wallet = demo_config.wallet_on_most_hosts(truth)
    searches = [
        demo_steps.DemoSearch("service", "up:true", ("host", "title", "page_count")),
        demo_steps.DemoSearch("page", "flagged:true", ("url", "matches.list")),
        demo_steps.DemoSearch("torrent", f"infohash:{ih}", ("name", "found_on")),
        demo_steps.DemoSearch("observation", f"infohash:{ih} AND level:>=2",
                              ("ip", "client", "level", "have_fraction")),
    ]
    if wallet:
        searches.insert(2, demo_steps.DemoSearch("page", f"btc:{wallet}", ("host", "url")))
    results = _run_async(6, demo_steps.run_searches(settings, searches), SEARCH_TIMEOUT_S)
    for s, total, rows in results:
        say(f"  $ heroes --data-dir {data_dir} search {shlex.quote(s.query)} --kind {s.kind}")
        say(f"    {total} matches")
        for row in rows:
            say(f"      {row}")
    say("  turned pictures and videos matched, and what the negative list suppressed:")
    for line in _run_async(6, demo_hygiene.result_lines(settings), SEARCH_TIMEOUT_S):
        say(f"    {line}")
    say(f"  lists with their settings and counts: heroes --data-dir {data_dir} hashes lists")
    say(f"  alerts: heroes --data-dir {data_dir} alerts list")

