"""``heroes alerts list|show|ack|send`` and ``heroes mail test``."""

from __future__ import annotations

import getpass
import json
import time
from dataclasses import asdict
from datetime import UTC, datetime

import click

from alerting.cluster_state import acknowledge
from alerting.db import AlertDB, alert_db_path
from alerting.delivery import OutMessage
from alerting.mailer import DeliveryError, Dialogue, build_message, deliver
from alerting.outbox import message_id
from alerting.record import AlertRecord
from alerting.sender import Sender
from alerting.state import AlertState
from heroes.cli.app import EXIT_DEPENDENCY, Context, fail, main, pass_context, run_async
from heroes.metrics import with_metrics
from heroes.roles import run_roles
from index.backends.es_alerts import cluster_alerts_for
from index.store import Store


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else "-"


def _state(ctx: Context) -> AlertState:
    return AlertState(AlertDB(alert_db_path(ctx.settings.data_dir)))


@main.group("alerts")
def alerts_group() -> None:
    """Alerts raised by the rules: list, show, acknowledge, send their email."""


@alerts_group.command("list")
@click.option(
    "--status", type=click.Choice(["new", "acknowledged"]), help="Only alerts in this state."
)
@click.option("--limit", default=50, show_default=True, help="Alerts shown at most, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def list_cmd(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """Newest alerts first."""
    state = _state(ctx)
    records = state.list(status=status or "", limit=limit)
    state.db.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in records], indent=2))
        return
    if not records:
        click.echo("no alerts")
    for r in records:
        click.echo(
            f"{r.id}  {_when(r.created_at)}  {r.severity:<8} {r.status:<12} {r.rule}: "
            f"{r.summary}  (x{r.count})"
        )


def _show(r: AlertRecord) -> None:
    click.echo(
        f"alert {r.id}\n  rule: {r.rule} ({r.rule_type}), severity {r.severity}, status {r.status}"
    )
    click.echo(
        f"  key: {r.key}\n  raised: {_when(r.created_at)}; seen {_when(r.first_seen)} .. "
        f"{_when(r.last_seen)}, {r.count} documents"
    )
    click.echo(f"  summary: {r.summary}")
    for label, value in r.facts:
        click.echo(f"  {label}: {value}")
    for ref in r.matched:
        click.echo(f"  document: {ref['kind']}/{ref['id']}")
    for d in r.deliveries:
        click.echo(
            f"  email to {d['to']}: {d['status']} at {d['at']} {d['message_id']}"
            + (f" ({d['error']})" if d.get("error") else "")
        )
    if r.acknowledged_by:
        click.echo(
            f"  acknowledged by {r.acknowledged_by} at {_when(r.acknowledged_at)}: {r.comment}"
        )


@alerts_group.command("show")
@click.argument("alert_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def show_cmd(ctx: Context, alert_id: str, as_json: bool) -> None:
    """One alert (ID or a unique prefix of it)."""
    state = _state(ctx)
    record = state.get(alert_id)
    state.db.close()
    if record is None:
        fail(f"no alert {alert_id!r}")
    if as_json:
        click.echo(json.dumps(asdict(record), indent=2))
    else:
        _show(record)


@alerts_group.command("ack")
@click.argument("alert_id")
@click.option("--comment", default="", help="Why, or what was done.")
@click.option("--by", default="", help="Who acknowledges (default: the login name).")
@pass_context
def ack_cmd(ctx: Context, alert_id: str, comment: str, by: str) -> None:
    """Acknowledge an alert; its document in the index follows."""
    state = _state(ctx)
    record = state.ack(alert_id, by or getpass.getuser(), comment, time.time())
    if record is None:
        state.db.close()
        fail(f"no alert {alert_id!r}")
    cluster = cluster_alerts_for(ctx.settings)
    if cluster is not None:
        try:
            acknowledge(cluster, record.id, record.acknowledged_by, comment, time.time())
        finally:
            cluster.close()
    store = Store(ctx.settings)
    state.spool_pending(store.append)
    store.close()
    state.db.close()
    click.echo(f"alert {record.id} acknowledged by {record.acknowledged_by}")


@alerts_group.command("send")
@pass_context
@run_async
async def send_cmd(ctx: Context) -> None:
    """Deliver alert email from the outbox until interrupted (SIGINT/SIGTERM)."""
    settings = ctx.settings
    if not settings.smtp.host:
        fail("smtp.host is empty: set it (and smtp.tls, smtp.username, HEROES_SMTP__PASSWORD)")
    store = Store(settings)
    try:
        sender = Sender(settings, store.append, cluster=cluster_alerts_for(settings))
        await run_roles(with_metrics(settings, store, [sender]))
    finally:
        store.close()


@main.group("mail")
def mail_group() -> None:
    """Alert email delivery."""


@mail_group.command("test")
@click.option("--to", "to", required=True, help="Recipient of the test message.")
@pass_context
@run_async
async def mail_test(ctx: Context, to: str) -> None:
    """Send a test message with the smtp settings and print the SMTP dialogue."""
    smtp = ctx.settings.smtp
    if not smtp.host:
        fail("smtp.host is empty: nothing to test")
    now = time.time()
    out = OutMessage(
        message_id("test", to, str(now)),
        to,
        "[heroes] test message",
        "This is a test of heroes alert email.\n",
        "<p>This is a test of heroes alert email.</p>",
        [],
        "queued",
        0,
        now,
        "",
        now,
        None,
        "",
    )
    talk = Dialogue()
    try:
        await deliver(smtp, build_message(smtp, out), talk)
    except DeliveryError as exc:
        for step in talk.steps:
            click.echo(step)
        fail(str(exc), EXIT_DEPENDENCY)
    for step in talk.steps:
        click.echo(step)
    click.echo(
        f"sent to {to} via {smtp.host}:{smtp.port} (tls={smtp.tls}), Message-ID {out.message_id}"
    )
