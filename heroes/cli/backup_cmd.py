"""``heroes backup`` and ``heroes restore``: consistent copies of a running installation."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evidence.errors import EvidenceError
from evidence.verify import load_trusted_key
from heroes import __version__
from heroes.backup import BackupError, backup, restore
from heroes.cli.app import Context, fail, main, pass_context
from monitors.evidence import settings_sha256


@main.command("backup")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) directory for the backup.")
@click.option("--include-keys", is_flag=True,
              help="Also copy the private evidence signing key (keep such a backup as safe "
                   "as the key itself). Without it only the public key is copied.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def backup_cmd(ctx: Context, out: Path, include_keys: bool, as_json: bool) -> None:
    """Copy the installation into OUT while it runs, with a manifest of SHA-256 checksums.

    SQLite stores are copied with VACUUM INTO (the spool first), the embedded index as its
    last commit (read under tantivy's meta lock, as its readers do; the writer keeps
    writing), sealed evidence logs with their heads under the log's lock, and every other
    file of the data directory as it is. An Elasticsearch index is not copied: use the
    cluster's snapshots.
    """
    settings = ctx.settings
    try:
        report = backup(settings, out, include_keys=include_keys, tool_version=__version__,
                        config_sha256=settings_sha256(settings))
    except BackupError as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({"out": str(report.out), "files": report.files,
                               "stores": report.stores, "index": report.index,
                               "logs": report.logs, "key_id": report.key_id,
                               "private_key": report.private_key, "notes": report.notes}))
        return
    docs = sum(int(part.get("docs", 0)) for part in report.index.values())
    click.echo(f"backup in {report.out}: {report.files} files, {len(report.stores)} stores, "
               f"{docs} indexed documents, {len(report.logs)} evidence logs")
    click.echo(f"signing key {report.key_id}: "
               f"{'private and public' if report.private_key else 'public only'}"
               if report.key_id else "no signing key copied")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


@main.command("restore")
@click.argument("backup_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--data-dir", "target", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) data directory to restore into.")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the private signing key the backup carries here (a new file, mode "
                   "0600); point evidence.signing_key_file at it.")
@click.option("--key", "trusted_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Trust this public key (PEM): the manifest must be signed by it. Without "
                   "it, a signature is checked against the public key in the backup.")
def restore_cmd(backup_dir: Path, target: Path, key_file: Path | None,
                trusted_file: Path | None) -> None:
    """Check BACKUP_DIR against its manifest, then restore it into a new data directory.

    A file changed, missing or added since the backup, or a manifest whose signature does
    not verify, refuses the restore (exit 2, naming the file); nothing is written then.
    Documents that were still spooled are indexed by the next drain.
    """
    try:
        trusted = load_trusted_key(trusted_file) if trusted_file is not None else None
        report = restore(backup_dir, target, key_file=key_file, trusted=trusted)
    except (BackupError, EvidenceError) as exc:
        fail(str(exc))
    manifest = report.manifest
    click.echo(f"restored {report.files} files into {report.data_dir} (backup of "
               f"{manifest.get('created_at')}, heroes {manifest.get('heroes_version')})")
    if report.key_file is not None:
        click.echo(f"signing key written to {report.key_file}")
    elif manifest.get("key_id"):
        click.echo(f"public signing key {manifest['key_id']}: "
                   f"{backup_dir / 'keys' / 'signing-key.pub.pem'}")
