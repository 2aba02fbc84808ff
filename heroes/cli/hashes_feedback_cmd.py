"""``heroes hashes feedback|decisions|precision|export``: decisions on hits, lists written out.

``feedback`` records that a document's hit is confirmed or a false positive (audited, with
the analyst, in the console's audit log) and can move a false positive's value to a
negative list; ``decisions`` lists the current decisions; ``precision`` shows confirmed /
decided per list and per list source; ``export`` writes a list as VICS JSON or CSV with
its settings and precision, in a form ``heroes hashes import`` reads back. Reads
``data_dir``, the index settings and ``evidence``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from errors import BackendUnavailable
from heroes.cli.app import EXIT_DEPENDENCY, EXIT_PROBLEMS, Context, fail, pass_context, run_async
from heroes.cli.hashes_cmd import hashes_group
from heroes.cli.peers_cmd import audit, cli_user
from index.hashsets.decide import HitRequest, decide_hit, precision_report
from index.hashsets.errors import HashSetError
from index.hashsets.export import EXPORT_FORMATS, export_list
from index.hashsets.feedback import DecisionStore, Precision, decisions_path
from index.hashsets.membership import MembershipStore, membership_path
from index.store import Store


@hashes_group.command("feedback")
@click.argument("kind")
@click.argument("doc_id")
@click.option("--list", "list_name", required=True, help="The list the hit is on.")
@click.option("--verdict", required=True,
              type=click.Choice(["confirmed", "false-positive"], case_sensitive=False),
              help="Confirmed, or a false positive.")
@click.option("--value", default="",
              help="The document's value that hit (only when it has several hits on the list).")
@click.option("--comment", default="", help="Why (kept with the decision and in the audit log).")
@click.option("--negative-list", default="",
              help="Move a false positive's value to this negative list (created when new).")
@pass_context
@run_async
async def feedback_cmd(
    ctx: Context, kind: str, doc_id: str, list_name: str, verdict: str, value: str,
    comment: str, negative_list: str,
) -> None:
    """Mark the hit of document KIND/DOC_ID on a list as confirmed or a false positive.

    The hit must be one of the document's matches. Deciding again replaces the decision
    (every decision stays in its history and in the audit log).
    """
    settings = ctx.settings
    request = HitRequest(kind, doc_id, list_name, verdict, value=value, comment=comment,
                         negative_list=negative_list)
    user = cli_user()
    decisions = DecisionStore(decisions_path(settings.data_dir))
    members = MembershipStore(membership_path(settings.data_dir))
    store = Store(settings)
    try:
        async with store.reader() as backend:
            decision = await decide_hit(backend, decisions, members, store.append, request,
                                        user=user)
    except HashSetError as exc:
        fail(str(exc))
    except BackendUnavailable as exc:
        fail(f"the index cannot be reached: {exc}", EXIT_DEPENDENCY)
    finally:
        decisions.close()
        members.close()
        store.close()
    await asyncio.to_thread(
        audit, settings, "hit_decision", target=f"{kind}/{doc_id}", list=decision.hit.list,
        type=decision.hit.type, value=decision.hit.value, verdict=decision.verdict,
        comment=decision.comment or None, negative_list=decision.negative_list or None,
    )
    moved = f"; value added to negative list {negative_list}" if negative_list else ""
    click.echo(f"{kind}/{doc_id} on {decision.hit.list} ({decision.hit.type} "
               f"{decision.hit.value}): {decision.verdict.replace('_', ' ')}{moved}")


def _shown(p: dict[str, Any]) -> str:
    share = "-" if p["precision"] is None else f"{p['precision']:.0%}"
    return f"{p['confirmed']:>6} confirmed {p['false_positive']:>6} false positive  {share:>5}"


@hashes_group.command("precision")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def precision_cmd(ctx: Context, as_json: bool) -> None:
    """Confirmed / decided hits per list and per list source, from analysts' feedback."""
    report = precision_report(Path(ctx.settings.data_dir))
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    if not report["lists"]:
        click.echo("no decisions yet")
        return
    for p in report["lists"]:
        click.echo(f"list   {p['name']:<24} {_shown(p)}")
    for p in report["sources"]:
        click.echo(f"source {p['name'] or '(none)':<24} {_shown(p)}")


@hashes_group.command("decisions")
@click.option("--list", "list_name", default="", help="Only hits on this list.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def decisions_cmd(ctx: Context, list_name: str, as_json: bool) -> None:
    """The current decision on each decided hit, oldest first."""
    decisions = DecisionStore(decisions_path(ctx.settings.data_dir))
    try:
        found = decisions.decisions(list_name or None)
    finally:
        decisions.close()
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in found], indent=2))
        return
    if not found:
        click.echo("no decisions yet")
    for d in found:
        moved = f" -> {d.negative_list}" if d.negative_list else ""
        click.echo(f"{d.decided_at}  {d.verdict:<14} {d.hit.kind}/{d.hit.doc_id}  {d.hit.list} "
                   f"{d.hit.type} {d.hit.value}  by {d.user}{moved}"
                   + (f"  ({d.comment})" if d.comment else ""))


@hashes_group.command("export")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS),
              help="VICS JSON or CSV (default: by the suffix of --out, else vics).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write here ('-': standard output).")
@pass_context
def export_cmd(ctx: Context, name: str, fmt: str | None, out: Path) -> None:
    """Write list NAME with its values, types, categories, settings and precision.

    `heroes hashes import` reads the file back unchanged. VICS carries media hashes only
    (MD5, SHA-1, SHA-256, PDQ, vPDQ): other values are left out, named on stderr, and
    the exit status is 1; CSV carries every type.
    """
    settings = ctx.settings
    fmt = fmt or ("csv" if out.suffix.lower() == ".csv" else "vics")
    precision = _list_precision(Path(settings.data_dir), name)
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        if str(out) == "-":
            report = export_list(members, name, fmt, sys.stdout, precision=precision)
        else:
            tmp = out.with_name(out.name + ".part")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as stream:
                    report = export_list(members, name, fmt, stream, precision=precision)
                tmp.replace(out)
            except OSError as exc:
                fail(f"{out}: cannot write: {exc.strerror}")
            finally:
                tmp.unlink(missing_ok=True)
    except HashSetError as exc:
        fail(str(exc))
    finally:
        members.close()
    click.echo(f"list {name}: {report.written} values written to {out} ({fmt})", err=True)
    if report.left_out:
        left = ", ".join(f"{n} {t}" for t, n in sorted(report.left_out.items()))
        click.echo(f"left out (VICS has no place for them; use --format csv): {left}", err=True)
        raise SystemExit(EXIT_PROBLEMS)


def _list_precision(data_dir: Path, name: str) -> Precision | None:
    decisions = DecisionStore(decisions_path(data_dir))
    try:
        return decisions.precision().get(name)
    finally:
        decisions.close()
