"""The working steps of the full demo, each built on the component that does the job.

Hash lists go in through :func:`index.hashsets.importer.import_file`; the crawl is the real
``heroes crawl`` in a child process (Scrapy's reactor runs once per process); the probe is
:class:`monitors.probe.Probe` with the drain role (:class:`index.store.DrainRole`) beside it; alert
email leaves through :class:`alerting.sender.Sender`; the console account is a
:class:`heroes.console.users.UserStore` user. Each step returns what it found as plain
data and raises :class:`StepFailed` with a message that says what did not happen.
Reads the settings the caller passes (the demo's own file, see :mod:`heroes.demo_config`).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import Settings
from documents import Page
from documents.fields import values_at
from heroes.demo_config import HashList
from index.store import Store
from query.model import Search, Term, TermsAgg
from query.querystring import parse_query_string

ENTITY_FIELDS = tuple(f for f in Page.FIELDS if f.startswith("entities."))


class StepFailed(Exception):
    """A demo step did not reach its goal; the message says what is missing."""


def import_lists(settings: Settings, lists_dir: Path, lists: Iterable[HashList]) -> list[str]:
    """Write each list as a file and import it with the real importer; one line per list."""
    from index.hashsets.importer import import_file
    from index.hashsets.membership import MembershipStore, membership_path

    lists_dir.mkdir(parents=True, exist_ok=True)
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    lines = []
    try:
        for hl in lists:
            path = lists_dir / f"{hl.name}.txt"
            path.write_text(hl.text())
            report = import_file(path, members, store.append, list_name=hl.name, fmt="lines",
                                 type_name=hl.type, category=hl.category)
            if report.problems:
                raise StepFailed(f"hash list {path} has bad lines: {report.problems[:3]}")
            settings_text = ", ".join(f"{k} {v}" for k, v in hl.settings)
            lines.append(f"list {hl.name}: {report.read} {hl.type} values from {path}"
                         + (f" ({settings_text})" if settings_text else ""))
    finally:
        members.close()
        store.close()
    return lines


def heroes_argv(config: Path, data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "heroes.cli", "--config", str(config),
            "--data-dir", str(data_dir), *args]


def crawl(config: Path, data_dir: Path, seed: str, timeout_s: float) -> dict[str, Any]:
    """``heroes crawl SEED --job demo --json`` in a child process; returns its summary."""
    argv = heroes_argv(config, data_dir, "crawl", seed, "--job", "demo", "--json")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False, env=dict(os.environ))
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:]
        raise StepFailed(f"the crawl did not finish within {timeout_s:.0f}s; last output:\n"
                         f"{tail.decode(errors='replace') if isinstance(tail, bytes) else tail}"
                         ) from exc
    if done.returncode != 0 or "{" not in done.stdout:
        raise StepFailed(f"heroes crawl exited {done.returncode}:\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    summary: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{"):])
    return summary


async def count_torrents(settings: Settings) -> int:
    """Torrents the index derived from magnet links and infohashes on the crawled pages."""
    result = await Store(settings).search(Search("torrent", size=0))
    return int(result["hits"]["total"]["value"])


async def index_counts(settings: Settings) -> dict[str, Any]:
    """Services up, pages, and distinct values per entity type in the index."""
    store = Store(settings)
    try:
        services = await store.search(Search("service", query=Term("up", True), size=0))
        pages = await store.search(Search(
            "page", size=0, aggs={f: TermsAgg(f, 1000) for f in ENTITY_FIELDS}))
    finally:
        store.close()
    entities = {f.split(".", 1)[1]: len(b["buckets"]) for f, b in pages["aggregations"].items()}
    return {"services_up": services["hits"]["total"]["value"],
            "pages": pages["hits"]["total"]["value"], "entities": entities}


@dataclass
class PeerRow:
    infohash: str
    ip: str
    port: int
    client: str
    level: int
    have_fraction: float | None


@dataclass
class ProbeResult:
    seconds: float
    peers: list[PeerRow]
    payload_ok: bool
    observations: int
    found_on: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


def _all_seen(probe: Any, wanted: list[tuple[str, str, int, str]]) -> bool:
    """Every lab peer handshaken (seeds and partial peers: pieces announced, fraction known)."""
    for key, ip, port, role in wanted:
        rec = probe.recorder.peers.get((key, ip, port))
        if rec is None:
            return False
        if role == "leecher":
            if rec.level < 1:
                return False
        elif rec.level < 2 or rec.have_fraction is None:
            return False
    return True


async def probe(settings: Settings, swarm: dict[str, Any], timeout_s: float) -> ProbeResult:
    """Watch the index's targets until every lab peer of every lab torrent was seen."""
    from monitors.probe import Probe

    wanted = [(t["v1"], p["ip"], int(p["port"]), p["role"])
              for t in swarm["torrents"] for p in swarm["peers"]]
    store = Store(settings)
    stop = asyncio.Event()
    started = time.monotonic()
    seen = False

    async def until_seen(p: Probe) -> None:
        nonlocal seen
        try:
            deadline = started + timeout_s
            while time.monotonic() < deadline:
                if _all_seen(p, wanted):
                    seen = True
                    return
                await asyncio.sleep(0.25)
        finally:
            stop.set()

    try:
        p = Probe(settings, store, use_index=True)
        async with store.drain_role() as drain, p:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(p.run(stop))
                tg.create_task(drain.run(stop))
                tg.create_task(until_seen(p))
            elapsed = time.monotonic() - started
            rows = [PeerRow(k, ip, port, r.client, r.level, r.have_fraction)
                    for (k, ip, port), r in sorted(p.recorder.peers.items())]
        if not seen:
            missing = [f"{ip} on {k[:12]}" for k, ip, port, _ in wanted
                       if (k, ip, port) not in p.recorder.peers]
            raise StepFailed(f"not every lab peer was seen within {timeout_s:.0f}s; "
                             f"missing: {missing or 'levels or piece fractions'}")
        result = ProbeResult(round(elapsed, 1), rows, p.summary.payload_ok, p.summary.observations)
        for t in swarm["torrents"]:
            hits = await store.search(Search("torrent", query=Term("infohash", t["v1"]), size=1))
            for hit in hits["hits"]["hits"]:
                result.found_on[t["v1"]] = list(hit["_source"].get("found_on") or [])
                result.names[t["v1"]] = str(hit["_source"].get("name") or "")
    finally:
        store.close()
    return result


