"""``heroes crawl``: crawl onion services through Tor into the index."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from config import Settings
from heroes.cli.app import EXIT_DEPENDENCY, EXIT_USER, Context, fail, main, pass_context
from heroes.stages import drain_stages
from index.store import Store

log = logging.getLogger(__name__)


def _due_seeds(settings: Settings) -> list[str]:
    from crawler.recrawl import due_services
    from index.documents import parse_document
    from index.query.model import Search

    async def known() -> list[Any]:
        store = Store(settings)
        try:
            result = await store.search(Search(kind="service", size=10_000))
        finally:
            store.close()
        return [parse_document(hit["_source"]) for hit in result["hits"]["hits"]]

    hosts = due_services(asyncio.run(known()), datetime.now(UTC), settings.crawler)
    return [f"http://{host}/" for host in hosts]


def _drain(settings: Settings) -> str:
    async def drain() -> str:
        store = Store(settings)
        lock = store.writer_lock()
        if not lock.try_acquire():
            store.close()
            return "another process holds the index writer and will index the pages"
        lock.release()
        try:
            async with store.writer(drain_stages(settings, store)) as drainer:
                drained = await drainer.drain_all()
        finally:
            store.close()
        return f"indexed {drained} documents"

    return asyncio.run(drain())


@main.command("crawl")
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
    no_drain: bool,
    as_json: bool,
) -> None:
    """Crawl onion services from SEEDS (and crawler.seeds, --seeds FILE) through Tor.

    Shows progress (pages, services, errors, rate) and ends with a summary. Pages and
    services go to the spool; unless another process holds the index writer, this command
    indexes them while it crawls, so 'heroes search' finds them.
    """
    from crawler.errors import TorUnavailable
    from crawler.run import job_dir, run_crawl
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
    if recrawl:
        urls = list(dict.fromkeys([*urls, *_due_seeds(settings)]))
        # A re-check fetches front pages only.
        settings = settings.model_copy(
            update={"crawler": settings.crawler.model_copy(update={"max_depth": 0})}
        )
        if not urls:
            click.echo("no service is due for a re-check")
            return
    if not urls and not (job and (job_dir(settings, job) / "job.sqlite").exists()):
        fail("no seeds: give SEEDS, --seeds FILE or crawler.seeds", EXIT_USER)

    def progress(p: dict[str, Any]) -> None:
        click.echo(
            f"pages {p['pages']}  services {p['hosts']}  errors {p['errors']}  "
            f"{p['rate']} pages/s  {p['elapsed_s']} s",
            err=True,
        )

    async def drain_role(stop: asyncio.Event) -> None:
        store = Store(settings)
        try:
            await store.drain_role(stop, drain_stages(settings, store))
        finally:
            store.close()

    try:
        summary = run_crawl(
            settings,
            urls,
            job=job,
            max_pages=max_pages,
            progress=progress,
            drain=None if no_drain else drain_role,
        )
    except TorUnavailable as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    drained = "" if no_drain else _drain(settings)
    if as_json:
        click.echo(json.dumps({**summary.to_json(), "drain": drained}, indent=2))
        return
    click.echo(
        f"job {summary.job}: {summary.pages} pages, {summary.page_errors} failed, "
        f"{summary.services} services ({summary.services_up} up), "
        f"{summary.media_hashed} media hashed, {summary.seconds} s "
        f"({summary.finish_reason})"
    )
    if summary.skipped:
        click.echo(
            "not fetched: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items()))
        )
    if drained:
        click.echo(drained)
