"""``heroes evidence check|seal|export|verify``: the sealed logs and their exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from evidence.check import check_installation
from evidence.errors import EvidenceError
from evidence.export import Source, export
from evidence.registry import CAPTURE, listed, open_log
from evidence.sealer import Sealer
from evidence.verify import load_trusted_key, verify_export
from heroes import __version__
from heroes.cli.app import EXIT_PROBLEMS, Context, fail, main, pass_context
from heroes.cli.keys_cmd import signing_key
from monitors.errors import EvidenceError as ProbeEvidenceError
from monitors.evidence import export_infohash, settings_sha256


@main.group("evidence")
def evidence_group() -> None:
    """Check, seal, export and verify the signed evidence logs (probe, audit, captures)."""


def _anchor(ctx: Context, key_file: Path | None) -> Ed25519PublicKey:
    if key_file is not None:
        try:
            return load_trusted_key(key_file)
        except EvidenceError as exc:
            fail(str(exc))
    return signing_key(ctx).public


@evidence_group.command("check")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Trust this public key (PEM) instead of the installation's signing key.")
@click.option("--json", "as_json", is_flag=True, help="One JSON report per log.")
@pass_context
def check_cmd(ctx: Context, key_file: Path | None, as_json: bool) -> None:
    """Check every log of the installation against its signed heads.

    Exit 1 naming the record when a sealed record was deleted, edited, inserted or moved,
    or the log was rewritten; records after the newest head are reported as unsealed (not
    verified), which is not a failure.
    """
    anchor = _anchor(ctx, key_file)
    data_dir = Path(ctx.settings.data_dir)
    try:
        reports = check_installation(data_dir, anchor)
    except EvidenceError as exc:
        fail(str(exc))
    if not reports:
        click.echo(f"no sealed log registered under {data_dir}")
    for r in reports:
        if as_json:
            click.echo(json.dumps({"log": r.name, "path": str(r.path), "ok": r.ok,
                                   "records": r.records, "sealed": r.sealed,
                                   "unsealed": r.unsealed, "heads": r.heads,
                                   "problems": r.problems, "notes": r.notes}))
            continue
        state = "ok" if r.ok else "TAMPERED"
        click.echo(f"{r.name}: {state}: {r.records} records, {r.sealed} sealed by {r.heads} "
                   f"head{'s' * (r.heads != 1)}, {r.unsealed} unsealed ({r.path})")
        for problem in r.problems:
            click.echo(f"  problem: {problem}", err=True)
        for note in r.notes:
            click.echo(f"  note: {note}")
    if any(not r.ok for r in reports):
        raise SystemExit(EXIT_PROBLEMS)


@evidence_group.command("seal")
@pass_context
def seal_cmd(ctx: Context) -> None:
    """Sign a head for every log that grew now; timestamp and witness pending heads."""
    signing_key(ctx)
    settings = ctx.settings
    logs = [open_log(settings.data_dir, name, path)
            for name, path in sorted(listed(settings.data_dir).items())]
    sealer = Sealer.from_settings(settings.evidence, logs, data_dir=Path(settings.data_dir))
    for head in sealer.seal_once():
        click.echo(f"{head.log}: head of size {head.size}, root {head.root.hex()}")
    if sealer.failures:
        click.echo(f"{sealer.failures} timestamp/witness step(s) failed; retried next time",
                   err=True)


def _seq_filter(seqs: set[int]) -> Callable[[dict[str, Any]], bool]:
    def matches(record: dict[str, Any]) -> bool:
        return record.get("seq") in seqs

    return matches


def _export_captures(settings: Any, key: Any, kind: str, value: str, out: Path) -> dict[str, Any]:
    """The page captures of a URL or an onion service: their capture-log records (and the
    records sealing their WARC files) with the WARC records themselves attached."""
    import tempfile

    from crawler.warc.select import capture_selection, write_warc

    path = listed(settings.data_dir).get(CAPTURE)
    if path is None:
        fail(f"no capture log registered under {settings.data_dir}")
    selection = capture_selection(settings.data_dir, **{kind: value})
    if selection.empty:
        fail(f"no page capture of {kind} {value!r} in {path}", EXIT_PROBLEMS)
    if selection.unsealed:
        click.echo(f"note: WARC files not sealed into the capture log yet: "
                   f"{', '.join(selection.unsealed)}", err=True)
    log = open_log(settings.data_dir, CAPTURE, path)
    Sealer.from_settings(settings.evidence, [log], data_dir=Path(settings.data_dir)).seal_once()
    seqs = {int(r["seq"]) for r in selection.page_records + selection.file_records}
    tsa_ca = settings.evidence.tsa_ca_file
    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "capture.warc.gz"
        write_warc(selection, warc)
        return export([Source(log, _seq_filter(seqs))], out, key=key,
                      data_dir=Path(settings.data_dir), tool_version=__version__,
                      config_sha256=settings_sha256(settings), selector={kind: value},
                      tsa_ca=Path(tsa_ca).expanduser() if tsa_ca else None,
                      attachments={"capture.warc.gz": warc})


@evidence_group.command("export")
@click.option("--infohash", help="Every probe's observations of this infohash (v1 or v2 hex).")
@click.option("--url", help="The page captures of this URL (from the capture log).")
@click.option("--service", help="The page captures of this onion service (host).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) directory for the export.")
@pass_context
def export_cmd(ctx: Context, infohash: str | None, url: str | None, service: str | None,
               out: Path) -> None:
    """Write the matching records with proofs, heads, tokens and the public key into OUT.

    --url and --service export page captures: their capture-log records with the WARC
    records attached (attachments/capture.warc.gz, readable with warcio). Every log is
    sealed first. Needs the signing key (it signs the manifest).
    """
    chosen = [(k, v) for k, v in (("infohash", infohash), ("url", url), ("service", service))
              if v]
    if len(chosen) != 1:
        fail("give exactly one of --infohash, --url, --service")
    kind, value = chosen[0]
    settings = ctx.settings
    key = signing_key(ctx)
    try:
        if kind == "infohash":
            manifest = export_infohash(settings, value, out, tool_version=__version__)
        else:
            manifest = _export_captures(settings, key, kind, value, out)
    except (EvidenceError, ProbeEvidenceError, OSError) as exc:
        fail(str(exc), EXIT_PROBLEMS)
    click.echo(json.dumps(manifest, indent=1))


@evidence_group.command("verify")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The public key (PEM) you trust; without it only internal consistency "
                   "is checked.")
@click.option("--tsa-ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The TSA's CA certificate (PEM) you trust for the timestamp tokens.")
def verify_cmd(bundle: Path, key_file: Path | None, tsa_ca: Path | None) -> None:
    """Check an export: exit 0 when it holds, 1 naming each bad record, head or file."""
    trusted = None
    if key_file is not None:
        try:
            trusted = load_trusted_key(key_file)
        except EvidenceError as exc:
            fail(str(exc))
    report = verify_export(bundle, trusted, tsa_ca)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}")
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)
    trust = ("signed by the key you gave" if report.key_checked
             else "INTERNAL CONSISTENCY ONLY (no --key)")
    click.echo(f"ok: {report.records} records, {report.heads} head{'s' * (report.heads != 1)}, "
               f"{report.tokens} timestamp{'s' * (report.tokens != 1)}; {trust}")
