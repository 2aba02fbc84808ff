"""A crawl opens no listening socket and leaves no token file behind.

The crawl runs as the real CLI on the lab world; while it runs, the listening sockets of its
process (and any child) are sampled with psutil. A sample counts once the crawl is fetching
(a connection to Tor's SocksPort is open), which is after Scrapy started its extensions and
before it stops them. A control run of plain Scrapy (its defaults turn RemoteControl on)
shows that the same sampling and the same profile-directory check see such a listener.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.crawler.conftest import CRAWL_TIMEOUT_S, ROOT, LabWorld

_PROFILE_VARS = ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")


@dataclass
class Watched:
    returncode: int
    output: str
    listening: set[tuple[str, int]] = field(default_factory=set)
    samples_while_fetching: int = 0
    # Seen at any sample: a token file may be removed again when the process stops.
    profile_files: set[Path] = field(default_factory=set)


def _private_home(env: dict[str, str], home: Path) -> dict[str, str]:
    """``env`` with a fresh profile directory, so that whatever is written there is seen."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in env.items() if k not in _PROFILE_VARS}
    env["HOME"] = str(home)
    return env


def _connections(proc: psutil.Process) -> list[Any]:
    found = []
    for each in (proc, *proc.children(recursive=True)):
        try:
            found.extend(each.net_connections(kind="inet"))
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def watch(
    args: list[str],
    env: dict[str, str],
    home: Path,
    fetching: Callable[[list[Any]], bool],
    release: Callable[[Watched], None] | None = None,
    timeout_s: float = CRAWL_TIMEOUT_S,
) -> Watched:
    """Run ``args``; sample its sockets and ``home`` until it exits (each wait is on the
    process); ``release`` is called after every sample with what was seen so far."""
    log = home.parent / f"{home.name}.log"
    with log.open("w") as out:
        child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    seen = Watched(returncode=-1, output="")
    proc = psutil.Process(child.pid)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                conns = _connections(proc)
            except psutil.NoSuchProcess:
                conns = []
            seen.listening |= {
                (c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN
            }
            seen.profile_files |= {p for p in home.rglob("*") if p.is_file()}
            if fetching(conns):
                seen.samples_while_fetching += 1
            if release is not None:
                release(seen)
            try:
                child.wait(timeout=0.02)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    seen.returncode = child.returncode
    seen.output = log.read_text(errors="replace")
    seen.profile_files |= {p for p in home.rglob("*") if p.is_file()}
    return seen


@pytest.mark.tor
def test_a_crawl_listens_on_nothing_and_writes_no_token(
    lab_world: LabWorld, tmp_path: Path
) -> None:
    socks_port = int(lab_world.info["socks"]["port"])

    def fetching(conns: list[Any]) -> bool:
        return any(
            c.status == psutil.CONN_ESTABLISHED and c.raddr and c.raddr.port == socks_port
            for c in conns
        )

    data_dir = tmp_path / "data"
    env = _private_home(lab_world.crawl_env(data_dir), tmp_path / "home")
    args = [sys.executable, "-m", "heroes.cli", "crawl", lab_world.seed_url, "--job", "s"]
    run = watch(args, env, tmp_path / "home", fetching)
    assert run.returncode == 0, run.output[-4000:]
    assert run.samples_while_fetching > 0, "never sampled while the crawl fetched"
    # The crawl was configured to open no listener at all (no console, no metrics).
    assert run.listening == set(), run.listening
    assert run.profile_files == set(), run.profile_files


_PLAIN_SCRAPY = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    import scrapy
    from scrapy.crawler import AsyncCrawlerProcess

    release = Path(sys.argv[1])

    class Idle(scrapy.Spider):
        name = "idle"

        async def start(self):
            # Holds the engine open (listeners up) until the test has looked.
            while not release.exists():
                await asyncio.sleep(0.05)
            return
            yield

    process = AsyncCrawlerProcess({"TELNETCONSOLE_ENABLED": False})
    process.crawl(Idle)
    process.start()
    """
)


def test_the_check_sees_scrapys_own_remote_control(tmp_path: Path) -> None:
    home = tmp_path / "home"
    gate = tmp_path / "release"

    def release(seen: Watched) -> None:
        if seen.listening and seen.profile_files:
            gate.touch()

    run = watch(
        [sys.executable, "-c", _PLAIN_SCRAPY, str(gate)],
        _private_home(dict(os.environ), home),
        home,
        fetching=lambda conns: False,
        release=release,
        timeout_s=120,
    )
    assert run.returncode == 0, run.output[-4000:]
    assert gate.exists(), f"no listener or no token file seen:\n{run.output[-4000:]}"
    assert all(ip == "127.0.0.1" for ip, _ in run.listening)
    assert any("job_files" in p.parts for p in run.profile_files), run.profile_files
