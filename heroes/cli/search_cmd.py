"""``heroes search QUERY``: the query-string syntax, a table for people or the JSON shape.

``--since``/``--until`` take the one time syntax of :mod:`config.timespec` (``7d``,
``now-12h``, ISO 8601), as the query string, the console's ``from``/``to`` and alert rules do.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from config.timespec import parse_time
from documents import KINDS
from errors import QueryError
from heroes.cli.app import Context, main, pass_context, run_async
from index.store import Store
from query.model import Bool, Range, Search, SortField
from query.querystring import parse_query_string

# What a person wants to see first for each kind.
COLUMNS = {
    "page": ("fetched_at", "url", "title"),
    "service": ("host", "last_seen", "up", "title"),
    "observation": ("infohash", "ip", "port", "client", "level", "last_seen"),
    "torrent": ("infohash", "name", "total_size"),
    "hash": ("list", "type", "value", "category"),
    "alert": ("created_at", "rule", "severity", "status", "summary"),
}


@main.command("search")
@click.argument("query", default="")
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default="page",
    show_default=True,
    help="Which kind of document to search.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option(
    "--sort", "sort_by", default=None, help="Sort by FIELD or FIELD:asc|desc (default: relevance)."
)
@click.option("--since", metavar="TIME", default=None,
              help="Only documents of this time or later (the kind's own time field): "
                   "7d, now-12h, 2026-11-28 or 2026-11-28T12:00Z.")
@click.option("--until", metavar="TIME", default=None,
              help="Only documents before this time (same syntax as --since).")
@click.option("--json", "as_json", is_flag=True, help="Print the result shape as JSON.")
@pass_context
@run_async
async def search(
    ctx: Context, query: str, kind: str, limit: int, sort_by: str | None, since: str | None,
    until: str | None, as_json: bool,
) -> None:
    """Search the index with the query-string syntax, e.g. 'btc:1A1z… AND title:"market"'.

    Like Kibana's: '*' matches everything, 'field:*' finds documents with the field, a
    trailing wildcard completes a word or value (title:mark*, host:abc*), dates take
    now-7d or ISO 8601 (fetched_at:>now-7d).
    """
    sort: tuple[SortField, ...] = ()
    if sort_by:
        field, _, order = sort_by.partition(":")
        if order not in ("", "asc", "desc"):
            raise click.BadParameter(
                f"order must be asc or desc, got {order!r}", param_hint="--sort"
            )
        sort = (SortField(field, order or "desc"),)  # type: ignore[arg-type]
    parsed = parse_query_string(query, kind)
    if since or until:
        window = Range(KINDS[kind].TIME_FIELD, gte=_time("--since", since),
                       lt=_time("--until", until))
        parsed = Bool(must=(parsed,), filter=(window,))
    request = Search(kind=kind, query=parsed, size=limit, sort=sort)
    result = await Store(ctx.settings).search(request)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    total = result["hits"]["total"]["value"]
    hits = result["hits"]["hits"]
    click.echo(f"{total} {kind} documents match" + (f"; showing {len(hits)}" if hits else ""))
    for hit in hits:
        click.echo("  " + "  ".join(_cell(hit["_source"].get(c)) for c in COLUMNS[kind]))


def _time(option: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text)
    except QueryError as exc:
        raise QueryError(f"{option}: {exc}") from None


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 70 else text[:69] + "…"
