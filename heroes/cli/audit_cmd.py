"""``heroes audit export|verify``: the console's sealed audit log."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from config.timespec import parse_time
from errors import QueryError
from evidence.check import check_log, trusted_keys
from evidence.errors import EvidenceError
from evidence.keys import KeyChain, chain_path
from evidence.registry import AUDIT
from evidence.verify import load_trusted_key
from heroes.cli.app import EXIT_PROBLEMS, Context, fail, main, pass_context
from heroes.cli.keys_cmd import signing_key
from heroes.console.audit import AuditLog


@main.group("audit")
def audit_group() -> None:
    """Read and check the audit log of console accesses."""


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except QueryError as exc:
        fail(f"--since: {exc}")


@audit_group.command("export")
@click.option("--since", default=None,
              help="Only records at or after this time: ISO 8601 (UTC unless an offset is "
                   "given) or relative (7d, now-12h).")
@click.option(
    "--output", "-o", type=click.File("w"), default="-", help="Write here (default stdout)."
)
@pass_context
def export(ctx: Context, since: str | None, output: click.utils.LazyFile) -> None:
    """Write audit records as JSON lines, each with its leaf hash."""
    log = AuditLog.for_data_dir(ctx.settings.data_dir, ctx.settings.evidence)
    count = 0
    for record in log.records(_since(since)):
        output.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    click.echo(f"{count} records", err=True)


@audit_group.command("verify")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Trust this public key (PEM) instead of the installation's signing key.")
@pass_context
def verify(ctx: Context, key_file: Path | None) -> None:
    """Check the audit log against its signed heads: exit 1 naming the record that was
    deleted, edited, inserted or moved; unsealed records are reported, not verified."""
    settings = ctx.settings
    if key_file is not None:
        try:
            anchor = load_trusted_key(key_file)
        except EvidenceError as exc:
            fail(str(exc))
    else:
        anchor = signing_key(ctx).public
    log = AuditLog.for_data_dir(settings.data_dir, settings.evidence)
    trusted = trusted_keys(KeyChain.load(chain_path(settings.data_dir)), anchor)
    report = check_log(AUDIT, log.path, trusted)
    for problem in report.problems:
        click.echo(f"{problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)
    click.echo(f"{log.path}: {report.records} records, {report.sealed} sealed by "
               f"{report.heads} signed heads, {report.unsealed} unsealed; the sealed records "
               "hold")
