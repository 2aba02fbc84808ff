"""``heroes keys init|export-public|rotate|show``: the installation's evidence signing key."""

from __future__ import annotations

from pathlib import Path

import click

from evidence.errors import EvidenceError
from evidence.keys import (
    SigningKey,
    chain_path,
    init_key,
    load_signing_key,
    public_pem,
    resolve,
    rotate_key,
)
from heroes.cli.app import Context, fail, main, pass_context


def signing_key(ctx: Context) -> SigningKey:
    """The configured key, or exit 2 saying how to make one."""
    try:
        return load_signing_key(ctx.settings.evidence.signing_key_file)
    except EvidenceError as exc:  # KeyMissing says how to make one
        fail(str(exc))


@main.group("keys")
def keys_group() -> None:
    """The Ed25519 key that signs this installation's evidence logs."""


@keys_group.command("init")
@pass_context
def init_cmd(ctx: Context) -> None:
    """Make the signing key at evidence.signing_key_file (never overwrites one).

    Keep the key outside the data directory and out of any repository; set its path with
    HEROES_EVIDENCE__SIGNING_KEY_FILE or evidence.signing_key_file. Prints the key id
    (SHA-256 of the raw public key) for your records.
    """
    settings = ctx.settings
    path = resolve(settings.evidence.signing_key_file)
    try:
        key = init_key(path, settings.data_dir)
    except EvidenceError as exc:
        fail(str(exc))
    try:
        path.resolve().relative_to(Path(settings.data_dir).resolve())
    except ValueError:
        pass
    else:
        click.echo("warning: the key is inside the data directory; a copy of the data "
                   "directory then carries the key", err=True)
    click.echo(f"key {key.key_id} written to {path} (mode 0600)")


@keys_group.command("export-public")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def export_public_cmd(ctx: Context, file: Path) -> None:
    """Write the public key (PEM, what `openssl pkeyutl -verify -pubin` reads) to FILE."""
    key = signing_key(ctx)
    file.write_bytes(public_pem(key.public))
    click.echo(f"public key {key.key_id} written to {file}")


@keys_group.command("show")
@pass_context
def show_cmd(ctx: Context) -> None:
    """Print the key id of the signing key and where it is."""
    key = signing_key(ctx)
    click.echo(f"{key.key_id}  {key.path}")


@keys_group.command("rotate")
@pass_context
def rotate_cmd(ctx: Context) -> None:
    """Replace the signing key; the old key signs the hand-over to the new one.

    The statement (old key id, new key id and public key, time) is signed by the old key,
    countersigned by the new one and appended to the key chain in the data directory
    (evidence/keys.jsonl), which exports carry so a verifier can follow the keys. The old
    private key is kept beside the new one as *.retired-<key id>; destroy it when no
    running process still uses it. Restart running roles to sign with the new key.
    """
    settings = ctx.settings
    signing_key(ctx)
    try:
        old, new, retired = rotate_key(settings.evidence.signing_key_file, settings.data_dir)
    except EvidenceError as exc:
        fail(str(exc))
    click.echo(f"rotated {old.key_id} -> {new.key_id}; hand-over recorded in "
               f"{chain_path(settings.data_dir)}; old key kept as {retired}")
