"""``heroes crawl``: crawl onion services through Tor into the index; ``heroes crawl status``.

``heroes crawl [SEEDS]...`` is ``heroes crawl run [SEEDS]...`` (the group passes anything that
is not a subcommand to ``run``). With ``--forever`` the crawl is the service: it runs until
SIGTERM/SIGINT (then the pages in flight finish, the leases go back, exit 0) and re-checks
every known service (:mod:`crawler.service`). The summary (and ``--json``) is the result, on
stdout; progress is information, logged at INFO on stderr, so it shows with ``-v`` only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from config import Settings
from errors import BackendUnavailable
from heroes.cli.app import (
    EXIT_DEPENDENCY,
    EXIT_INTERRUPTED,
    EXIT_USER,
    Context,
    fail,
    main,
    pass_context,
)
from heroes.metrics import with_metrics
from heroes.roles import Role, run_roles
from index.store import DrainRole, Store
from telemetry.service import MetricsListenError

log = logging.getLogger(__name__)

# Requests in flight finish, then the drain indexes what the crawl left in the spool.
STOP_TIMEOUT_S = 120.0


def _due_seeds(settings: Settings) -> list[str]:
    from crawler.known_services import known_services
    from crawler.recrawl import due_services

    async def known() -> list[Any]:
        store = Store(settings)
        try:
            return [service async for service in known_services(store)]
        finally:
            store.close()

    hosts = due_services(asyncio.run(known()), datetime.now(UTC), settings.crawler)
    return [f"http://{host}/" for host in hosts]


def progress(p: dict[str, Any]) -> None:
    """Log one progress report of the crawl (pages, services, errors, rate, elapsed)."""
    log.info("pages %s  services %s  errors %s  %s pages/s  %s s",
             p["pages"], p["hosts"], p["errors"], p["rate"], p["elapsed_s"])


def _drained(drain: DrainRole) -> str:
    if drain.drainer is None:
        return "another process holds the index writer and will index the pages"
    rejected = f", {drain.rejected} set aside" if drain.rejected else ""
    return f"indexed {drain.drained - drain.rejected} documents{rejected}"


class CrawlGroup(click.Group):
    """A group whose default subcommand is ``run``: ``crawl SEED`` is ``crawl run SEED``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            args = ["run"]
        elif args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group("crawl", cls=CrawlGroup)
def crawl_group() -> None:
    """Crawl onion services through Tor (run, the default) and show the crawl (status).

    'heroes crawl SEEDS...' is 'heroes crawl run SEEDS...'; 'heroes crawl run --forever' is
    the crawl service, and 'heroes crawl status' shows what it does.
    """


