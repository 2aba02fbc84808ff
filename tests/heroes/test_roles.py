"""Roles run side by side, stop producers before the drain, and close in reverse order."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from heroes.roles import run_roles


class Recorder:
    """A role that notes its life in a shared log."""

    def __init__(self, name: str, log: list[str], *, finishes: bool = False,
                 fails: bool = False, ignores_stop: bool = False):
        self.name = name
        self.log = log
        self.finishes = finishes
        self.fails = fails
        self.ignores_stop = ignores_stop

    async def __aenter__(self) -> Recorder:
        self.log.append(f"open {self.name}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append(f"close {self.name}")

    async def run(self, stop: asyncio.Event) -> None:
        if self.fails:
            raise ValueError(f"{self.name} broke")
        if self.finishes:
            await asyncio.sleep(0)
            self.log.append(f"done {self.name}")
            return
        try:
            if self.ignores_stop:
                await asyncio.Event().wait()
            await stop.wait()
            self.log.append(f"stopped {self.name}")
        except asyncio.CancelledError:
            self.log.append(f"cancelled {self.name}")
            raise


def test_the_end_of_the_leader_stops_the_others_newest_first() -> None:
    log: list[str] = []
    drain, sender = Recorder("drain", log), Recorder("sender", log)
    crawl = Recorder("crawl", log, finishes=True)
    asyncio.run(run_roles([drain, sender, crawl], until=[crawl], signals=False))
    assert log == ["open drain", "open sender", "open crawl", "done crawl",
                   "stopped sender", "stopped drain",
                   "close crawl", "close sender", "close drain"]


def test_sigterm_sets_the_stop_event() -> None:
    log: list[str] = []

    async def scenario() -> None:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
        await run_roles([Recorder("drain", log), Recorder("probe", log)])

    asyncio.run(scenario())
    assert log[-4:] == ["stopped probe", "stopped drain", "close probe", "close drain"]


def test_a_failing_role_stops_the_others_and_is_raised_as_is() -> None:
    log: list[str] = []
    with pytest.raises(ValueError, match="probe broke"):
        asyncio.run(run_roles([Recorder("drain", log), Recorder("probe", log, fails=True)],
                              signals=False))
    assert log[-2:] == ["close probe", "close drain"]
    assert "cancelled drain" in log


def test_a_role_that_ignores_stop_is_cancelled_after_the_timeout() -> None:
    log: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        stop.set()
        await run_roles([Recorder("drain", log), Recorder("stuck", log, ignores_stop=True)],
                        stop, timeout_s=0.2, signals=False)

    asyncio.run(scenario())
    assert log[-4:] == ["cancelled stuck", "stopped drain", "close stuck", "close drain"]
