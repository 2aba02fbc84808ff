"""``heroes demo``: the whole pipeline, offline, on the lab world."""

from __future__ import annotations

import click

from heroes.cli.app import Context, main, pass_context, run_async
from heroes.demo import run_demo


@main.command("demo")
@click.option("--quick", is_flag=True, help="Only ingest a generated sample and search it (no lab world).")
@pass_context
@run_async
async def demo(ctx: Context, quick: bool) -> None:
    """Bring the lab world up, crawl it, probe its swarm, raise alerts, search; then bring it down."""
    await run_demo(ctx.settings, quick=quick, say=click.echo)
