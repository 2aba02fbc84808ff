"""``heroes peers`` on a real embedded index: ranking, explanation, export, assignment, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from config import Settings
from heroes.cli import main
from heroes.console.audit import AuditLog
from index.store import Store
from tests.triage import peer_data as pd
from tests.triage.conftest import load


@pytest.fixture
async def installation(make_settings: Callable[..., Settings], tmp_path: Path) -> list[str]:
    config = tmp_path / "heroes.toml"
    config.write_text('[triage.severity]\na = 3\nb = 2\n')
    settings = make_settings(triage={"severity": pd.SEVERITY})
    store = Store(settings)
    try:
        async with store.writer() as drainer:
            await load(drainer.backend, settings, skip_evidence={pd.MID})
    finally:
        store.close()
    return ["--config", str(config), "--data-dir", str(settings.data_dir)]


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_list_show_export_assign(installation: list[str], tmp_path: Path) -> None:
    listed = run([*installation, "peers", "list", "--json", "--limit", "3"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["ip"] for r in rows] == [pd.TOP, pd.MID, pd.V6_A]
    assert set(rows[0]["terms"]) >= {"swarms", "severity", "completeness"}

    table = run([*installation, "peers", "list", "--min-level", "1"])
    assert table.exit_code == 0 and pd.TOP in table.output and pd.L0_ONLY not in table.output

    shown = run([*installation, "peers", "show", pd.MOVED_FROM])
    assert shown.exit_code == 0, shown.output
    assert "possible same host" in shown.output and "total" in shown.output

    out = tmp_path / "top.csv"
    exported = run([*installation, "peers", "export", pd.TOP, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_text().count("\n") == 7  # header + 6 sightings

    assigned = run([*installation, "peers", "assign", pd.TOP, "--case", "LAB-2026-17",
                    "--analyst", "analyst1"])
    assert assigned.exit_code == 0, assigned.output
    again = json.loads(run([*installation, "peers", "list", "--json", "--limit", "1"]).output)
    assert again[0]["assignment"]["case_number"] == "LAB-2026-17"

    data_dir = Path(installation[3])
    actions = [(r["data"]["action"], r["data"].get("target")) for r in
               AuditLog.for_data_dir(data_dir).records()]
    assert ("view", f"peer/{pd.MOVED_FROM}") in actions
    assert ("export", f"peer/{pd.TOP}") in actions
    assert ("assign", f"peer/{pd.TOP}") in actions


@pytest.mark.parametrize(("args", "words"), [
    (["peers", "show", "127.20.0.300"], "ip: not an IP address: '127.20.0.300'"),
    (["peers", "list", "--since", "yesterday-ish"], "since: 'yesterday-ish' is not a time"),
    (["peers", "list", "--since", "now-1d", "--until", "now-2d"], "until: 'now-2d' is before"),
    (["peers", "list", "--min-level", "5"], "min-level: expected a level 0..3"),
    (["peers", "export", "127.20.0.1", "--out", "x.txt"], "format: 'txt'"),
    (["peers", "assign", "127.20.0.1", "--case", "bad case!", "--analyst", "a"], "case: "),
])
def test_bad_input_names_the_argument(installation: list[str], args: list[str],
                                      words: str) -> None:
    result = CliRunner().invoke(main, [*installation, *args])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_a_bad_database_file_is_refused_naming_the_key(installation: list[str],
                                                       tmp_path: Path) -> None:
    bad = tmp_path / "city.mmdb"
    bad.write_text("not a database\n")
    config = Path(installation[1])
    config.write_text(config.read_text() + f'\n[enrichment]\ngeoip_db = "{bad}"\n')
    result = CliRunner().invoke(main, [*installation, "peers", "list"])
    assert result.exit_code == 2
    assert "enrichment.geoip_db" in result.output and "not a MaxMind DB" in result.output


def test_signed_bundle_lists_the_same_records(installation: list[str], tmp_path: Path) -> None:
    from evidence.keys import init_key
    from evidence.merkle import leaf_hash

    data_dir = Path(installation[3])
    key = tmp_path / "signing-key.pem"
    init_key(key, data_dir)
    config = Path(installation[1])
    config.write_text(config.read_text() + f'\n[evidence]\nsigning_key_file = "{key}"\n')
    out, bundle = tmp_path / "top.json", tmp_path / "bundle"
    result = run([*installation, "peers", "export", pd.TOP, "--out", str(out),
                  "--bundle", str(bundle)])
    assert result.exit_code == 0, result.output
    listed = {r["record_hash"] for r in json.loads(out.read_text())["sightings"]}
    rows = [json.loads(line) for line in (bundle / "records.jsonl").read_text().splitlines()]
    assert {leaf_hash(r["entry"].encode()).hex() for r in rows} == listed and len(listed) == 6
    verified = run(["evidence", "verify", str(bundle), "--key", str(bundle / "public-key.pem")])
    assert verified.exit_code == 0, verified.output
