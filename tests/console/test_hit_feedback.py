"""Confirm / false-positive buttons on a page's hits, audited, and precision on the hash lists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from documents import Match, Page
from documents.page import Media
from index.hashsets.membership import MembershipStore, membership_path
from tests.console.conftest import (
    Client,
    ConsoleThread,
    console_settings,
    ingest,
    make_store,
    serve,
)

SHA = "5" * 64
PDQ = "c" * 64
PAGE = Page(
    url="http://feedbackmarket.onion/item/7",
    fetched_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    title="Item seven",
    text="generic market listing",
    media=[Media(url="http://feedbackmarket.onion/a.jpg", sha256=SHA, pdq=PDQ, flagged=True)],
    flagged=True,
    matches=[
        Match(list="lab-list", type="sha256", value=SHA, field="media.sha256", category="lab"),
        Match(list="lab-list", type="pdq", value=PDQ, field="media.pdq", distance=6),
    ],
)


@pytest.fixture(scope="module")
def feedback_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("feedback-console")
    settings = console_settings(data_dir)
    store = make_store(settings)
    asyncio.run(ingest(store, [PAGE]))
    yield from serve(settings, store)


def login(console: ConsoleThread, name: str) -> Client:
    return Client(console.url).login(name)


def test_hits_carry_decision_buttons_with_the_csrf_token(feedback_console: ConsoleThread) -> None:
    alice = login(feedback_console, "alice")
    html = alice.get(f"/page/{PAGE.id}").text
    assert f'action="/hits/page/{PAGE.id}/decide"' in html
    assert f'name="csrf_token" value="{alice.csrf}"' in html
    assert 'value="confirmed"' in html and 'value="false_positive"' in html
    assert 'name="negative_list"' not in html  # only admins move values to negative lists
    root = login(feedback_console, "root")
    assert 'name="negative_list"' in root.get(f"/page/{PAGE.id}").text


def test_a_decision_needs_the_csrf_token(feedback_console: ConsoleThread) -> None:
    alice = login(feedback_console, "alice")
    form = {"list": "lab-list", "value": SHA, "verdict": "confirmed"}
    assert alice.post(f"/hits/page/{PAGE.id}/decide", form=form).status == 403
    wrong = alice.post(f"/api/hits/page/{PAGE.id}/decide", data=form,
                       headers={"X-CSRF-Token": "not-the-token"})
    assert wrong.status == 403


def test_confirm_and_false_positive_are_audited_and_change_precision(
    feedback_console: ConsoleThread,
) -> None:
    alice = login(feedback_console, "alice")
    confirmed = alice.post(
        f"/hits/page/{PAGE.id}/decide",
        form={"csrf_token": alice.csrf, "list": "lab-list", "value": SHA, "type": "sha256",
              "verdict": "confirmed", "comment": "same listing photo"},
    )
    assert confirmed.status == 303 and confirmed.headers["Location"] == f"/page/{PAGE.id}"
    page = alice.get(f"/page/{PAGE.id}").text
    assert "confirmed by alice: same listing photo" in page

    # Moving a value to a negative list changes matching for everyone: admins only.
    denied = alice.post(f"/api/hits/page/{PAGE.id}/decide", headers={"X-CSRF-Token": alice.csrf},
                        data={"list": "lab-list", "value": PDQ, "verdict": "false_positive",
                              "negative_list": "lab-innocuous"})
    assert denied.status == 403 and "admin role" in denied.json()["error"]["message"]

    root = login(feedback_console, "root")
    moved = root.post(f"/api/hits/page/{PAGE.id}/decide", headers={"X-CSRF-Token": root.csrf},
                      data={"list": "lab-list", "value": PDQ, "verdict": "false_positive",
                            "negative_list": "lab-innocuous", "comment": "forum banner"})
    assert moved.status == 200, moved.text
    assert moved.json()["verdict"] == "false_positive" and moved.json()["user"] == "root"
    members = MembershipStore(membership_path(Path(feedback_console.settings.data_dir)))
    try:
        assert [e.list for e in members.lookup("pdq", PDQ)] == ["lab-innocuous"]
        assert members.list_info("lab-innocuous").negative
    finally:
        members.close()

    lists = alice.get("/api/hashes").json()["precision"]
    assert {p["name"]: (p["confirmed"], p["false_positive"], p["precision"])
            for p in lists["lists"]} == {"lab-list": (1, 1, 0.5)}
    assert "Precision from analysts" in alice.get("/hashes").text
    assert "50 %" in alice.get("/hashes").text

    audit = root.get("/api/audit?action=hit_decision").json()["records"]
    decided = [(r["data"]["user"], r["data"].get("verdict"), r["data"].get("negative_list"))
               for r in audit if not r["data"].get("denied")]
    assert ("alice", "confirmed", None) in decided
    assert ("root", "false_positive", "lab-innocuous") in decided
    assert any(r["data"]["user"] == "alice" and r["data"].get("denied") for r in audit)


@pytest.mark.parametrize(("fields", "param", "words"), [
    ({"list": "other-list", "verdict": "confirmed"}, "hit", "has no hit on list 'other-list'"),
    ({"list": "lab-list", "verdict": "confirmed"}, "hit", "has 2 hits on list 'lab-list'"),
    ({"list": "lab-list", "value": SHA, "verdict": "maybe"}, "verdict", "verdict 'maybe'"),
    ({"value": SHA, "verdict": "confirmed"}, "list", "list is required"),
])
def test_bad_decisions_are_400s_naming_the_field(
    feedback_console: ConsoleThread, fields: dict[str, str], param: str, words: str
) -> None:
    alice = login(feedback_console, "alice")
    resp = alice.post(f"/api/hits/page/{PAGE.id}/decide", headers={"X-CSRF-Token": alice.csrf},
                      data=fields)
    assert resp.status == 400, resp.text
    error = resp.json()["error"]
    assert error["param"] == param and words in error["message"]
    missing = alice.post("/api/hits/page/nope/decide", headers={"X-CSRF-Token": alice.csrf},
                         data={"list": "lab-list", "verdict": "confirmed"})
    assert missing.status == 400 and "no page document with id 'nope'" in missing.text
