"""The console shows how media hits matched and each list's hygiene; admins release or remove
quarantined values, audited. The hits come from the real drain's matching."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config import load_settings
from documents import Page
from documents.page import Media
from identifiers.vpdq import canonical, frames_of, media_frames
from index.hashsets.importer import hash_document
from index.hashsets.membership import Entry, MembershipStore, membership_path
from tests.console.conftest import Client, ConsoleThread, make_store, serve

NOW = "2026-11-29T12:00:00+00:00"
LISTED_PDQ = "f0" * 32  # on lab-list; the page shows the picture turned
FAR = ("0f" * 32, "3c" * 32, "c3" * 32, "5a" * 32, "a5" * 32, "66" * 32, "99" * 32)
FRAMES = [{"t": float(t), "pdq": h, "q": 100} for t, h in enumerate(("e1" * 32, "1e" * 32,
                                                                   "b4" * 32))]
VIDEO = canonical(frames_of(FRAMES))
LOGO = "aa" * 32  # sha256 on lab-list and on the negative list
FLOOD, FLOOD2 = "bb" * 16, "dd" * 16  # md5 values that hit too often
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def page(n: int, *media: Media) -> Page:
    return Page(url=f"http://hygienemarket.onion/item/{n}", fetched_at=T0, title=f"Item {n}",
                text="generic market listing", media=list(media))


TURNED = page(1,
              Media(url="http://hygienemarket.onion/a.png", sha256="01" * 32, pdq=FAR[0],
                    pdq_quality=100, pdq_dihedral=[FAR[0], LISTED_PDQ, *FAR[1:]]),
              Media(url="http://hygienemarket.onion/v.mp4", sha256="02" * 32, kind="video",
                    vpdq=media_frames(frames_of(FRAMES)), duration_s=3.0))
LOGO_PAGE = page(2, Media(url="http://hygienemarket.onion/logo.png", sha256=LOGO))
FLOODED = [page(10 + n, Media(url=f"http://hygienemarket.onion/f{n}.jpg", md5=value))
           for n, value in enumerate([FLOOD] * 4 + [FLOOD2] * 3)]


@pytest.fixture(scope="module")
def hygiene_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleThread]:
    data_dir = tmp_path_factory.mktemp("hygiene-console")
    settings = load_settings(None, environ={}, overrides={
        "data_dir": str(data_dir),
        "index": {"reader_reload_s": 0.1, "batch_age_s": 0.1},
        "console": {"login_attempts": 3, "login_lockout_s": 60},
        "evidence": {"signing_key_file": str(data_dir.parent / f"{data_dir.name}-key.pem")},
        "matching": {"flood_hits": 2},
    })
    members = MembershipStore(membership_path(data_dir))
    members.set_list("lab-list", source="unit A exchange", trust="high", distance=20)
    flagged = [Entry("lab-list", t, v, "", f"e{n}", NOW) for n, (t, v) in enumerate(
        [("pdq", LISTED_PDQ), ("vpdq", VIDEO), ("sha256", LOGO), ("md5", FLOOD),
         ("md5", FLOOD2)])]
    members.upsert(flagged)
    negative = members.add_negative("known-good", "sha256", LOGO, entry="common logo")
    info = {name: members.list_info(name) for name in ("lab-list", "known-good")}
    members.close()
    store = make_store(settings)

    async def drain() -> None:
        store.append([hash_document(e, info=info[e.list]) for e in [*flagged, *negative]])
        store.append([TURNED, LOGO_PAGE, *FLOODED])
        async with store.writer(with_stages=True) as drainer:
            await drainer.drain_all()

    asyncio.run(drain())
    yield from serve(settings, store)


def login(console: ConsoleThread, name: str) -> Client:
    return Client(console.url).login(name)


def test_page_says_which_turn_matched_and_where_the_video_matched(
    hygiene_console: ConsoleThread,
) -> None:
    alice = login(hygiene_console, "alice")
    html = alice.get(f"/page/{TURNED.id}").text
    assert "matched rot90" in html
    assert "100 % of the video&#39;s frames and 100 % of the entry&#39;s" in html \
        or "100 % of the video's frames and 100 % of the entry's" in html
    assert "at 0–2 s" in html
    assert "vpdq 3 frames, 3.0 s" in html
    assert "<img" not in html and "<video" not in html


def test_hash_lists_show_settings_counts_and_quarantine(hygiene_console: ConsoleThread) -> None:
    alice = login(hygiene_console, "alice")
    data = alice.get("/api/hashes").json()
    lab = data["list_settings"]["lab-list"]
    assert (lab["kind"], lab["source"], lab["trust"], lab["distance"], lab["state"]) == (
        "flag", "unit A exchange", "high", 20, "active")
    assert lab["suppressed"] == 1 and lab["held"] == 3 and lab["quarantined"] == 2
    assert data["list_settings"]["known-good"]["kind"] == "negative"
    assert data["list_settings"]["known-good"]["suppressing"] == 1
    held = {q["value"]: (q["type"], q["lists"], q["held"]) for q in data["quarantine"]}
    assert held == {FLOOD: ("md5", ["lab-list"], 2), FLOOD2: ("md5", ["lab-list"], 1)}
    html = alice.get("/hashes").text
    assert "unit A exchange" in html and "1 suppressing" in html and "(2 in quarantine)" in html
    assert FLOOD in html and 'action="/hashes/quarantine/release"' not in html
    root = login(hygiene_console, "root")
    assert 'action="/hashes/quarantine/release"' in root.get("/hashes").text


def test_release_and_remove_are_for_admins_and_audited(hygiene_console: ConsoleThread) -> None:
    alice = login(hygiene_console, "alice")
    form = {"type": "md5", "value": FLOOD}
    denied = alice.post("/api/hashes/quarantine/release", headers={"X-CSRF-Token": alice.csrf},
                        data=form)
    assert denied.status == 403 and "admin role" in denied.json()["error"]["message"]
    root = login(hygiene_console, "root")
    assert root.post("/api/hashes/quarantine/release", data=form).status == 403  # no token
    wrong = root.post("/api/hashes/quarantine/release", headers={"X-CSRF-Token": root.csrf},
                      data={"type": "md5", "value": "cc" * 16})
    assert wrong.status == 400 and repr("cc" * 16) in wrong.json()["error"]["message"]
    released = root.post("/api/hashes/quarantine/release", headers={"X-CSRF-Token": root.csrf},
                         data=form)
    assert released.status == 200, released.text
    assert released.json()["released"] == 2
    assert [q["value"] for q in alice.get("/api/hashes").json()["quarantine"]] == [FLOOD2]
    again = root.post("/api/hashes/quarantine/remove", headers={"X-CSRF-Token": root.csrf},
                      data=form)
    assert again.status == 400 and "no md5 value" in again.json()["error"]["message"]

    audit = root.get("/api/audit?action=quarantine_release").json()["records"]
    done = [(r["data"]["user"], r["data"].get("target"), r["data"].get("released"))
            for r in audit if not r["data"].get("denied")]
    assert done == [("root", f"md5:{FLOOD}", 2)]
    assert any(r["data"]["user"] == "alice" and r["data"].get("denied") for r in audit)


def test_remove_drops_the_value_from_its_lists(hygiene_console: ConsoleThread) -> None:
    root = login(hygiene_console, "root")
    removed = root.post("/hashes/quarantine/remove",
                        form={"csrf_token": root.csrf, "type": "md5", "value": FLOOD2})
    assert removed.status == 303 and removed.headers["Location"] == "/hashes"
    members = MembershipStore(membership_path(Path(hygiene_console.settings.data_dir)))
    try:
        assert members.lookup("md5", FLOOD2) == [] and members.quarantine.entries() == []
    finally:
        members.close()
    audit = root.get("/api/audit?action=quarantine_remove").json()["records"]
    assert [(r["data"]["user"], r["data"].get("removed_from")) for r in audit] == [
        ("root", ["lab-list"])]
