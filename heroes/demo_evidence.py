"""The demo's evidence part: its own signing key, the lab TSA, and the closing checks.

:func:`prepare` makes the demo installation's Ed25519 key inside the demo's data directory
(a lab installation; a real one keeps its key outside) and takes the lab Time Stamping
Authority (:mod:`heroes.lab.tsa`) that the lab world starts with its other parts;
:func:`config_table` is the ``[evidence]`` table of the demo's settings; :func:`finish`
seals every log, runs ``heroes evidence check``, exports the observations of one flagged
infohash and verifies the export against the exported public key and the lab TSA's CA with
``heroes evidence verify``, printing each command and its answer. Reads the settings the
demo wrote.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.keys import init_key
from heroes.demo_steps import StepFailed, heroes_argv

HEAD_INTERVAL_S = 5.0
COMMAND_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class EvidenceSetup:
    key_file: Path
    key_id: str
    tsa_url: str
    tsa_ca: Path


def prepare(data_dir: Path, world: dict[str, Any]) -> EvidenceSetup:
    """The demo's key, and the TSA the lab world runs (``world["tsa"]``)."""
    key_file = data_dir / "keys" / "evidence-signing-key.pem"
    if key_file.exists():
        key_file.unlink()  # the demo starts a fresh installation each run
    key = init_key(key_file, data_dir)
    return EvidenceSetup(key_file, key.key_id, world["tsa"]["url"], Path(world["tsa"]["ca_file"]))


def _toml_str(value: object) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_table(setup: EvidenceSetup) -> str:
    return (
        "\n[evidence]\n"
        f"signing_key_file = {_toml_str(setup.key_file)}\n"
        f"head_interval_s = {HEAD_INTERVAL_S!r}\n"
        f"tsa_url = {_toml_str(setup.tsa_url)}\n"
        f"tsa_ca_file = {_toml_str(setup.tsa_ca)}\n"
    )


def _run(config: Path, data_dir: Path, say: Callable[[str], None], *args: str) -> str:
    argv = heroes_argv(config, data_dir, *args)
    say(f"  $ heroes --data-dir {data_dir} {' '.join(args)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEROES_EVIDENCE__")}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                              check=False, env=env)
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"heroes {' '.join(args)} did not finish in "
                         f"{COMMAND_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise StepFailed(f"heroes {' '.join(args)} exited {done.returncode}:\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def finish(config: Path, data_dir: Path, setup: EvidenceSetup, infohash: str,
           say: Callable[[str], None]) -> Path:
    """Seal, check, export ``infohash`` and verify the export; returns the export's folder."""
    say(f"  signing key {setup.key_id[:16]}… (kept in the demo's data directory; a real "
        "installation keeps it outside), TSA " + setup.tsa_url)
    for line in _run(config, data_dir, say, "evidence", "seal").splitlines():
        say(f"    {line}")
    for line in _run(config, data_dir, say, "evidence", "check").splitlines():
        say(f"    {line}")
    out = data_dir / "exports" / f"demo-{infohash}"
    _run(config, data_dir, say, "evidence", "export", "--infohash", infohash, "--out", str(out))
    say(f"    export written to {out}")
    public = data_dir / "exports" / "demo-public-key.pem"
    _run(config, data_dir, say, "keys", "export-public", str(public))
    answer = _run(config, data_dir, say, "evidence", "verify", str(out), "--key", str(public),
                  "--tsa-ca", str(setup.tsa_ca))
    for line in answer.splitlines():
        say(f"    {line}")
    if "ok:" not in answer:
        raise StepFailed("heroes evidence verify did not accept the export")
    say(f"  standard tools: openssl pkeyutl -verify -pubin -inkey {public} -rawin "
        f"-in {out}/manifest.json -sigfile {out}/manifest.sig")
    say(f"                  openssl ts -verify -data {out}/heads/<log>-<size>.sig "
        f"-in {out}/tokens/<log>-<size>.tsr -CAfile {setup.tsa_ca}")
    return out
