"""MISP events and STIX bundles into hash lists: round trips, bad objects named, good ones kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stix2

from documents import Document, FlaggedHash
from exchange.errors import UnreadableExchangeFile
from exchange.facts import Facts
from exchange.importing import import_exchange
from exchange.misp_export import build_event, event_json
from exchange.stix_export import build_bundle, bundle_json
from index.hashsets.errors import HashSetError
from index.hashsets.membership import MembershipStore
from tests.exchange.labdata import (
    BTC,
    EMAIL,
    ETH,
    INFOHASH,
    MD5,
    ONION_A,
    PGP,
    SHA1,
    SHA256,
    XMR,
)
from tests.exchange.test_export import facts_of

# Every value of a list type the lab service's export carries.
EXPECTED = {("md5", MD5), ("sha1", SHA1), ("sha256", SHA256), ("btc", BTC), ("xmr", XMR),
            ("eth", ETH), ("email", EMAIL), ("pgp", PGP), ("infohash", INFOHASH)}


class Spool:
    def __init__(self) -> None:
        self.docs: list[Document] = []

    def __call__(self, docs: Any) -> int:
        batch = list(docs)
        self.docs.extend(batch)
        return len(batch)


@pytest.fixture
def members(tmp_path: Path) -> Iterator[MembershipStore]:
    store = MembershipStore(tmp_path / "members.sqlite")
    yield store
    store.close()


def entries(members: MembershipStore, list_name: str) -> set[tuple[str, str]]:
    return {(e.type, e.value) for t in ("md5", "sha1", "sha256", "btc", "xmr", "eth", "email",
                                        "pgp", "infohash", "keyword", "pdq")
            for e in members.entries_of_type(t) if e.list == list_name}


def run(path: Path, fmt: str, members: MembershipStore, **kw: Any) -> tuple[Any, list[str]]:
    problems: list[str] = []
    spool = Spool()
    result = import_exchange(path, fmt, members, spool, on_problem=problems.append, **kw)
    assert all(isinstance(d, FlaggedHash) for d in spool.docs)
    assert len(spool.docs) == result.report.imported
    return result, problems


@pytest.fixture
async def facts(lab_dir: Path) -> Facts:
    return await facts_of(lab_dir, "service", ONION_A)


def test_stix_round_trip_keeps_every_indicator(
    tmp_path: Path, members: MembershipStore, facts: Facts
) -> None:
    text = bundle_json(build_bundle(facts, tlp="amber", producer="lab"))
    path = tmp_path / "bundle.json"
    path.write_text(text)
    result, problems = run(path, "stix", members, list_name="from-stix")
    assert problems == []
    assert entries(members, "from-stix") == EXPECTED
    bundle = stix2.parse(text, allow_custom=True)
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    # each indicator is imported, or counted as of a type no list holds (onion, phone)
    assert result.report.read + sum(result.skipped.values()) == len(indicators)
    assert set(result.skipped) == {"onion", "phone"}
    info = members.list_info("from-stix")
    assert info.source == f"STIX bundle {bundle.id} (bundle.json)"
    # the entry of each value is the indicator it came from
    ids = {o.id for o in indicators}
    assert {e.entry for e in members.entries_of_type("sha256") if e.list == "from-stix"} <= ids

    again, _ = run(path, "stix", members, list_name="from-stix")
    assert (again.report.imported, again.report.unchanged) == (0, len(EXPECTED))


def test_misp_round_trip_keeps_every_indicator(
    tmp_path: Path, members: MembershipStore, facts: Facts
) -> None:
    event = build_event(facts, tlp="amber", producer="lab")
    path = tmp_path / "event.json"
    path.write_text(event_json(event))
    result, problems = run(path, "misp", members, list_name="from-misp", category="lab")
    assert problems == []
    assert entries(members, "from-misp") == EXPECTED
    assert members.list_info("from-misp").source == f"MISP event {event.uuid} (event.json)"
    assert {e.category for e in members.entries_of_type("md5")} == {"lab"}
    assert result.skipped == {"onion-address": 2, "phone-number": 1}


def test_stix_bad_objects_are_named_and_the_good_ones_kept(
    tmp_path: Path, members: MembershipStore,
) -> None:
    good = stix2.Indicator(pattern=f"[file:hashes.MD5 = '{MD5}']", pattern_type="stix",
                           valid_from="2026-11-01T00:00:00Z")
    bad_value = stix2.Indicator(
        pattern="[email-addr:value = 'not an address']", pattern_type="stix",
        valid_from="2026-11-01T00:00:00Z")
    objects: list[Any] = [json.loads(good.serialize()), "a string",
                          {"type": "indicator", "id": "indicator--0b1e7e9a-3a4b-4c5d-8e6f-"
                           "7a8b9c0d1e2f", "spec_version": "2.1", "pattern": "[broken",
                           "pattern_type": "stix", "created": "2026-11-01T00:00:00Z",
                           "modified": "2026-11-01T00:00:00Z",
                           "valid_from": "2026-11-01T00:00:00Z"},
                          json.loads(bad_value.serialize()),
                          {"type": "indicator", "id": "indicator--9"}]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--5d0c1e6a-7b8c-4d9e-8f0a-"
                                "1b2c3d4e5f60", "objects": objects}, indent=2))
    result, problems = run(path, "stix", members, list_name="mixed")
    assert entries(members, "mixed") == {("md5", MD5)}
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"{path}:") and "objects[1]:" in problems[0]
    assert "objects[2] ('indicator--0b1e7e9a-3a4b-4c5d-8e6f-7a8b9c0d1e2f')" in problems[1]
    assert f"objects[3] ({bad_value.id!r})" in problems[2]
    assert "'not an address'" in problems[2]
    assert "objects[4] ('indicator--9')" in problems[3]
    # the line is where the object starts in the file
    line = int(problems[1].split(":")[1])
    assert "indicator--0b1e7e9a" in path.read_text().splitlines()[line - 1]
    assert result.report.bad == 4 and result.report.good == 1


def test_misp_bad_objects_are_named_and_the_good_ones_kept(
    tmp_path: Path, members: MembershipStore,
) -> None:
    event = {"Event": {
        "uuid": "5b1d7f0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b", "info": "lab",
        "Attribute": [
            {"uuid": "11111111-1111-4111-8111-111111111111", "type": "md5", "value": MD5},
            {"uuid": "22222222-2222-4222-8222-222222222222", "type": "no-such-type",
             "value": "x"},
            {"uuid": "33333333-3333-4333-8333-333333333333", "type": "btc", "value": "1BAD"},
            7,
        ],
        "Object": [
            {"uuid": "44444444-4444-4444-8444-444444444444", "name": "coin-address",
             "Attribute": [{"object_relation": "address-crypto", "type": "text",
                            "value": ETH},
                           {"object_relation": "symbol", "type": "text", "value": "ETH"}]},
            "not an object",
            {"uuid": "55555555-5555-4555-8555-555555555555", "name": "file",
             "Attribute": [{"uuid": "66666666-6666-4666-8666-666666666666",
                            "object_relation": "sha256", "type": "sha256",
                            "value": "zz"}]},
        ]}}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event, indent=2))
    result, problems = run(path, "misp", members, list_name="mixed")
    assert entries(members, "mixed") == {("md5", MD5), ("eth", ETH)}
    assert len(problems) == 5, problems
    base = "Event '5b1d7f0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b'"
    assert f"{base} Attribute[1] ('22222222-2222-4222-8222-222222222222')" in problems[0]
    assert f"{base} Attribute[2] ('33333333-3333-4333-8333-333333333333')" in problems[1]
    assert "'1BAD'" in problems[1]
    assert f"{base} Attribute[3]: expected a JSON object" in problems[2]
    assert f"{base} Object[1]: expected a JSON object" in problems[3]
    assert (f"{base} Object[2] 'file' ('55555555-5555-4555-8555-555555555555') Attribute[0] "
            "('66666666-6666-4666-8666-666666666666')") in problems[4]
    assert "'zz'" in problems[4]
    line = int(problems[1].split(":")[1])
    assert "33333333" in path.read_text().splitlines()[line - 1]
    assert result.report.good == 2


@pytest.mark.parametrize(("fmt", "text", "message"), [
    ("stix", '{"type": "bundle", "objects": [', "not a STIX bundle file"),
    ("stix", '{"type": "indicator"}', r"not a STIX bundle \(expected"),
    ("misp", "[1, 2]", "item 0 is not a MISP event"),
    ("misp", '{"Event": {"info": "x"},\n "Event": {}}', "duplicate key"),
])
def test_unreadable_files_are_one_error_naming_the_file(
    tmp_path: Path, members: MembershipStore, fmt: str, text: str, message: str,
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UnreadableExchangeFile, match=message) as caught:
        run(path, fmt, members)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, HashSetError)  # the CLI and console report it as such
