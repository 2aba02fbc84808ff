"""``heroes validate``: run the probe and the crawler against the lab world, signed report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from heroes.cli.app import EXIT_DEPENDENCY, EXIT_USER, Context, fail, main, pass_context

DEFAULT_BASE_PORT = 20000


@main.command("validate")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="New (or empty) directory for the report and the run's own data. "
              "Default: <data_dir>/validation/<UTC time>.")
@click.option("--base-port", type=click.IntRange(1024, 60000), default=DEFAULT_BASE_PORT,
              show_default=True, help="First of the ports the lab world uses.")
@click.option("--crawl-timeout", type=click.FloatRange(10, 3600), default=300.0,
              show_default=True, help="Seconds the crawl may take.")
@click.option("--probe-timeout", type=click.FloatRange(5, 3600), default=120.0,
              show_default=True, help="Seconds the probe may take to see every lab peer.")
@click.option("--tor", "tor_binary", default="tor", show_default=True,
              help="The tor binary of the lab network.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def validate(ctx: Context, out: Path | None, base_port: int, crawl_timeout: float,
             probe_timeout: float, tor_binary: str, as_json: bool) -> None:
    """Validate the tool: probe and crawl a fresh lab world, compare with its ground truth.

    Checks every lab peer (client, peer id, level, piece fraction, protocol artifacts),
    payload bytes 0 both ways, the extracted entities, the media hashes and that no media
    byte reached the disk. Writes validation.json (signed with the installation's key:
    validation.sig), validation.pub.pem and validation.txt. Exit 0 when everything matched,
    1 when anything did not, 2 without a signing key, 3 when the lab world cannot start.
    """
    from evidence.errors import EvidenceError
    from evidence.keys import load_signing_key
    from heroes.lab.swarm import SwarmError
    from heroes.lab.tor_config import LabSetupError
    from heroes.validation import exit_code, render_text, write_report
    from heroes.validation_run import Limits, run
    from monitors.errors import SessionError

    settings = ctx.settings
    try:
        key = load_signing_key(settings.evidence.signing_key_file)
    except EvidenceError as exc:
        fail(str(exc), EXIT_USER)
    if out is None:
        out = Path(settings.data_dir) / "validation" / datetime.now(UTC).strftime(
            "%Y%m%dT%H%M%SZ")
    if out.exists() and any(out.iterdir()):
        fail(f"--out {str(out)!r} exists and is not empty; choose a new directory")
    say = (lambda _: None) if as_json else (lambda line: click.echo(line, err=True))
    try:
        report = run(out / "work", key_id=key.key_id, base_port=base_port,
                     limits=Limits(crawl_s=crawl_timeout, probe_s=probe_timeout),
                     tor=tor_binary, signing_key_file=key.path, say=say)
    except (LabSetupError, SwarmError) as exc:
        fail(f"the lab world did not come up: {exc}", EXIT_DEPENDENCY)
    except SessionError as exc:
        fail(f"the probe could not start on the lab swarm: {exc}", EXIT_DEPENDENCY)
    paths = write_report(report, key, out)
    if as_json:
        click.echo(json.dumps(report, indent=1, sort_keys=True))
    else:
        click.echo(render_text(report), nl=False)
        click.echo(f"report {paths['report']} signed ({paths['signature']}), "
                   f"text {paths['text']}")
    raise SystemExit(exit_code(report))
