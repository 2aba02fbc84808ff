"""``heroes export misp|stix``: one alert, service, infohash or cluster for other systems.

Reads ``[exchange]`` (TLP, tags, producer, whether peers leave) and the index.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from config.sections.exchange import TLP_LEVELS
from exchange.collect import collect
from exchange.errors import ExchangeError
from exchange.facts import Facts
from heroes.cli.app import Context, fail, main, pass_context, run_async
from index.store import Store


@main.group("export")
def export_group() -> None:
    """Export an alert, service, infohash or cluster as a MISP event or a STIX 2.1 bundle.

    Observed peers are exported only where [exchange] include_peers allows it.
    """


def _subject_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--alert", "alert", help="An alert, by its id."),
        click.option("--service", "service", help="An onion service, by its address."),
        click.option("--infohash", "infohash", help="A torrent, by its infohash or magnet link."),
        click.option("--cluster", "cluster", help="A cluster, by its cluster id."),
        click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
                     help="File to write ('-': standard output)."),
        click.option("--tlp", type=click.Choice(TLP_LEVELS),
                     help="TLP marking (default: [exchange] tlp)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _subject(given: dict[str, str | None]) -> tuple[str, str]:
    named = [(kind, key) for kind, key in given.items() if key is not None]
    if len(named) != 1:
        fail("name exactly one of --alert, --service, --infohash, --cluster")
    return named[0]


async def _facts(ctx: Context, kind: str, key: str) -> Facts:
    settings = ctx.settings
    store = Store(settings)
    try:
        async with store.reader() as backend:
            return await collect(backend, kind, key, settings.exchange)
    except ExchangeError as exc:
        fail(str(exc))
    finally:
        store.close()


def _write(out: str, text: str) -> None:
    if out == "-":
        sys.stdout.write(text)
        return
    path = Path(out)
    tmp = ""
    try:  # whole or not at all: a half-written event is worse than none
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        fail(f"{out}: cannot write: {exc.strerror or exc}")


def _summary(fmt: str, out: str, facts: Facts, tlp: str) -> None:
    if out != "-":
        click.echo(f"{fmt} export of {facts.subject.kind} {facts.subject.key}: "
                   f"{facts.count()} values, {len(facts.peers)} peers, TLP:{tlp.upper()} "
                   f"-> {out}")


@export_group.command("misp")
@_subject_options
@pass_context
@run_async
async def misp_cmd(ctx: Context, out: str, tlp: str | None, **given: str | None) -> None:
    """A MISP event (JSON) built from pymisp objects, tagged with its TLP."""
    from exchange.misp_export import build_event, event_json  # pymisp loads with its command

    await _export(ctx, out, tlp, given, "MISP", lambda facts, **kw: event_json(
        build_event(facts, **kw)))


@export_group.command("stix")
@_subject_options
@pass_context
@run_async
async def stix_cmd(ctx: Context, out: str, tlp: str | None, **given: str | None) -> None:
    """A STIX 2.1 bundle: indicators, observables, relationships, TLP markings."""
    from exchange.stix_export import build_bundle, bundle_json  # stix2 loads with its command

    await _export(ctx, out, tlp, given, "STIX", lambda facts, **kw: bundle_json(
        build_bundle(facts, **kw)))


async def _export(ctx: Context, out: str, tlp: str | None, given: dict[str, str | None],
                  label: str, render: Callable[..., str]) -> None:
    kind, key = _subject(given)
    facts = await _facts(ctx, kind, key)
    exchange = ctx.settings.exchange
    tlp = tlp or exchange.tlp
    _write(out, render(facts, tlp=tlp, producer=exchange.producer, tags=exchange.tags))
    _summary(label, out, facts, tlp)
