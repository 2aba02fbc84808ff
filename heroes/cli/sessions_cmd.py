"""``heroes sessions import|list|remove``: sessions analysts hold on onion services.

``import ONION FILE --analyst NAME`` reads a Netscape ``cookies.txt`` or a browser
exporter's JSON (for example one made in Tor Browser after solving a captcha), stores the
cookies encrypted (``crawler.sessions_key``) and records the import in the audit log with
the analyst's name; the next crawl of that onion uses them on their own Tor circuit. Bad
lines are named and refused, the good cookies kept (exit 2 when any line was refused).
Reads ``data_dir`` and ``[crawler]`` sessions_key, sessions_key_file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from crawler.sessions.audit import record
from crawler.sessions.cookies import CookieFileError, parse_cookie_file
from crawler.sessions.store import SessionKeyError, SessionStore
from heroes.cli.app import EXIT_DEPENDENCY, EXIT_USER, Context, fail, main, pass_context


def _store(ctx: Context) -> SessionStore:
    try:
        return SessionStore(ctx.settings)
    except SessionKeyError as exc:
        fail(str(exc))


@main.group("sessions")
def sessions_group() -> None:
    """Sessions (cookies) analysts hold on onion services, stored encrypted."""


@sessions_group.command("import")
@click.argument("onion")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--analyst", required=True, help="Who supplied the session (for the audit log).")
@pass_context
def import_(ctx: Context, onion: str, file: Path, analyst: str) -> None:
    """Import the cookies in FILE (cookies.txt or exporter JSON) as a session for ONION."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    host = onion.strip().lower().removeprefix("http://").removeprefix("https://").rstrip("/")
    try:
        cookies, problems = parse_cookie_file(text, host)
    except CookieFileError as exc:
        fail(f"{file}: {exc}")
    store = _store(ctx)
    try:
        session = store.add(host, cookies, analyst=analyst)
    finally:
        store.close()
    record(ctx.settings, "session_import", user=analyst, onion=host, session=session.id,
           cookies=len(cookies))
    click.echo(f"session {session.id} for {host}: {len(cookies)} cookies, supplied by "
               f"{analyst}")
    if problems:
        for problem in problems:
            click.echo(f"{file}: {problem}", err=True)
        raise click.exceptions.Exit(EXIT_USER)


@sessions_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    """List sessions (never their cookie values)."""
    store = _store(ctx)
    try:
        sessions = store.all()
    except SessionKeyError as exc:
        fail(str(exc), EXIT_DEPENDENCY)
    finally:
        store.close()
    for s in sessions:
        if as_json:
            click.echo(json.dumps(s.summary()))
            continue
        made = datetime.fromtimestamp(s.created_at, UTC).isoformat(timespec="seconds")
        click.echo(f"{s.id}  {s.onion}  {s.state:8}  {len(s.cookies)} cookies  "
                   f"by {s.analyst}  {made}")


@sessions_group.command("remove")
@click.argument("key")
@click.option("--analyst", required=True, help="Who removes it (for the audit log).")
@pass_context
def remove(ctx: Context, key: str, analyst: str) -> None:
    """Remove session KEY (an id), or every session of onion KEY."""
    store = _store(ctx)
    try:
        removed = store.remove(key.strip().lower())
    finally:
        store.close()
    if not removed:
        fail(f"no session {key!r}")
    record(ctx.settings, "session_remove", user=analyst, sessions=removed)
    click.echo(f"removed {len(removed)} session(s)")
