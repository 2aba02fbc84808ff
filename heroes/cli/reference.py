"""Render the ``--help`` of every command as Markdown (docs/cli.md, kept current by a test).

Regenerate with ``python -m heroes.cli.reference > docs/cli.md``.
"""

from __future__ import annotations

import click

from heroes.cli import main


def _walk(
    command: click.Command, path: list[str], out: list[str], parent: click.Context | None = None
) -> None:
    # Each context chains to its parent, as when the command runs, so that inherited
    # settings (the -h alias of --help) read the same in the docs as on the command line.
    settings = dict(command.context_settings)
    if parent is None:
        settings.update(terminal_width=100, max_content_width=100)
    ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
    out.append(f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`\n")
    out.append("```\n" + command.get_help(ctx).rstrip() + "\n```\n")
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _walk(sub, [*path, name], out, ctx)


def render_reference() -> str:
    out = ["# Command reference\n", "Generated from `heroes --help`; do not edit by hand.\n"]
    _walk(main, ["heroes"], out)
    return "\n".join(out)


if __name__ == "__main__":
    click.echo(render_reference(), nl=False)
