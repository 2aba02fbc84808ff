"""Decisions on hits: the store, precision, false positives to a negative list, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import Settings
from documents import FlaggedHash, Match, Page, utcnow
from documents.page import Media
from heroes.cli import main
from heroes.console.audit import AuditLog
from identifiers.vpdq import canonical, frames_of
from index.hashsets.decide import HitRequest, decide_hit
from index.hashsets.feedback import (
    BadDecision,
    DecisionStore,
    Hit,
    Precision,
    decisions_path,
    precision_by_source,
)
from index.hashsets.lists import ListSettingError
from index.hashsets.membership import MembershipStore, membership_path
from index.store import Store

FLAGGED = "3" * 64
SHA = "a" * 64


@pytest.fixture
def decisions(tmp_path: Path) -> DecisionStore:
    store = DecisionStore(decisions_path(tmp_path))
    yield store
    store.close()


def hit(n: int, list_name: str = "lab") -> Hit:
    return Hit("page", f"doc{n}", list_name, "sha256", f"{n:064x}")


def test_a_later_decision_replaces_the_earlier_and_both_stay_in_history(
    decisions: DecisionStore,
) -> None:
    decisions.decide(hit(1), "confirmed", user="alice")
    decisions.decide(hit(1), "false-positive", user="bob", comment=" a shop logo ")
    current = decisions.decision_of(hit(1))
    assert current is not None
    assert (current.verdict, current.user, current.comment) == ("false_positive", "bob",
                                                                "a shop logo")
    assert [d.verdict for d in decisions.history(hit(1))] == ["confirmed", "false_positive"]
    assert decisions.decision_of(hit(2)) is None


def test_precision_counts_current_decisions_per_list_and_source(decisions: DecisionStore) -> None:
    for n in range(3):
        decisions.decide(hit(n), "confirmed", user="alice")
    decisions.decide(hit(3), "false_positive", user="alice")
    decisions.decide(hit(4, "other"), "fp", user="alice")
    by_list = decisions.precision()
    assert by_list["lab"] == Precision("lab", 3, 1) and by_list["lab"].precision == 0.75
    assert by_list["other"].precision == 0.0 and by_list["other"].decided == 1
    decisions.decide(hit(3), "confirmed", user="alice")  # changed mind: the figure follows
    assert decisions.precision()["lab"].precision == 1.0
    by_source = precision_by_source(decisions.precision(), {"lab": "unit-a", "other": "unit-a"})
    assert by_source == {"unit-a": Precision("unit-a", 4, 1)}
    assert Precision("none", 0, 0).precision is None


@pytest.mark.parametrize(("verdict", "comment", "words"), [
    ("maybe", "", "verdict 'maybe' is not one of confirmed, false-positive"),
    ("confirmed", "x" * 2001, "longer than 2000 characters"),
])
def test_bad_decisions_are_refused(decisions: DecisionStore, verdict: str, comment: str,
                                   words: str) -> None:
    with pytest.raises(BadDecision, match=words):
        decisions.decide(hit(1), verdict, user="alice", comment=comment)
    assert decisions.decisions() == []


def flagged_page(n: int = 1) -> Page:
    return Page(
        url=f"http://market{n}.onion/item", fetched_at=utcnow(), title="Item", flagged=True,
        matches=[
            Match(list="lab", type="sha256", value=SHA, field="media.sha256"),
            Match(list="lab", type="pdq", value=FLAGGED, field="media.pdq", distance=4),
        ],
    )


@pytest.fixture
async def indexed(make_settings: Callable[..., Settings]) -> tuple[Settings, Page]:
    settings = make_settings()
    page = flagged_page()
    store = Store(settings)
    try:
        store.append([page])
        async with store.writer() as drainer:
            await drainer.drain_all()
    finally:
        store.close()
    return settings, page


async def test_a_false_positive_moves_to_a_negative_list(indexed: tuple[Settings, Page]) -> None:
    settings, page = indexed
    decisions = DecisionStore(decisions_path(settings.data_dir))
    members = MembershipStore(membership_path(settings.data_dir))
    spooled: list[object] = []
    store = Store(settings)
    try:
        async with store.reader() as backend:
            request = HitRequest("page", page.id, "lab", "false-positive", value=FLAGGED,
                                 negative_list="lab-innocuous", comment="forum banner")
            decision = await decide_hit(backend, decisions, members,
                                        lambda docs: spooled.extend(docs) or len(spooled),
                                        request, user="alice")
            assert decision.hit == Hit("page", page.id, "lab", "pdq", FLAGGED)
            assert decision.negative_list == "lab-innocuous"
            (entry,) = members.lookup("pdq", FLAGGED)
            assert entry.list == "lab-innocuous" and members.list_info("lab-innocuous").negative
            assert [(d.list, d.value) for d in spooled if isinstance(d, FlaggedHash)] == [
                ("lab-innocuous", FLAGGED)]

            # The page has two hits on "lab": which one must be said.
            with pytest.raises(BadDecision, match="has 2 hits on list 'lab': give the value"):
                await decide_hit(backend, decisions, members, spooled.extend,
                                 HitRequest("page", page.id, "lab", "confirmed"), user="alice")
            with pytest.raises(BadDecision, match="no hit on list 'nope'"):
                await decide_hit(backend, decisions, members, spooled.extend,
                                 HitRequest("page", page.id, "nope", "confirmed"), user="alice")
            with pytest.raises(BadDecision, match="no page document with id 'missing'"):
                await decide_hit(backend, decisions, members, spooled.extend,
                                 HitRequest("page", "missing", "lab", "confirmed"), user="alice")
            with pytest.raises(BadDecision, match="only a false positive"):
                await decide_hit(backend, decisions, members, spooled.extend,
                                 HitRequest("page", page.id, "lab", "confirmed", value=SHA,
                                            negative_list="lab-innocuous"), user="alice")
            members.set_list("lab2", kind="flag")
            with pytest.raises(ListSettingError, match="is a flag list"):
                await decide_hit(backend, decisions, members, spooled.extend,
                                 HitRequest("page", page.id, "lab", "fp", value=SHA,
                                            negative_list="lab2"), user="alice")
        assert decisions.precision()["lab"] == Precision("lab", 0, 1)
    finally:
        decisions.close()
        members.close()
        store.close()


def test_cli_feedback_is_audited_and_changes_precision(indexed: tuple[Settings, Page]) -> None:
    settings, page = indexed
    base = ["--data-dir", str(settings.data_dir), "hashes"]
    runner = CliRunner()
    confirmed = runner.invoke(main, [*base, "feedback", "page", page.id, "--list", "lab",
                                     "--value", SHA, "--verdict", "confirmed"])
    assert confirmed.exit_code == 0, confirmed.output
    assert f"page/{page.id} on lab (sha256 {SHA}): confirmed" in confirmed.stdout
    false = runner.invoke(main, [*base, "feedback", "page", page.id, "--list", "lab", "--value",
                                 FLAGGED, "--verdict", "false-positive", "--comment", "banner",
                                 "--negative-list", "innocuous"])
    assert false.exit_code == 0, false.output
    report = json.loads(runner.invoke(main, [*base, "precision", "--json"]).stdout)
    assert report["lists"] == [{"name": "lab", "confirmed": 1, "false_positive": 1,
                                "decided": 2, "precision": 0.5, "source": ""}]
    records = [r["data"] for r in AuditLog.for_data_dir(settings.data_dir).records()]
    decided = [r for r in records if r["action"] == "hit_decision"]
    assert [(r["verdict"], r["value"]) for r in decided] == [("confirmed", SHA),
                                                            ("false_positive", FLAGGED)]
    assert decided[1]["negative_list"] == "innocuous" and decided[1]["comment"] == "banner"
    assert all(r["user"].startswith("(cli) ") and r["target"] == f"page/{page.id}"
               for r in decided)
    listed = json.loads(runner.invoke(main, [*base, "decisions", "--list", "lab", "--json"]).stdout)
    assert [(d["verdict"], d["negative_list"]) for d in listed] == [("confirmed", ""),
                                                                   ("false_positive", "innocuous")]
    bad = runner.invoke(main, [*base, "feedback", "page", page.id, "--list", "nope",
                               "--verdict", "confirmed"])
    assert bad.exit_code == 2 and "has no hit on list 'nope'" in bad.output
    assert "Traceback" not in bad.output


async def test_a_video_false_positive_moves_its_vpdq_hash(
    make_settings: Callable[..., Settings],
) -> None:
    frames = [{"t": 0.0, "pdq": "0f" * 32, "q": 80}, {"t": 1.0, "pdq": "f0" * 32, "q": 90}]
    video_sha = "b" * 64
    page = Page(
        url="http://videos1.onion/clip", fetched_at=utcnow(), flagged=True,
        media=[Media(url="http://videos1.onion/clip.mp4", sha256=video_sha, vpdq=frames)],
        matches=[Match(list="lab-videos", type="vpdq", value=video_sha, field="media.vpdq",
                       query_fraction=1.0, entry_fraction=1.0, time_ranges=[[0.0, 1.0]])],
    )
    settings = make_settings()
    store = Store(settings)
    decisions = DecisionStore(decisions_path(settings.data_dir))
    members = MembershipStore(membership_path(settings.data_dir))
    try:
        store.append([page])
        async with store.writer() as drainer:
            await drainer.drain_all()
        async with store.reader() as backend:
            await decide_hit(backend, decisions, members, store.append,
                             HitRequest("page", page.id, "lab-videos", "false_positive",
                                        negative_list="innocuous-videos"), user="alice")
        (entry,) = members.entries_of_type("vpdq")
        assert entry.list == "innocuous-videos"
        assert entry.value == canonical(frames_of(frames))
    finally:
        decisions.close()
        members.close()
        store.close()
