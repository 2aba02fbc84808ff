"""Retro-hunt end to end: ``heroes hunt`` killed at a random point and run again.

Pages are indexed, then a list with some of their media hashes (exact md5 and PDQ-near)
is added; ``heroes hunt`` runs as its own process beside a drain role and a sender that
deliver email to the lab SMTP sink (aiosmtpd). The first run is killed (SIGKILL) at a random
moment after its first checkpoint; the second finishes. Exactly the listed pages are
flagged in the index and each sends exactly one email: no hit lost, none doubled.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
from pathlib import Path

from alerting.db import AlertDB, alert_db_path
from alerting.outbox import Outbox
from alerting.state import AlertState
from config import load_settings
from index.hunt.checkpoint import Checkpoints, checkpoint_path
from index.store import Store
from query.model import Search, Term
from tests.index.test_alerts_live import TO, Sink, pipeline, text_of, wait_until
from tests.index.test_hunt import World

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, data: Path, smtp_port: int) -> Path:
    path.write_text(f"""
data_dir = "{data}"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
poll_s = 0.1
retry_initial_s = 0.2
retry_max_s = 1.0

[alerts]
console_url = "http://console.localhost"

[[alerts.rules]]
name = "flagged-pages"
type = "hit"
recipients = ["{TO}"]
kinds = ["page"]
key = ["url"]

[hunt]
batch_size = 3
# Slow enough that the kill below lands part-way through, whatever the machine's speed.
batch_pause_s = 0.25
""")
    return path


def hunt_process(config: Path, log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "heroes.cli", "--config", str(config), "hunt", "--list",
         "retro-list", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("a"), text=True,
    )


def scanned(data: Path) -> int:
    path = checkpoint_path(data)
    if not path.exists():
        return 0
    checkpoints = Checkpoints(path)
    try:
        rows = checkpoints._db.execute("SELECT COALESCE(SUM(scanned), 0) FROM progress")
        return int(rows.fetchone()[0])
    finally:
        checkpoints.close()


async def test_killed_hunt_rerun_loses_and_doubles_no_hit(tmp_path: Path) -> None:
    sink = Sink(tmp_path / "mail").start()
    try:
        await _scenario(tmp_path, sink)
    finally:
        sink.stop()


async def _scenario(tmp_path: Path, sink: Sink) -> None:
    world = World(tmp_path, n_pages=40)
    data = world.settings.data_dir
    config = write_config(tmp_path / "heroes.toml", data, sink.port)
    settings = load_settings(config)
    world.settings = settings
    await world.index()  # no list yet: nothing flagged, nothing alerted
    world.flag_hashes()
    log = tmp_path / "hunt.log"
    rng = random.Random()
    kill_after = rng.randrange(3, 25)
    async with pipeline(settings) as store:
        first = hunt_process(config, log)
        try:
            await wait_until(lambda: scanned(data) >= kill_after or first.poll() is not None,
                             60.0, f"the hunt to check {kill_after} documents", log.read_text)
            # Anywhere in the batch in hand: between its alerts, its spool and its checkpoint.
            await asyncio.sleep(rng.uniform(0, 0.3))
            assert first.poll() is None, f"the hunt ended before the kill\n{log.read_text()}"
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            first.stdout.close()
        assert 0 < scanned(data) < len(world.pages)
        second = hunt_process(config, log)
        out, _ = await asyncio.to_thread(second.communicate, timeout=120)
        assert second.returncode == 0, log.read_text()
        report = json.loads(out)
        assert report["resumed"] and report["scanned"] == len(world.pages), report
        db = AlertDB(alert_db_path(data))
        outbox = Outbox(db)
        try:
            await wait_until(lambda: outbox.counts() == {"sent": 5}, 30.0,
                             "five emails marked sent", sink.log)
            await wait_until(lambda: not store.spool.backlog(), 30.0, "an empty spool")
            alerts = AlertState(db).list(limit=100)
        finally:
            db.close()
    assert report["hits"] <= 5  # a hit the drain flagged before the rerun is carried, not new
    assert {a.matched[0]["id"] for a in alerts} == world.expected and len(alerts) == 5
    assert {a.rule_type for a in alerts} == {"retro"}
    messages = sink.messages()
    assert len(messages) == 5
    bodies = [text_of(m).replace("=\n", "") for m in messages]
    urls = {p.url for p in world.pages if p.id in world.expected}
    assert {next(u for u in urls if u in b) for b in bodies} == urls
    assert all("Originally seen" in b and "retro-hunt of list retro-list" in b for b in bodies)
    check = Store(settings)
    found = await check.search(Search("page", Term("flagged", True), size=100))
    check.close()
    assert {h["_id"] for h in found["hits"]["hits"]} == world.expected
