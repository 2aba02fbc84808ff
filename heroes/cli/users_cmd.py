"""``heroes users add|remove|list``: the console's local accounts (there is no default one)."""

from __future__ import annotations

import sys

import click

from heroes.cli.app import Context, fail, main, pass_context
from heroes.console.audit import AuditLog
from heroes.console.users import ROLES, UserError, UserStore


def _store(ctx: Context) -> UserStore:
    return UserStore.for_data_dir(ctx.settings.data_dir, ctx.settings.console)


@main.group("users")
def users_group() -> None:
    """Console users and their roles (analyst, admin)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="analyst or admin.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting.",
)
@click.option("--replace", is_flag=True, help="Set a new password and role for an existing user.")
@pass_context
def add(ctx: Context, name: str, role: str, password_stdin: bool, replace: bool) -> None:
    """Add user NAME with a role; the password is prompted for (or read from stdin).

    NAME is 1-64 letters, digits, '.', '_' or '-'; names are compared ignoring case, so
    'Alice' and 'alice' are one account.
    """
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _store(ctx)
    try:
        user = store.add(name, role, password, replace=replace)
    except UserError as exc:
        fail(str(exc))
    finally:
        store.close()
    AuditLog.for_data_dir(ctx.settings.data_dir).record(
        "user_add", user="(cli)", target=name, role=role
    )
    click.echo(f"user {user.name} ({user.role}) saved")


@users_group.command("remove")
@click.argument("name")
@pass_context
def remove(ctx: Context, name: str) -> None:
    """Remove user NAME and close its sessions."""
    store = _store(ctx)
    try:
        if not store.remove(name):
            fail(f"no user {name!r}")
    finally:
        store.close()
    AuditLog.for_data_dir(ctx.settings.data_dir).record("user_remove", user="(cli)", target=name)
    click.echo(f"user {name} removed")


@users_group.command("list")
@pass_context
def list_users(ctx: Context) -> None:
    """List users and their roles."""
    store = _store(ctx)
    try:
        for user in store.list():
            click.echo(f"{user.name}\t{user.role}")
    finally:
        store.close()
