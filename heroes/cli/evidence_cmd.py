"""``heroes evidence export|verify``: court bundles of one infohash's observations."""

from __future__ import annotations

import json
from pathlib import Path

import click

from heroes.cli.app import EXIT_PROBLEMS, Context, fail, main, pass_context
from monitors.errors import EvidenceError
from monitors.evidence import export, verify
from monitors.probe import config_hash


@main.group("evidence")
def evidence_group() -> None:
    """Export and verify evidence bundles from the probes' hash-chained logs."""


@evidence_group.command("export")
@click.option("--infohash", required=True, help="The infohash (v1 or v2 hex) to export.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) directory for the bundle.")
@click.option("--probe-id", "probe_ids", multiple=True,
              help="Only this probe's log (repeatable; default: every probe's log).")
@pass_context
def export_cmd(ctx: Context, infohash: str, out: Path, probe_ids: tuple[str, ...]) -> None:
    """Write records.jsonl, manifest.json and SHA256SUMS for INFOHASH into OUT."""
    settings = ctx.settings
    folder = Path(settings.data_dir) / "evidence"
    logs = ([folder / f"{p}.chain.jsonl" for p in probe_ids] if probe_ids
            else sorted(folder.glob("*.chain.jsonl")))
    missing = [str(p) for p in logs if not p.exists()]
    if missing or not logs:
        fail(f"no evidence log at {', '.join(missing) or str(folder)!r}")
    try:
        manifest = export(logs, infohash, out, config_hash=config_hash(settings))
    except EvidenceError as exc:
        fail(str(exc), EXIT_PROBLEMS)
    click.echo(json.dumps(manifest, indent=1))


@evidence_group.command("verify")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_cmd(bundle: Path) -> None:
    """Check a bundle: exit 0 when untouched, 1 naming the first bad record or file."""
    report = verify(bundle)
    for problem in report.problems:
        click.echo(problem, err=True)
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)
    click.echo(f"ok: {report.records} records, chain, manifest and SHA256SUMS intact")
