"""Exports of a lab-like index, read back by pymisp and stix2: every object type, TLP, peers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import stix2
from pymisp import MISPEvent, MISPObject

from exchange.collect import collect
from exchange.errors import BadSubject, SubjectNotFound
from exchange.facts import Facts
from exchange.misp_export import TEMPLATES, build_event, event_json
from exchange.stix_export import build_bundle, bundle_json
from index.store import Store
from tests.exchange.labdata import (
    BTC,
    CLUSTER_ID,
    EMAIL,
    ETH,
    INFOHASH,
    MD5,
    MERGED_ID,
    ONION_A,
    ONION_B,
    PEER_IPS,
    PGP,
    PHONE,
    SHA1,
    SHA256,
    XMR,
    alert_id,
    settings_for,
)


async def facts_of(lab_dir: Path, kind: str, key: str, **exchange: Any) -> Facts:
    settings = settings_for(lab_dir, **exchange)
    store = Store(settings)
    try:
        async with store.reader() as backend:
            return await collect(backend, kind, key, settings.exchange)
    finally:
        store.close()


def misp(facts: Facts, tlp: str = "amber") -> MISPEvent:
    """The export as MISP reads it: its JSON loaded by pymisp."""
    text = event_json(build_event(facts, tlp=tlp, producer="lab unit", tags=["lab:test"]))
    event = MISPEvent()
    event.load(text)
    return event


def stix(facts: Facts, tlp: str = "amber") -> stix2.Bundle:
    text = bundle_json(build_bundle(facts, tlp=tlp, producer="lab unit"))
    return stix2.parse(text, allow_custom=True)


def misp_values(event: MISPEvent) -> dict[tuple[str, str], set[str]]:
    """(object name or "", relation or type) -> values."""
    out: dict[tuple[str, str], set[str]] = {}
    for attribute in event.attributes:
        out.setdefault(("", attribute.type), set()).add(str(attribute.value))
    for obj in event.objects:
        for attribute in obj.attributes:
            out.setdefault((obj.name, attribute.object_relation), set()).add(str(attribute.value))
    return out


def check_templates(event: MISPEvent) -> None:
    """Every object follows its template: each relation is known, the required ones there."""
    for obj in event.objects:
        custom = {"misp_objects_path_custom": TEMPLATES} if obj.name == "bittorrent" else {}
        again = MISPObject(obj.name, strict=True, **custom)
        for attribute in obj.attributes:
            again.add_attribute(attribute.object_relation, value=attribute.value)
        again._validate()


def subjects() -> list[tuple[str, str]]:
    """Lab-like subjects whose exports carry every kind of value: each reaches the front page."""
    return [("service", ONION_A), ("alert", alert_id()), ("infohash", INFOHASH),
            ("cluster", CLUSTER_ID)]


@pytest.mark.parametrize(("kind", "key"), subjects())
async def test_misp_event_carries_every_object_type(lab_dir: Path, kind: str, key: str) -> None:
    event = misp(await facts_of(lab_dir, kind, key))
    check_templates(event)
    values = misp_values(event)
    assert {o.name for o in event.objects} == {
        "tor-hiddenservice", "coin-address", "pgp-meta", "file", "bittorrent"}
    assert values[("tor-hiddenservice", "address")] == {ONION_A, ONION_B}
    assert values[("coin-address", "address")] == {BTC}
    assert values[("coin-address", "address-xmr")] == {XMR}
    assert values[("coin-address", "address-crypto")] == {ETH}
    assert values[("coin-address", "symbol")] == {"BTC", "XMR", "ETH"}
    assert values[("", "email")] == {EMAIL}
    assert values[("", "phone-number")] == {PHONE}
    assert f"http://{ONION_A}/" in values[("", "url")]
    assert values[("pgp-meta", "key-id")] == {PGP}
    assert (values[("file", "md5")], values[("file", "sha1")], values[("file", "sha256")]) == (
        {MD5}, {SHA1}, {SHA256})
    assert values[("file", "filename")] == {"lamp.jpg"}
    assert values[("bittorrent", "infohash")] == {INFOHASH}
    assert values[("bittorrent", "name")] == {"garden-photos"}
    assert {t.name for t in event.tags} == {"tlp:amber", "lab:test"}
    assert event.info.startswith(f"{kind} {key}")
    assert event.distribution == 0
    assert event.Orgc.name == "lab unit"


async def test_misp_export_is_the_same_event_when_exported_again(lab_dir: Path) -> None:
    facts = await facts_of(lab_dir, "service", ONION_A)
    first, second = misp(facts), misp(facts)
    assert first.uuid == second.uuid
    assert sorted(a.uuid for a in first.attributes) == sorted(a.uuid for a in second.attributes)
    assert sorted(o.uuid for o in first.objects) == sorted(o.uuid for o in second.objects)


async def test_peers_leave_only_where_the_settings_allow(lab_dir: Path) -> None:
    hidden = await facts_of(lab_dir, "infohash", INFOHASH)
    assert not hidden.peers
    assert "ip-port" not in {o.name for o in misp(hidden).objects}
    assert not [o for o in stix(hidden).objects if o.type in ("ipv4-addr", "observed-data")]
    for ip in PEER_IPS:
        assert ip not in event_json(build_event(hidden, tlp="red", producer="x"))
        assert ip not in bundle_json(build_bundle(hidden, tlp="red", producer="x"))

    shown = await facts_of(lab_dir, "infohash", INFOHASH, include_peers=True)
    event = misp(shown)
    check_templates(event)
    assert misp_values(event)[("ip-port", "ip-dst")] == set(PEER_IPS)
    bundle = stix(shown)
    assert {o.value for o in bundle.objects if o.type == "ipv4-addr"} == set(PEER_IPS)
    assert Counter(o.type for o in bundle.objects)["observed-data"] == len(PEER_IPS)


@pytest.mark.parametrize(("kind", "key"), subjects())
async def test_stix_bundle_has_indicators_observables_relationships(
    lab_dir: Path, kind: str, key: str,
) -> None:
    bundle = stix(await facts_of(lab_dir, kind, key))
    types = Counter(o.type for o in bundle.objects)
    for kind in ("indicator", "relationship", "grouping", "identity", "marking-definition",
                 "infrastructure", "domain-name", "url", "email-addr", "file",
                 "x-heroes-wallet", "x-heroes-phone", "x-heroes-pgp-key", "x-heroes-torrent"):
        assert types[kind], f"no {kind} in the bundle: {dict(types)}"
    patterns = {o.pattern for o in bundle.objects if o.type == "indicator"}
    assert f"[file:hashes.'SHA-256' = '{SHA256}']" in patterns
    assert f"[domain-name:value = '{ONION_A}']" in patterns
    assert (f"[x-heroes-wallet:currency = 'xmr' AND x-heroes-wallet:address = '{XMR}']"
            in patterns)
    by_id = {o.id: o for o in bundle.objects}
    for rel in (o for o in bundle.objects if o.type == "relationship"):
        assert rel.source_ref in by_id and rel.target_ref in by_id, rel
    indicates = [r for r in bundle.objects if r.type == "relationship"
                 and r.relationship_type == "indicates"]
    assert {by_id[r.target_ref].name for r in indicates} == {ONION_A, ONION_B}
    grouping = next(o for o in bundle.objects if o.type == "grouping")
    assert set(grouping.object_refs) >= {o.id for o in bundle.objects
                                          if o.type not in ("grouping", "marking-definition",
                                                            "identity")}


@pytest.mark.parametrize("tlp", ["clear", "amber", "red"])
async def test_every_stix_object_carries_the_tlp_marking(lab_dir: Path, tlp: str) -> None:
    bundle = stix(await facts_of(lab_dir, "service", ONION_A), tlp)
    marking = next(o for o in bundle.objects if o.type == "marking-definition")
    assert marking.name == f"TLP:{'WHITE' if tlp == 'clear' else tlp.upper()}"
    for obj in bundle.objects:
        if obj.type != "marking-definition":
            assert obj.object_marking_refs == [marking.id], obj.id
    assert {t.name for t in misp(await facts_of(lab_dir, "service", ONION_A), tlp).tags} >= {
        f"tlp:{tlp}"}


async def test_alert_export_carries_what_the_alert_matched(lab_dir: Path) -> None:
    facts = await facts_of(lab_dir, "alert", alert_id())
    values = misp_values(misp(facts))
    assert values[("file", "sha256")] == {SHA256}
    assert values[("", "email")] == {EMAIL}
    assert values[("bittorrent", "name")] == {"garden-photos"}
    assert facts.subject.title.startswith("hash-hit")


async def test_cluster_export_links_its_members_with_reasons(lab_dir: Path) -> None:
    facts = await facts_of(lab_dir, "cluster", CLUSTER_ID)
    assert set(facts.onions) == {ONION_A, ONION_B}
    assert INFOHASH in facts.torrents
    event = misp(facts)
    comments = {a.value for a in event.attributes if a.type == "comment"}
    assert any(EMAIL in c and "page-a" in c and "page-b" in c for c in comments), comments
    bundle = stix(facts)
    by_id = {o.id: o for o in bundle.objects}
    edges = [o for o in bundle.objects if o.type == "relationship"
             and "both carried" in getattr(o, "description", "")]
    ends = {(by_id[e.source_ref].type, by_id[e.target_ref].type) for e in edges}
    assert ends == {("infrastructure", "infrastructure"), ("infrastructure", "x-heroes-torrent")}
    assert any(BTC in e.description for e in edges)


async def test_a_cluster_stays_the_subject_whatever_its_id_and_merges_are_followed(
    lab_dir: Path,
) -> None:
    made_for_a_torrent = await facts_of(lab_dir, "cluster", INFOHASH)
    assert (made_for_a_torrent.subject.kind, made_for_a_torrent.subject.key) == (
        "cluster", INFOHASH)
    assert set(made_for_a_torrent.onions) >= {ONION_B} and INFOHASH in made_for_a_torrent.torrents
    merged = await facts_of(lab_dir, "cluster", MERGED_ID)
    assert merged.subject.key == CLUSTER_ID  # the survivor, which holds the members now
    assert set(merged.onions) == {ONION_A, ONION_B}


async def test_unknown_subjects_are_named(lab_dir: Path) -> None:
    with pytest.raises(SubjectNotFound, match="no alert with id 'nope'"):
        await facts_of(lab_dir, "alert", "nope")
    with pytest.raises(SubjectNotFound, match="no cluster"):
        await facts_of(lab_dir, "cluster", "nope")
    with pytest.raises(BadSubject, match="'zz'"):
        await facts_of(lab_dir, "infohash", "zz")
    absent = ONION_A.replace(ONION_A[0], "b" if ONION_A[0] != "b" else "c", 1)
    with pytest.raises((SubjectNotFound, BadSubject)):
        await facts_of(lab_dir, "service", absent)


def test_misp_json_is_wrapped_as_misp_exports_it(tmp_path: Path) -> None:
    from exchange.facts import Subject

    text = event_json(build_event(Facts(Subject("service", ONION_A)), tlp="green",
                                  producer="lab"))
    assert list(json.loads(text)) == ["Event"]
