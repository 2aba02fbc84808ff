"""``heroes serve``: the analyst console (``--get PATH`` answers one request in-process)."""

from __future__ import annotations

import sys

import click

from heroes.cli.app import Context, main, pass_context, run_async
from heroes.metrics import with_metrics
from heroes.roles import run_roles


@main.command("serve")
@click.option(
    "--host", default=None, help="Address to listen on (default: [console] host, 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="Port (default: [console] port, 8080).")
@click.option(
    "--get",
    "get_path",
    metavar="PATH",
    default=None,
    help="Answer GET PATH in-process, print the response and exit (a smoke check).",
)
@click.option(
    "--user",
    "as_user",
    default=None,
    metavar="NAME",
    help="With --get: act as this existing user (the request is audited as NAME).",
)
@pass_context
@run_async
async def serve(
    ctx: Context, host: str | None, port: int | None, get_path: str | None, as_user: str | None
) -> None:
    """Serve the analyst console and its JSON API (every asset served locally)."""
    settings = ctx.settings
    if get_path is not None:
        from heroes.console.smoke import get

        status, body = await get(settings, get_path, as_user)
        click.echo(body)
        if status >= 400:
            raise SystemExit(1)
        return
    from heroes.console.app import ConsoleRole

    host = host or settings.console.host
    port = settings.console.port if port is None else port
    try:
        console = ConsoleRole(settings, host, port)
        click.echo(f"console on http://{host}:{port}/ (Ctrl-C stops)")
        await run_roles(with_metrics(settings, console.store, [console]))
    except OSError as exc:
        click.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        sys.exit(3)
