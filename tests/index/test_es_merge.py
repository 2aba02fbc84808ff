"""The plan of one merged write: create, conditional index, nothing, or a move (no cluster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from documents import FlaggedHash, Observation, Page
from index.backends import es_mappings as layout
from index.backends.es_merge import Copy, fold, is_merged, plan

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def observation(first: datetime, source: str, piece: int) -> Observation:
    return Observation(infohash="c" * 40, ip="127.0.0.2", port=6881, sources=[source],
                       verified_pieces=[piece], first_seen=first, last_seen=first)


def stored(doc: Observation, seq_no: int = 7, term: int = 2, index: str | None = None) -> Copy:
    return Copy(index or layout.target_index("p", doc), seq_no, term, layout.body_for(doc))


def test_merged_kinds_are_those_that_combine_versions() -> None:
    assert is_merged(Observation.KIND) and is_merged(FlaggedHash.KIND)
    assert not is_merged(Page.KIND)


def test_a_new_id_is_created_and_must_not_exist() -> None:
    doc = observation(T0, "dht", 0)
    p = plan("p", doc, [])
    assert p.action is not None and p.action["_op_type"] == "create"
    assert "if_seq_no" not in p.action and p.stale == []


def test_an_update_quotes_the_token_of_the_copy_it_merged() -> None:
    p = plan("p", observation(T0, "dht", 0), [stored(observation(T0, "tracker", 1))])
    assert p.action is not None and p.action["_op_type"] == "index"
    assert (p.action["if_seq_no"], p.action["if_primary_term"]) == (7, 2)
    assert p.action["_source"]["sources"] == ["dht", "tracker"]
    assert p.action["_source"]["verified_pieces"] == [0, 1]


def test_nothing_is_written_when_the_stored_copy_already_holds_the_merge() -> None:
    # A replayed batch, or a create that was applied and then sent again.
    doc = observation(T0, "dht", 0)
    assert plan("p", doc, [stored(doc)]).action is None


def test_an_older_first_sighting_moves_the_document_and_the_old_copy_goes() -> None:
    older = observation(T0 - timedelta(days=31), "dht", 0)
    newer_copy = stored(observation(T0, "tracker", 1))
    p = plan("p", older, [newer_copy])
    assert p.target == layout.target_index("p", older) != newer_copy.index
    assert p.action is not None and p.action["_op_type"] == "create"
    assert p.stale == [newer_copy]


def test_an_unreadable_stored_copy_is_replaced() -> None:
    doc = observation(T0, "dht", 0)
    broken = Copy(layout.target_index("p", doc), 1, 1, {"infohash": "not hex"})
    assert fold(doc, [broken]) == doc


def test_the_check_after_a_create_finds_no_news_in_its_own_copy() -> None:
    doc = observation(T0, "tracker", 1).model_copy(update={"sources": ["tracker", "dht"]})
    # Merging with itself would sort the sources: the check must leave the copy as written.
    assert plan("p", doc, [stored(doc)], created=True).action is None
    other = stored(observation(T0 - timedelta(days=31), "pex", 2))
    assert plan("p", doc, [stored(doc), other], created=True).action is not None
