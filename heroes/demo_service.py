"""The demo's shared-frontier crawl: the lab's Redis, two ``heroes crawl`` processes on one
Redis frontier, then ``heroes crawl status`` of their job.

Run inside the demo's crawl step (:mod:`heroes.demo`) after the one-process crawl: the two
processes share the onion sites between them (a URL is leased to one at a time) and leave
their pages in the spool, which the demo's later drain indexes (deterministic ids: the pages
the first crawl indexed are not doubled). Redis runs under ``<lab_dir>/redis`` and is
stopped at the end, also after a failure. Reads no settings (the demo's file is passed on).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from heroes.demo_steps import StepFailed, heroes_argv

JOB = "shared-demo"
PROCESSES = 2
WINDOW = 2


def shared_crawl(config: Path, data_dir: Path, seed: str, lab_dir: Path,
                 say: Callable[[str], None], timeout_s: float) -> None:
    from heroes.lab import redis as lab_redis

    redis_dir = lab_dir / "redis-frontier"
    try:
        url = str(lab_redis.up(redis_dir)["url"])
    except Exception as exc:
        raise StepFailed(f"the lab's Redis did not start: {exc}") from exc
    # A small lease window: the lab's sites are small, and the default window would let the
    # first crawler lease every URL before the second asks.
    env = {**os.environ, "HEROES_FRONTIER__BACKEND": "redis",
           "HEROES_COORDINATION__REDIS_URL": url, "HEROES_FRONTIER__WINDOW": str(WINDOW)}
    try:
        say(f"  lab Redis at {url}; {PROCESSES} crawler processes on one frontier:")
        argv = heroes_argv(config, data_dir, "crawl", seed, "--job", JOB, "--no-drain")
        say(f"  $ HEROES_FRONTIER__BACKEND=redis HEROES_COORDINATION__REDIS_URL={url} "
            f"HEROES_FRONTIER__WINDOW={WINDOW} heroes {' '.join(argv[3:])}   (x{PROCESSES})")
        logs = [redis_dir / f"crawler-{i}.log" for i in range(1, PROCESSES + 1)]
        procs = []
        for log in logs:
            with log.open("w") as stderr:
                procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr,
                                              text=True, env=env))
        try:
            outs = [proc.communicate(timeout=timeout_s)[0] for proc in procs]
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"the shared crawl did not finish within {timeout_s:.0f}s") from exc
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
        for i, (proc, out) in enumerate(zip(procs, outs, strict=True), 1):
            if proc.returncode != 0:
                raise StepFailed(f"crawler {i} exited {proc.returncode}:\n"
                                 f"{logs[i - 1].read_text()[-2000:]}")
            say(f"  crawler {i}: {out.strip().splitlines()[0] if out.strip() else '(no output)'}")
        status = subprocess.run(heroes_argv(config, data_dir, "crawl", "status", "--job", JOB),
                                capture_output=True, text=True, timeout=120, check=False,
                                env=env)
        if status.returncode != 0:
            raise StepFailed(f"heroes crawl status exited {status.returncode}:\n"
                             f"{(status.stdout + status.stderr)[-2000:]}")
        say(f"  $ heroes crawl status --job {JOB}")
        for line in status.stdout.splitlines():
            say(f"    {line}")
    finally:
        lab_redis.down(redis_dir)