@dataclass
class Delivery:
    sent: int
    directory: Path
    subjects: list[str]


def sink_subjects(directory: Path) -> list[str]:
    files = sorted(directory.glob("*.eml")) if directory.exists() else []
    return [str(email.message_from_bytes(f.read_bytes(), policy=email.policy.default)["Subject"])
            for f in files]


async def deliver_alerts(settings: Settings, sink_dir: Path, timeout_s: float) -> Delivery:
    """Run the sender until the outbox is empty, then index the alerts' delivery status."""
    from alerting.sender import Sender

    store = Store(settings)
    sender = Sender(settings, store.append)
    sender.open()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            await sender.run_once()
            counts = sender.outbox.counts()
            if not counts.get("queued") and not counts.get("sending"):
                break
            if time.monotonic() > deadline:
                raise StepFailed(f"the outbox did not empty within {timeout_s:.0f}s: {counts}")
            await asyncio.sleep(settings.smtp.poll_s)
        if counts.get("failed"):
            raise StepFailed(f"the SMTP sink refused {counts['failed']} alert messages")
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()
    finally:
        sender.close()
        store.close()
    return Delivery(sender.counters.sent, sink_dir, sink_subjects(sink_dir))


@dataclass(frozen=True)
class DemoSearch:
    kind: str
    query: str
    columns: tuple[str, ...]


def _cell(source: dict[str, Any], column: str) -> str:
    values = [str(v) for v in values_at(source, column)]
    text = ",".join(dict.fromkeys(values))
    return text if len(text) <= 100 else text[:97] + "..."


async def run_searches(settings: Settings, searches: Iterable[DemoSearch],
                       limit: int = 5) -> list[tuple[DemoSearch, int, list[str]]]:
    """(search, total, table rows) for each search, as ``heroes search`` would find them."""
    store = Store(settings)
    out = []
    try:
        for s in searches:
            result = await store.search(
                Search(s.kind, query=parse_query_string(s.query, s.kind), size=limit))
            rows = [" | ".join(_cell(h["_source"], c) for c in s.columns)
                    for h in result["hits"]["hits"]]
            out.append((s, result["hits"]["total"]["value"], rows))
    finally:
        store.close()
    return out


