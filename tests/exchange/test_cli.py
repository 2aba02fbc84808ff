"""``heroes export misp|stix`` and ``heroes hashes import --format misp|stix``."""

from __future__ import annotations

import json
from pathlib import Path

import stix2
from click.testing import CliRunner
from pymisp import MISPEvent

from heroes.cli import main
from index.hashsets.membership import MembershipStore, membership_path
from tests.exchange.labdata import CLUSTER_ID, INFOHASH, MD5, ONION_A, PEER_IPS


def heroes(lab_dir: Path, *args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, ["--data-dir", str(lab_dir), *args], env=env,
                              catch_exceptions=False)


def test_export_misp_writes_an_event_misp_reads(lab_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    result = heroes(lab_dir, "export", "misp", "--service", ONION_A, "--out", str(out),
                    "--tlp", "green")
    assert result.exit_code == 0, result.output
    event = MISPEvent()
    event.load(out.read_text())
    assert "tlp:green" in {t.name for t in event.tags}
    assert "TLP:GREEN" in result.output


def test_export_stix_of_a_cluster(lab_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle.json"
    result = heroes(lab_dir, "export", "stix", "--cluster", CLUSTER_ID, "--out", str(out))
    assert result.exit_code == 0, result.output
    bundle = stix2.parse(out.read_text(), allow_custom=True)
    assert any(o.type == "marking-definition" and o.name == "TLP:AMBER" for o in bundle.objects)


def test_export_to_stdout_carries_peers_only_when_the_config_allows(
    lab_dir: Path, tmp_path: Path,
) -> None:
    result = heroes(lab_dir, "export", "stix", "--infohash", INFOHASH, "--out", "-")
    assert result.exit_code == 0, result.output
    assert not any(ip in result.output for ip in PEER_IPS)
    config = tmp_path / "heroes.toml"
    config.write_text("[exchange]\ninclude_peers = true\n")
    result = heroes(lab_dir, "--config", str(config), "export", "stix", "--infohash", INFOHASH,
                    "--out", "-")
    assert result.exit_code == 0, result.output
    assert all(ip in result.output for ip in PEER_IPS)


def test_export_needs_exactly_one_known_subject(lab_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.json")
    none = heroes(lab_dir, "export", "misp", "--out", out)
    both = heroes(lab_dir, "export", "misp", "--service", ONION_A, "--infohash", INFOHASH,
                  "--out", out)
    unknown = heroes(lab_dir, "export", "misp", "--alert", "no-such-alert", "--out", out)
    bad = heroes(lab_dir, "export", "stix", "--infohash", "xyz", "--out", out)
    for result in (none, both, unknown, bad):
        assert result.exit_code == 2, result.output
    assert "exactly one of" in none.output
    assert "no alert with id 'no-such-alert'" in unknown.output
    assert "'xyz'" in bad.output
    assert not Path(out).exists()


def test_hashes_import_of_an_export_fills_a_list(tmp_path: Path, lab_dir: Path) -> None:
    bundle = tmp_path / "bundle.json"
    assert heroes(lab_dir, "export", "stix", "--service", ONION_A, "--out",
                  str(bundle)).exit_code == 0
    data_dir = tmp_path / "importer"
    result = heroes(data_dir, "hashes", "import", str(bundle), "--format", "stix", "--list",
                    "partner")
    assert result.exit_code == 0, result.output
    assert "list partner: 9 values added" in result.output
    assert "STIX bundle bundle--" in result.output
    assert "not imported (no list holds these types)" in result.output
    members = MembershipStore(membership_path(data_dir))
    try:
        assert [e.value for e in members.entries_of_type("md5") if e.list == "partner"] == [MD5]
        assert members.list_info("partner").source.startswith("STIX bundle bundle--")
    finally:
        members.close()


def test_hashes_import_reports_bad_objects_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"Event": {"uuid": "5b1d7f0e-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                                          "Attribute": [{"type": "md5", "value": MD5},
                                                        {"type": "md5", "value": "nope"}]}}))
    result = heroes(tmp_path / "data", "hashes", "import", str(path), "--format", "misp")
    assert result.exit_code == 1, result.output
    assert "Attribute[1]" in result.output and "'nope'" in result.output
    assert "list event: 1 values added" in result.output
    unreadable = tmp_path / "bad.json"
    unreadable.write_text("{")
    result = heroes(tmp_path / "data", "hashes", "import", str(unreadable), "--format", "stix")
    assert result.exit_code == 2, result.output
    assert "not a STIX bundle file" in result.output
