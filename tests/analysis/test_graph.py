"""The link graph and the incremental clusters on the analysis store alone: weights, common
values, stable ids, merges (the older id survives) and splits."""

from __future__ import annotations

from pathlib import Path

from analysis.clustering import update_clusters
from analysis.graph import Graph, LinkPolicy, NothingCommon
from analysis.state import AnalysisDB
from analysis.values import Sighting, page_sightings

MINUTE = 60_000


class Listed:
    def __init__(self, *values: str):
        self.values = set(values)

    def is_common(self, name: str, value: str) -> bool:
        return value in self.values


def _see(db: AnalysisDB, member: str, type_: str, value: str, at: int) -> None:
    with db.transaction() as conn:
        AnalysisDB.touch_member(conn, member, "service", at)
        AnalysisDB.add_sightings(conn, [Sighting(type_, value, member, "service", at,
                                                 f"rec-{member}-{at}")])


def _step(db: AnalysisDB, graph: Graph) -> dict[str, object]:
    docs, commit = update_clusters(db, graph)
    commit()
    return {d.cluster_id: d for d in docs}


def test_strong_values_link_weak_ones_alone_do_not(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    graph = Graph(db, LinkPolicy(), NothingCommon())
    _see(db, "a.onion", "dom", "d1", 1)
    _see(db, "b.onion", "dom", "d1", 2)
    assert _step(db, graph) == {}
    _see(db, "a.onion", "wallet", "w1", 3)
    _see(db, "b.onion", "wallet", "w1", 4)
    (doc,) = _step(db, graph).values()
    assert doc.cluster_id == "a.onion" and doc.size == 2
    assert sorted((e.type, e.weight) for e in doc.edges) == [("dom", 0.25), ("wallet", 1.0)]
    wallet = next(e for e in doc.edges if e.type == "wallet")
    assert (wallet.a, wallet.b, wallet.a_record, wallet.b_record) == (
        "a.onion", "b.onion", "rec-a.onion-3", "rec-b.onion-4")
    db.close()


def test_four_weak_values_add_up_to_a_link(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    graph = Graph(db, LinkPolicy(), NothingCommon())
    for i, name in enumerate(("dom", "headers", "exif_camera", "dom")):
        _see(db, "a.onion", name, f"v{i}", i)
        _see(db, "b.onion", name, f"v{i}", i)
    assert len(_step(db, graph)) == 1
    db.close()


def test_a_common_value_never_links(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    graph = Graph(db, LinkPolicy(), Listed("UA-1-1"))
    _see(db, "a.onion", "analytics", "UA-1-1", 1)
    _see(db, "b.onion", "analytics", "UA-1-1", 2)
    assert _step(db, graph) == {}
    db.close()


def test_two_clusters_joined_keep_the_older_id(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    graph = Graph(db, LinkPolicy(), NothingCommon())
    _see(db, "c.onion", "email", "x@example.org", 1)
    _see(db, "d.onion", "email", "x@example.org", 2)
    assert list(_step(db, graph)) == ["c.onion"]
    _see(db, "a.onion", "phone", "+441212345678", 3 * MINUTE)
    _see(db, "b.onion", "phone", "+441212345678", 4 * MINUTE)
    assert list(_step(db, graph)) == ["a.onion"]
    # e carries both values: one cluster, the older id (c's, made first) survives.
    _see(db, "e.onion", "email", "x@example.org", 5 * MINUTE)
    _see(db, "e.onion", "phone", "+441212345678", 5 * MINUTE)
    docs = _step(db, graph)
    assert docs["c.onion"].size == 5
    assert docs["a.onion"].merged_into == "c.onion" and docs["a.onion"].size == 0
    assert {db.member(f"{m}.onion")["cluster"] for m in "abcde"} == {"c.onion"}
    db.close()


def test_a_value_turned_common_splits_the_cluster(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    common = Listed()
    graph = Graph(db, LinkPolicy(), common)
    _see(db, "a.onion", "favicon", "123", 1)
    _see(db, "b.onion", "favicon", "123", 2)
    _see(db, "b.onion", "pgp", "F" * 40, 3)
    _see(db, "c.onion", "pgp", "F" * 40, 4)
    assert _step(db, graph)["a.onion"].size == 3
    common.values.add("123")
    _see(db, "c.onion", "pgp", "F" * 40, 5)  # c seen again: its cluster is looked at again
    docs = _step(db, graph)
    assert sorted(m.key for m in docs["a.onion"].members) == ["b.onion", "c.onion"]
    assert db.member("a.onion")["cluster"] is None
    db.close()


def test_page_values_are_sighted_on_the_service() -> None:
    found = page_sightings({
        "host": "a.onion", "fetched_at": "2026-11-01T12:00:00+00:00", "lang": "en",
        "url": "http://a.onion/x",
        "entities": {"btc": ["bc1qexample"], "emails": ["x@example.org"], "pgp": ["A" * 40]},
        "pivots": {"analytics": ["G-ABCDEFGH12"], "favicon": ["-5"]},
    }, "rec1")
    assert {(s.type, s.value) for s in found} == {
        ("wallet", "bc1qexample"), ("email", "x@example.org"), ("pgp", "A" * 40),
        ("analytics", "G-ABCDEFGH12"), ("favicon", "-5")}
    assert {(s.member, s.record, s.lang) for s in found} == {("a.onion", "rec1", "en")}


def test_two_services_posting_one_torrent_are_one_cluster_with_it(tmp_path: Path) -> None:
    db = AnalysisDB(tmp_path / "a.sqlite")
    graph = Graph(db, LinkPolicy(), NothingCommon())
    infohash = "ab" * 20
    for i, host in enumerate(("a.onion", "b.onion")):
        found = page_sightings({"host": host, "fetched_at": f"2026-11-0{i + 1}T12:00:00+00:00",
                                "entities": {"infohashes": [infohash]}}, f"rec-{host}")
        with db.transaction() as conn:
            AnalysisDB.touch_member(conn, host, "service", found[0].at_ms)
            AnalysisDB.touch_member(conn, infohash, "torrent", found[0].at_ms)
            AnalysisDB.add_sightings(conn, found)
    (doc,) = _step(db, graph).values()
    assert doc.cluster_id == "a.onion"
    assert sorted((m.kind, m.key) for m in doc.members) == [
        ("service", "a.onion"), ("service", "b.onion"), ("torrent", infohash)]
    assert {e.type for e in doc.edges} == {"infohash"}
    db.close()
