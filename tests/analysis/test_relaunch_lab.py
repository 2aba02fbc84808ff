"""A watched lab site taken down and re-served under a new onion with the same favicon, PGP
key and template: the relaunch alert names both onions with the evidence, and confirming it
moves the watch and the alert rules that named the old onion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from alerting.db import AlertDB, alert_db_path
from alerting.state import AlertState
from analysis.relaunch import decide
from analysis.state import AnalysisDB, analysis_db_path
from config import Settings
from documents import Page, Service
from heroes.lab.operators import OperatorSite, operator_world, relaunch_pair
from index.store import Store
from query.model import Search, Term
from tests.analysis.lab_index import T0, analyse, index, site_documents, world_documents


async def test_a_relaunch_alerts_with_both_onions_and_confirming_moves_the_watch(
        make_settings: Callable[..., Settings]) -> None:
    old, new = relaunch_pair()
    watched = {"name": "watched-shop", "type": "keyword", "kinds": ["page"],
               "query": f"host:{old.host}", "realert_s": 0}
    settings = make_settings(alerts={"rules": [watched]})
    others = operator_world(kinds=("favicon",), decoys=2)
    await index(settings, [*site_documents(old, T0), *world_documents(others, T0)])
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    db.watch(old.host, 0)
    db.close()
    await analyse(settings)

    # The old onion stops answering; a day later the new one serves the same site.
    down = T0 + timedelta(days=1)
    await index(settings, [
        Service(host=old.host, first_seen=T0, last_seen=down, up=False, last_up=T0),
        *site_documents(new, down + timedelta(hours=2)),
    ])
    counters = await analyse(settings)
    assert counters.relaunches == 1

    db = AnalysisDB(analysis_db_path(settings.data_dir))
    try:
        (relaunch,) = db.relaunches()
        assert (relaunch.old, relaunch.new, relaunch.status) == (old.host, new.host, "candidate")
        assert {e["type"] for e in relaunch.evidence} >= {"favicon", "pgp", "text_near"}
        for e in relaunch.evidence:
            assert e["old_record"] and e["new_record"]

        alerts = AlertState(AlertDB(alert_db_path(settings.data_dir)))
        (alert,) = [a for a in alerts.list() if a.rule_type == "relaunch"]
        assert {a.key for a in alerts.list() if a.rule == "watched-shop"} == {old.host}
        alerts.db.close()
        assert alert.rule_type == "relaunch"
        assert old.host in alert.summary and new.host in alert.summary
        facts = dict(alert.facts)
        assert facts["Old onion"] == old.host and facts["New onion"] == new.host
        assert "Shared favicon" in facts and "Shared pgp" in facts

        assert decide(db, alert_db_path(settings.data_dir), old.host, new.host, "confirmed",
                      "analyst", 1)
        assert not decide(db, alert_db_path(settings.data_dir), old.host, new.host,
                          "rejected", "analyst", 2)
        assert [w[0] for w in db.watches()] == [new.host]
        assert db.watches()[0][2] == old.host
        assert db.followed(old.host) == new.host
    finally:
        db.close()

    # The alert document reached the index; a second pass raises nothing again.
    store = Store(settings)
    try:
        found = await store.search(Search(kind="alert", query=Term("rule_type", "relaunch")))
    finally:
        store.close()
    assert found["hits"]["total"]["value"] == 1
    again = await analyse(settings)
    assert again.relaunches == 0

    # The rule written for the old onion now alerts on the new one's pages, saying why.
    await index(settings, [Page(url=f"http://{new.host}/new-listing",
                                fetched_at=down + timedelta(days=2), title="New listing",
                                text="garden lamp")])
    alerts = AlertState(AlertDB(alert_db_path(settings.data_dir)))
    try:
        (followed,) = [a for a in alerts.list() if a.rule == "watched-shop"
                       and a.key == new.host]
        assert dict(followed.facts)["Followed"] == (
            f"{old.host} -> {new.host} (relaunch confirmed)")
    finally:
        alerts.db.close()


async def watched_then_relaunched(settings: Settings, old: OperatorSite,
                                  new: OperatorSite) -> None:
    """``old`` indexed and watched, down a day later, and ``new`` serving its site."""
    await index(settings, site_documents(old, T0))
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    db.watch(old.host, 0)
    db.close()
    down = T0 + timedelta(days=1)
    await index(settings, [
        Service(host=old.host, first_seen=T0, last_seen=down, up=False, last_up=T0),
        *site_documents(new, down + timedelta(hours=2)),
    ])


async def test_a_newer_onion_sharing_too_few_values_is_no_relaunch(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"relaunch_min_links": 5})
    old, new = relaunch_pair()
    await watched_then_relaunched(settings, old, new)
    assert (await analyse(settings)).relaunches == 0


async def test_above_the_auto_confidence_the_watch_follows_without_an_analyst(
        make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(analysis={"relaunch_auto_confidence": 0.5})
    old, new = relaunch_pair()
    await watched_then_relaunched(settings, old, new)
    await analyse(settings)
    db = AnalysisDB(analysis_db_path(settings.data_dir))
    try:
        (relaunch,) = db.relaunches()
        assert relaunch.status == "confirmed" and relaunch.decided_by == "(automatic)"
        assert [w[0] for w in db.watches()] == [new.host]
    finally:
        db.close()
    alerts = AlertDB(alert_db_path(settings.data_dir))
    try:
        assert alerts.follows() == [(old.host, new.host)]
    finally:
        alerts.close()