@crawl_group.command("run")
@click.argument("seeds", nargs=-1)
@click.option(
    "--seeds",
    "seeds_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File with one seed URL per line (# comments allowed).",
)
@click.option(
    "--job",
    help="Job name: the frontier is kept in DATA_DIR/crawl-jobs/NAME, so a "
    "killed crawl continues where it stopped when rerun with the same name.",
)
@click.option("--max-pages", type=click.IntRange(1), help="Stop after this many responses.")
@click.option(
    "--recrawl",
    is_flag=True,
    help="Re-check the known services that are due (dead ones back off), front pages only.",
)
@click.option(
    "--forever",
    is_flag=True,
    help="Run as the crawl service until SIGTERM: new services first, every known service "
    "re-checked (crawler.recrawl_interval_h, backing off to crawler.max_recheck_s), deep "
    "pages fetched again every crawler.refetch_interval_s with conditional requests; "
    "unchanged pages are not indexed again. The job defaults to 'service'.",
)
@click.option("--no-drain", is_flag=True, help="Leave the pages in the spool for the index writer.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def crawl(
    ctx: Context,
    seeds: tuple[str, ...],
    seeds_file: Path | None,
    job: str | None,
    max_pages: int | None,
    recrawl: bool,
    forever: bool,
    no_drain: bool,
    as_json: bool,
) -> None:
    """Crawl onion services from SEEDS (and crawler.seeds, --seeds FILE) through Tor.

    Ends with a summary on stdout; with -v, logs progress (pages, services, errors, rate)
    on stderr. Pages and
    services go to the spool; unless another process holds the index writer, this command
    indexes them while it crawls, so 'heroes search' finds them. Several processes on one
    frontier (frontier.backend = "redis", or frontier.scope = "shared") share the work.
    """
    from crawler.errors import TorUnavailable
    from crawler.run import CrawlRole, job_dir, run_on_scrapy_loop
    from crawler.seeds import SeedError, check_seeds, read_seed_file

    settings = ctx.settings
    try:
        values = [(f"crawler.seeds[{i}]", s) for i, s in enumerate(settings.crawler.seeds)]
        values += [(f"argument {i + 1}", s) for i, s in enumerate(seeds)]
        if seeds_file is not None:
            values += read_seed_file(seeds_file)
        urls = check_seeds(values, settings.crawler.allow_clearnet)
        if job:
            job_dir(settings, job)
    except (SeedError, ValueError) as exc:
        fail(str(exc), EXIT_USER)
    if forever and (recrawl or max_pages):
        fail("--forever re-checks on its own schedule: it takes neither --recrawl nor "
             "--max-pages", EXIT_USER)
    if recrawl:
        urls = list(dict.fromkeys([*urls, *_due_seeds(settings)]))
        # A re-check fetches front pages only.
        settings = settings.model_copy(
            update={"crawler": settings.crawler.model_copy(update={"max_depth": 0})}
        )
        if not urls:
            click.echo("no service is due for a re-check")
            return
    known_job = bool(job) and (job_dir(settings, job or "") / "job.sqlite").exists()
    if not forever and not urls and not known_job:
        fail("no seeds: give SEEDS, --seeds FILE or crawler.seeds", EXIT_USER)

    store = Store(settings)
    crawl = CrawlRole(settings, urls, job=job, max_pages=max_pages, progress=progress,
                      forever=forever)
    drain = store.drain_role()
    # The drain opens first and closes last: it indexes the pages while the crawl runs, and
    # what is left once the crawl ended.
    own: list[Role] = [crawl] if no_drain else [drain, crawl]
    if forever:
        from crawler.service import ServiceScanRole

        own.insert(len(own) - 1, ServiceScanRole(settings, crawl.job_name,
                                                 crawl.directory / "job.sqlite"))
    roles: list[Role] = with_metrics(settings, store, own)
    try:
        run_on_scrapy_loop(
            settings, lambda: run_roles(roles, until=[crawl], timeout_s=STOP_TIMEOUT_S)
        )
    except (TorUnavailable, BackendUnavailable) as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    except MetricsListenError as exc:
        fail(str(exc), EXIT_USER)
    finally:
        store.close()
    summary = crawl.summary
    if summary is None:
        fail("the crawl was interrupted before it finished", EXIT_INTERRUPTED)
    drained = "" if no_drain else _drained(drain)
    if as_json:
        click.echo(json.dumps({**summary.to_json(), "drain": drained}, indent=2))
        return
    click.echo(
        f"job {summary.job}: {summary.pages} pages, {summary.page_errors} failed, "
        f"{summary.services} services ({summary.services_up} up), "
        f"{summary.media_hashed} media hashed, {summary.unchanged} unchanged, "
        f"{summary.seconds} s "
        f"({summary.finish_reason})"
    )
    if summary.skipped:
        click.echo(
            "not fetched: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items()))
        )
    if drained:
        click.echo(drained)


@crawl_group.command("status")
@click.option("--job", help="The crawl job whose frontier to show (default: the service's).")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_context
def status(ctx: Context, job: str | None, as_json: bool) -> None:
    """Show the crawl: services by state (up, down, dead, new), the frontier's queue sizes,
    leased URLs and their crawlers, pages/min, the oldest due item, the longest host queues.
    """
    from crawler.run import SERVICE_JOB, job_dir
    from crawler.status import crawl_status, render

    settings = ctx.settings
    name = job or SERVICE_JOB
    try:
        directory = job_dir(settings, name)
    except ValueError as exc:
        fail(str(exc), EXIT_USER)
    try:
        result = asyncio.run(crawl_status(settings, name, directory / "job.sqlite"))
    except BackendUnavailable as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else render(result))
