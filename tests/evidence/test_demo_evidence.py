"""The demo's evidence part on its own: key in the demo's data dir, lab TSA, and the closing
check, export and verification through the real ``heroes`` commands."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from evidence.keys import load_signing_key
from heroes import demo_evidence
from heroes.lab import tsa as lab_tsa
from tests.evidence.helpers import IH, probe_log


def test_prepare_and_finish(tmp_path: Path) -> None:
    data, lab = tmp_path / "data", tmp_path / "data" / "lab"
    authority = lab_tsa.start(lab)
    world = {"tsa": {"url": authority.url, "ca_file": str(authority.ca_file)}}
    setup = demo_evidence.prepare(data, world)
    try:
        config = data / "demo.toml"
        config.write_text(demo_evidence.config_table(setup))
        settings = load_settings(config, environ={}, overrides={"data_dir": str(data)})
        assert settings.evidence.tsa_url == setup.tsa_url
        probe_log(data, load_signing_key(setup.key_file), n=30)
        said: list[str] = []
        out = demo_evidence.finish(config, data, setup, IH, said.append)
    finally:
        lab_tsa.stop(lab)
    text = "\n".join(said)
    assert "probe/probe-1: ok: 30 records, 30 sealed" in text
    assert "ok: 15 records" in text and "signed by the key you gave" in text
    assert (out / "manifest.sig").exists() and list((out / "tokens").glob("*.tsr"))
