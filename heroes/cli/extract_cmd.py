"""``heroes extract FILE.html``: run the crawler's extraction on a page saved by other means.

Prints the access state (content, or the challenge the page is: queue, captcha, login,
rate-limited, js-required, with why), title, language, links, media URLs and the validated
entities grouped by type, and the pivots the page carries in itself (``dom``, ``analytics``,
``pgp_keyid``; the favicon, header, certificate and EXIF pivots need the live service); with
``--json`` one JSON object (``access``: ``{"state", "why"}``, ``pivots``: name -> values).
Reads no settings (the extraction has none).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from crawler.access.classify import classify
from crawler.extract.page import extract_page
from heroes.cli.app import UserError, main


@main.command("extract")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", help="The page's original URL, to resolve relative links. "
              "Default: the file's own file:// URL (relative links then stay file:// and "
              "are left out, like every non-HTTP link).")
@click.option("--charset", help="Charset the page was served with, when the file does not say.")
@click.option("--status", type=click.IntRange(100, 599), default=200, show_default=True,
              help="HTTP status the page was served with (for the access state).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def extract(file: Path, url: str | None, charset: str | None, status: int,
            as_json: bool) -> None:
    """Extract title, language, links, entities (onions, emails, btc, xmr, eth, pgp,
    phones, magnets, infohashes) and pivots (DOM hash, analytics ids, PGP key ids) from
    FILE."""
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise UserError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    headers = {"Content-Type": f"text/html; charset={charset}"} if charset else None
    page_url = url or file.resolve().as_uri()
    page = extract_page(page_url, body, headers)
    access = classify(status, headers, body, page_url)
    if as_json:
        click.echo(json.dumps({"file": str(file), "access": access.to_dict(), **page.to_dict()},
                              indent=2, ensure_ascii=False))
        return
    click.echo(f"access:   {access.state} ({access.why})")
    click.echo(f"title:    {page.title}")
    click.echo(f"language: {page.lang or '(unsure)'}")
    click.echo(f"charset:  {page.charset}")
    click.echo(f"links:    {len(page.links)}")
    for link in page.links:
        click.echo(f"  {link}")
    click.echo(f"media:    {len(page.media_urls)}")
    for media in page.media_urls:
        click.echo(f"  {media}")
    for kind, values in page.entities.items():
        if values:
            click.echo(f"{kind}: {len(values)}")
            for value in values:
                click.echo(f"  {value}")
    for name, values in page.pivots.items():
        click.echo(f"pivot {name}: {len(values)}")
        for value in values:
            click.echo(f"  {value}")
