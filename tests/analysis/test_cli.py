"""``heroes analyse``, ``clusters``, ``timeline`` and ``relaunch`` on an index of lab sites
(plain tests: each command runs its own event loop)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from alerting.db import AlertDB, alert_db_path
from analysis.state import AnalysisDB, analysis_db_path
from config import Settings
from documents import Service
from heroes.cli import main
from heroes.lab.operators import operator_world, relaunch_pair
from tests.analysis.lab_index import T0, index, site_documents


def _run(data: Path, *args: str) -> tuple[int, str]:
    options = [*args[:2]] if args[:1] == ("--config",) else []
    args = args[2:] if options else args
    result = CliRunner().invoke(main, [*options, "--data-dir", str(data), *args])
    return result.exit_code, result.output


def test_analyse_then_list_and_show_clusters_and_a_timeline(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    sites = operator_world(kinds=("contact", "pgp"), decoys=1)
    # The contact group's adverts move from site to site, a day apart.
    docs = []
    for i, site in enumerate(sites):
        docs += site_documents(site, T0 + timedelta(days=i))
    asyncio.run(index(settings, docs))
    data = settings.data_dir
    code, out = _run(data, "analyse")
    assert code == 0, out
    assert f"analysed {len(sites)} pages" in out

    code, out = _run(data, "clusters", "list", "--json")
    listed = json.loads(out)
    assert listed["total"] == 2
    contact = {s.host for s in sites if s.group == "contact"}
    (cluster,) = [c for c in listed["clusters"] if {m["key"] for m in c["members"]} == contact]

    code, out = _run(data, "clusters", "show", sorted(contact)[1])
    assert code == 0, out
    assert f"cluster {cluster['cluster_id']}" in out and "phone +44" in out

    phone = next(e["value"] for e in cluster["edges"] if e["type"] == "phone")
    code, out = _run(data, "timeline", phone, "--json")
    assert code == 0, out
    spans = json.loads(out)["spans"]
    order = [s.host for s in sites if s.group == "contact"]
    assert [s["service"] for s in spans] == order
    assert all(s["langs"] == ["en"] and s["pages"] == 1 for s in spans)

    code, out = _run(data, "timeline", "not a value")
    assert code == 2 and "neither a phone number nor an e-mail" in out
    code, out = _run(data, "clusters", "show", "nothing.onion")
    assert code == 2 and "no cluster 'nothing.onion'" in out


def test_relaunch_watch_list_and_confirm(make_settings: Callable[..., Settings],
                                         tmp_path: Path) -> None:
    settings = make_settings()
    old, new = relaunch_pair()
    asyncio.run(index(settings, site_documents(old, T0)))
    data = settings.data_dir
    config = tmp_path / "heroes.toml"
    config.write_text(f'[[alerts.rules]]\nname = "old-shop"\ntype = "keyword"\n'
                      f'kinds = ["page"]\nquery = "host:{old.host}"\n')
    assert _run(data, "relaunch", "watch", old.host)[0] == 0
    assert _run(data, "analyse")[0] == 0
    down = T0 + timedelta(days=1)
    asyncio.run(index(settings, [
        Service(host=old.host, first_seen=T0, last_seen=down, up=False, last_up=T0),
        *site_documents(new, down + timedelta(hours=1)),
    ]))
    code, out = _run(data, "analyse")
    assert code == 0 and "1 new relaunch candidates" in out, out
    code, out = _run(data, "relaunch", "list")
    assert f"{old.host} -> {new.host}  candidate" in out
    code, out = _run(data, "--config", str(config), "relaunch", "confirm", old.host, new.host)
    assert code == 0 and f"watches follow {new.host}" in out, out
    assert f"alert rules naming {old.host} now match {new.host} too: old-shop" in out
    follows = AlertDB(alert_db_path(data))
    try:
        assert follows.follows() == [(old.host, new.host)]
    finally:
        follows.close()
    code, out = _run(data, "relaunch", "confirm", old.host, new.host)
    assert code == 2 and "already decided" in out
    db = AnalysisDB(analysis_db_path(data))
    try:
        assert [w[0] for w in db.watches()] == [new.host]
    finally:
        db.close()


def test_an_unreadable_suppression_file_stops_analyse_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "heroes.toml"
    missing = tmp_path / "no-such-list.txt"
    config.write_text(f'[analysis]\nsuppress_files = ["{missing}"]\n')
    code, out = _run(tmp_path / "data", "--config", str(config), "analyse")
    assert code == 2 and str(missing) in out and "Traceback" not in out
