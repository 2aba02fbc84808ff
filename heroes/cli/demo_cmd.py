"""``heroes demo``: the whole pipeline, offline, on the lab world (``--quick``: a sample)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from types import FrameType

import click

from heroes.cli.app import (
    EXIT_DEPENDENCY,
    EXIT_INTERRUPTED,
    EXIT_PROBLEMS,
    Context,
    fail,
    main,
    pass_context,
)
from heroes.demo import DEFAULT_BASE_PORT


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so the lab world is brought down.
    raise KeyboardInterrupt


@main.command("demo")
@click.option(
    "--quick", is_flag=True, help="Only ingest a generated sample and search it (no lab world)."
)
@click.option(
    "--data-dir",
    "demo_data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Same as the root option (so `heroes demo --data-dir DIR` works too). Must be empty "
    "or hold an earlier demo, whose results are replaced.",
)
@click.option(
    "--base-port",
    type=click.IntRange(1024, 60000),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="First of the 520 ports the lab's Tor network and sites use.",
)
@pass_context
def demo(ctx: Context, quick: bool, demo_data_dir: Path | None, base_port: int) -> None:
    """Bring the lab world up, crawl, probe, send alerts and search; then bring it down.

    Eight steps, each bounded in time; the lab world is always brought down at the end,
    also after a failure or Ctrl-C. Exit 1 names the step that failed.
    """
    from heroes.demo import DemoFailed, run_full, run_sample

    if demo_data_dir is not None:
        ctx.data_dir = str(demo_data_dir)
    settings = ctx.settings
    if quick:
        asyncio.run(run_sample(settings, click.echo))
        return
    from heroes.lab.extra import LabExtraMissing, require

    try:
        require()
    except LabExtraMissing as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        run_full(Path(settings.data_dir), say=click.echo, base_port=base_port,
                 log_level=settings.log_level)  # the root options' level, -v included
    except DemoFailed as exc:
        fail(str(exc), EXIT_PROBLEMS)
    except KeyboardInterrupt:
        click.echo("interrupted; the lab world was brought down", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
