"""Run long-lived roles side by side: the lifecycle every long-running command shares.

A role (the drain, the alert sender, the probe, the console, the crawl) is an async context
manager that opens what it uses on entry and closes it on exit, and whose ``run(stop)``
works until the stop event is set, then finishes or flushes the batch in hand and returns.
:func:`run_roles` enters the roles in the order given and runs them in one
``asyncio.TaskGroup``. On SIGTERM or SIGINT (or once every role in ``until`` has returned)
it stops them in reverse order, each after the ones entered after it have returned, so
producers stop before the drain that indexes what they spooled; a role that has not
returned ``timeout_s`` after its stop is cancelled (its work stays in the spool). The roles
are exited in reverse order. A role that fails stops the others; its exception is raised
as is. Each role's task logs under its name (``telemetry.logs.ROLE``). Reads no settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

from telemetry.logs import ROLE

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Role(Protocol):
    name: str

    async def __aenter__(self) -> object: ...

    async def __aexit__(self, *exc: object) -> object: ...

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish the batch in hand."""
        ...


async def run_roles(
    roles: Sequence[Role],
    stop: asyncio.Event | None = None,
    *,
    until: Sequence[Role] = (),
    timeout_s: float = 30.0,
    signals: bool = True,
) -> None:
    """Run ``roles`` until ``stop`` (or a signal, or the end of every ``until`` role)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    if signals:
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with contextlib.AsyncExitStack() as opened:
            for role in roles:
                await opened.enter_async_context(role)
            stops = [asyncio.Event() for _ in roles]
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(r.run(own), name=r.name, context=_as_role(r.name))
                         for r, own in zip(roles, stops, strict=True)]
                leaders = [tasks[roles.index(r)] for r in until]
                group.create_task(_supervise(tasks, stops, leaders, stop, timeout_s))
    except BaseExceptionGroup as group_error:
        # One role failed (the others were stopped): its own exception says what happened.
        raise group_error.exceptions[0] from None
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _as_role(name: str) -> contextvars.Context:
    """A context in which the log names ``name`` as the role (its child tasks inherit it)."""
    context = contextvars.copy_context()
    context.run(ROLE.set, name)
    return context


async def _supervise(
    tasks: list[asyncio.Task[None]],
    stops: list[asyncio.Event],
    leaders: list[asyncio.Task[None]],
    stop: asyncio.Event,
    timeout_s: float,
) -> None:
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            if all(t.done() for t in tasks) or (leaders and all(t.done() for t in leaders)):
                stop.set()
                break
            running = [t for t in tasks if not t.done()]
            await asyncio.wait([stopped, *running], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    for task, own in reversed(list(zip(tasks, stops, strict=True))):
        own.set()
        if task.done():
            continue
        await asyncio.wait([task], timeout=timeout_s)
        if not task.done():
            log.error("%s did not stop within %.0f s: cancelled (its work stays in the spool)",
                      task.get_name(), timeout_s)
            task.cancel()
