"""``heroes lab up|down|status``: the lab world (private Tor network, onion sites, swarm,
SMTP sink). Needs the ``heroes[lab]`` extra (:mod:`heroes.lab.extra`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from heroes.cli.app import EXIT_DEPENDENCY, Context, fail, main, pass_context

DEFAULT_DIR = "lab"


DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Lab directory (keys, sites, logs). Default: DATA_DIR/lab.",
)


def _lab_dir(ctx: Context, directory: str | None) -> Path:
    # The lab lives beside the installation's data unless a directory is given.
    return Path(directory) if directory else Path(ctx.settings.data_dir) / DEFAULT_DIR


@main.group("lab")
def lab_group() -> None:
    """The offline lab world on 127.0.0.1: Tor network with onion sites, BitTorrent swarm."""


@lab_group.command("up")
@DIR_OPTION
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generated sites.")
@click.option(
    "--base-port",
    type=click.IntRange(1024, 60000),
    default=17000,
    show_default=True,
    help="First port of the Tor network; every other port is derived from it.",
)
@click.option(
    "--big-site-pages",
    type=click.IntRange(0, 100_000),
    default=0,
    show_default=True,
    help="Add a service with this many pages (benchmarks).",
)
@click.option("--no-swarm", is_flag=True, help="Start only the Tor half.")
@click.option(
    "--population",
    is_flag=True,
    help="Add the onion population for crawl-service tests: 34 more onions (mirrors, "
    "intermittent, slow, rate-limited, a URL trap, changing pages) and 3 dead addresses.",
)
@pass_context
def up(
    ctx: Context,
    directory: str | None,
    seed: int,
    base_port: int,
    big_site_pages: int,
    no_swarm: bool,
    population: bool,
) -> None:
    """Start the lab world; block until an onion page was fetched; print addresses as JSON."""
    from heroes.lab import world
    from heroes.lab.swarm import SwarmError
    from heroes.lab.tor_config import LabSetupError

    lab_dir = _lab_dir(ctx, directory)
    try:
        result = world.up(
            lab_dir,
            seed=seed,
            base_port=base_port,
            swarm=not no_swarm,
            big_site_pages=big_site_pages,
            population=population,
        )
    except (LabSetupError, SwarmError) as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    click.echo(json.dumps(result, indent=2))


@lab_group.command("down")
@DIR_OPTION
@pass_context
def down(ctx: Context, directory: str | None) -> None:
    """Stop exactly the processes 'heroes lab up' started."""
    from heroes.lab import world

    stopped = world.down(_lab_dir(ctx, directory))
    click.echo(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@lab_group.command("status")
@DIR_OPTION
@pass_context
def status(ctx: Context, directory: str | None) -> None:
    """Print the lab world's state as JSON (exit 1 when it is not running)."""
    from heroes.lab import world

    state = world.status(_lab_dir(ctx, directory))
    click.echo(json.dumps(state, indent=2, default=str))
    if not state.get("running"):
        raise SystemExit(1)
