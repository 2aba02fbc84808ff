"""The list-setting options of ``heroes hashes import`` and ``set``, and the ``lists`` table.

Values are checked by :func:`index.hashsets.lists.parse_setting` (one validator for options
and for ``#!`` lines in list files); a bad one exits 2 naming the option and quoting it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from config import Settings
from heroes.cli.app import fail
from index.hashsets.lists import LIST_STATES, TRUST_LEVELS, ListSettingError, parse_setting
from index.hashsets.membership import MembershipStore, membership_path

F = TypeVar("F", bound=Callable[..., Any])

OPTION_NAMES = ("source", "trust", "distance", "state")


def list_setting_options(fn: F) -> F:
    """Add --source --trust --distance --state --negative/--flag to a command."""
    options = [
        click.option("--source", default=None, help="Who supplied the list."),
        click.option(
            "--trust",
            default=None,
            help=f"How far the source is trusted: {', '.join(TRUST_LEVELS)}.",
        ),
        click.option(
            "--distance",
            default=None,
            help="The list's own largest PDQ distance, 0-256 ('default': "
            "matching.pdq_max_distance).",
        ),
        click.option(
            "--state", default=None, help=f"{' or '.join(LIST_STATES)}; a paused list never flags."
        ),
        click.option(
            "--negative/--flag",
            "negative",
            default=None,
            help="A negative list (innocuous values: its hits suppress flag lists' hits) or a "
            "flag list (the default).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def list_settings_from(options: dict[str, Any]) -> dict[str, Any]:
    """Parsed settings of the given options; exits 2 naming the option and quoting its value."""
    out: dict[str, Any] = {}
    for name in OPTION_NAMES:
        raw = options.get(name)
        if raw is None:
            continue
        try:
            out[name] = parse_setting(name, raw)
        except ListSettingError as exc:
            fail(f"--{name}: {exc}")
    if options.get("negative") is not None:
        out["kind"] = "negative" if options["negative"] else "flag"
    return out


def print_lists(settings: Settings, as_json: bool) -> None:
    """Each list's values per type, its settings and its suppressed and held hit counts."""
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        rows = members.lists()
        infos = members.list_infos()
        stats = members.stats()
    finally:
        members.close()
    shown = {r.list for r in rows}
    out: list[dict[str, Any]] = [
        {"list": r.list, "type": r.type, "count": r.count, "added_at": r.added_at} for r in rows
    ]
    out += [{"list": name, "type": "", "count": 0, "added_at": ""}
            for name in infos if name not in shown]
    for row in out:
        info = infos.get(row["list"])
        stat = stats.get(row["list"])
        row.update(
            kind=info.kind if info else "flag",
            source=info.source if info else "",
            trust=info.trust if info else "unknown",
            distance=info.distance if info else None,
            state=info.state if info else "active",
            suppressed=stat.suppressed if stat else 0,
            suppressing=stat.suppressing if stat else 0,
            held=stat.held if stat else 0,
            quarantined=stat.quarantined if stat else 0,
        )
    out.sort(key=lambda r: (r["list"], r["type"]))
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    if not out:
        click.echo("no lists")
        return
    click.echo(
        f"{'LIST':<20} {'TYPE':<8} {'COUNT':>9}  {'KIND':<8} {'STATE':<6} {'DIST':>4} "
        f"{'TRUST':<7} {'SUPPR':>6} {'HELD':>6}  SOURCE"
    )
    for r in out:
        dist = "-" if r["distance"] is None else str(r["distance"])
        counted = r["suppressing"] if r["kind"] == "negative" else r["suppressed"]
        click.echo(
            f"{r['list']:<20} {r['type'] or '-':<8} {r['count']:>9}  {r['kind']:<8} "
            f"{r['state']:<6} {dist:>4} {r['trust']:<7} {counted:>6} {r['held']:>6}  "
            f"{r['source'] or '-'}"
        )
