"""``heroes hunt --list NAME | --rule NAME``: a list or an alert rule over the whole index.

Prints a progress bar with the rate on stderr and the outcome on stdout (``--json`` for
machines). Exit 2 for an unknown list or rule, 3 when the index or the alert database
cannot be reached; interrupted, it resumes where it stopped when run again. Reads the
``hunt``, ``matching``, ``alerts`` sections and ``data_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from alerting.db import alert_db_path
from config import Settings
from heroes.cli.app import Context, fail, main, pass_context, run_async
from index.backends.es_alerts import cluster_alerts_for
from index.hashsets.errors import HashSetError
from index.hashsets.membership import MembershipStore, membership_path
from index.hunt.alerts import RetroAlerter
from index.hunt.checkpoint import Checkpoints, checkpoint_path
from index.hunt.errors import HuntError
from index.hunt.runner import HuntReport, KindReport, run_hunt
from index.hunt.targets import HuntTarget, ListTarget, RuleTarget, hunt_command
from index.store import Store
from index.writer_lock import WriterLock


@main.command("hunt")
@click.option("--list", "list_name", default="", help="Hunt this hash or keyword list.")
@click.option("--rule", "rule_name", default="", help="Back-fill this alert rule.")
@click.option("--restart", is_flag=True, help="Forget how far this hunt got; start again.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
@run_async
async def hunt_cmd(ctx: Context, list_name: str, rule_name: str, restart: bool,
                   as_json: bool) -> None:
    """Run a list or an alert rule over everything already indexed.

    Pages (media hashes, exact and PDQ-near, entities, title and text for keyword lists),
    torrents (infohash, name and file paths) and observations (infohash) are checked;
    each hit is flagged and alerted as retro, with the time its content was first seen.
    Every hit is alerted once, however often the hunt runs. Interrupted, the hunt goes on
    from its last batch when run again; a finished hunt of an unchanged list does nothing.
    """
    if bool(list_name) == bool(rule_name):
        fail("give one of --list NAME or --rule NAME")
    report = await hunt(ctx.settings, list_name=list_name, rule_name=rule_name,
                        restart=restart, show_progress=not as_json)
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        click.echo(report_text(report))


async def hunt(settings: Settings, *, list_name: str = "", rule_name: str = "",
               restart: bool = False, show_progress: bool = True) -> HuntReport:
    """Run one hunt with a progress bar on stderr; user errors exit 2."""
    # One hunt at a time per data directory: two would race for the same checkpoints.
    lock = WriterLock(Path(settings.data_dir) / "hunt.lock")
    if not lock.try_acquire():
        fail(f"another heroes hunt is running on {settings.data_dir} (its pid is in "
             f"{lock.path}); wait for it to end")
    try:
        return await _hunt(settings, list_name=list_name, rule_name=rule_name,
                           restart=restart, show_progress=show_progress)
    finally:
        lock.release()


async def _hunt(settings: Settings, *, list_name: str, rule_name: str, restart: bool,
                show_progress: bool) -> HuntReport:
    members = MembershipStore(membership_path(settings.data_dir))
    checkpoints = Checkpoints(checkpoint_path(settings.data_dir))
    store = Store(settings)
    alerter = RetroAlerter(settings.alerts, alert_db_path(settings.data_dir), store.append,
                           cluster=cluster_alerts_for(settings))
    bar = _Bar(show_progress)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGTERM ends the hunt after the batch in hand (a thread other than the main one,
    # as under a test runner, cannot take signals: there the hunt runs to its end).
    with contextlib.suppress(ValueError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        try:
            target: HuntTarget = (
                ListTarget(members, list_name, settings.matching, settings.alerts)
                if list_name else RuleTarget(rule_name, settings.alerts)
            )
        except (HuntError, HashSetError) as exc:
            fail(str(exc))
        for kind_type in getattr(target, "unhunted", []):
            click.echo(f"warning: {target.label}: {kind_type} values are not hunted",
                       err=True)
        if restart:
            checkpoints.forget(target.key)
        async with store.reader() as backend:
            return await run_hunt(target, backend, checkpoints, alerter, store.append,
                                  settings.hunt, progress=bar.update, stop=stop)
    finally:
        with contextlib.suppress(ValueError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        bar.close()
        alerter.close()
        store.close()
        checkpoints.close()
        members.close()


class _Bar:
    """Progress on stderr, with the rate and the hits so far: a bar per document kind on a
    terminal, else (a log file, a journal) one line at most every ``LINE_EVERY_S``."""

    LINE_EVERY_S = 5.0

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.kind = ""
        self.bar: Any = None
        self.shown = 0
        self.said_at = 0.0

    def update(self, kr: KindReport, rate: float) -> None:
        if not self.enabled:
            return
        total = max(kr.total, kr.scanned, 1)
        if not self.tty:
            now = time.monotonic()
            if now - self.said_at >= self.LINE_EVERY_S or kr.scanned >= total:
                self.said_at = now
                click.echo(f"{kr.kind}: {kr.scanned}/{total} ({100 * kr.scanned // total}%), "
                           f"{rate:,.0f}/s, {kr.hits} hits", err=True)
            return
        if kr.kind != self.kind:
            self.close()
            self.kind = kr.kind
            self.bar = click.progressbar(length=total, label=f"{kr.kind:<11}", file=sys.stderr,
                                         show_pos=True, item_show_func=lambda text: text)
            self.bar.__enter__()
            self.shown = 0
        step = max(0, kr.scanned - self.shown)
        self.shown += step
        self.bar.update(step, f"{rate:,.0f}/s, {kr.hits} hits")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def report_json(report: HuntReport) -> dict[str, object]:
    return {
        "hunt": report.label,
        "key": report.key,
        "already_done": report.already_done,
        "resumed": report.resumed,
        "hits": report.hits,
        "scanned": report.scanned,
        "alerts": report.alerts,
        "invalid": report.invalid,
        "seconds": round(report.seconds, 3),
        "kinds": [asdict(k) for k in report.kinds.values()],
    }


def report_text(report: HuntReport) -> str:
    if report.already_done:
        return (f"{report.label}: already hunted over the index and unchanged since "
                f"({report.hits} hits); --restart hunts again")
    lines = [f"{report.label}: {report.hits} hits, "
             f"{report.alerts} alerts raised or joined (retro)"
             + (" (resumed)" if report.resumed else "")]
    for k in report.kinds.values():
        state = "done" if k.done else "stopped, run again to go on"
        verb = "values looked up" if k.unit == "values" else "scanned"
        lines.append(f"  {k.kind:<11} {k.scanned:>9} {verb} {k.hits:>7} hits  {state}")
    if report.invalid:
        lines.append(f"  {report.invalid} documents no longer valid were skipped (see the log)")
    return "\n".join(lines)


def offer_hunt(settings: Settings, list_name: str, start: bool) -> None:
    """After an import: hunt the list now (``start``), or print the command that does."""
    if not start:
        click.echo(f"to look for its values in what is already indexed: "
                   f"{hunt_command(list_name)}")
        return
    report = run_async(hunt)(settings, list_name=list_name)
    click.echo(report_text(report))
