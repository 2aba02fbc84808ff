"""The demo's analysis step: what links the lab's services, and the first alert handed on.

Runs the real commands in child processes, as an analyst would type them: ``heroes analyse``
(clusters from the shared values of the crawled services), ``heroes clusters list``, a list
that arrives after the crawl (the hash of a picture already indexed and not flagged) imported
with ``--hunt`` so the pages crawled before it are flagged and alerted as retro hits, and
``heroes export misp`` / ``heroes export stix`` for the newest alert, written under
``<data_dir>/exports/``. Each line it returns is a command or what it showed; a command that
fails raises :class:`heroes.demo_steps.StepFailed` with its output. Reads no settings itself:
the commands read the demo's own file.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from heroes.demo_steps import StepFailed, heroes_argv

SHOWN = 3


def _run(config: Path, data_dir: Path, timeout_s: float, *args: str) -> str:
    argv = heroes_argv(config, data_dir, *args)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              check=False, env=dict(os.environ))
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"heroes {' '.join(args)} did not finish within {timeout_s:.0f} s"
                         ) from exc
    if done.returncode != 0:
        raise StepFailed(f"heroes {' '.join(args)} exited {done.returncode}:\n"
                         f"{(done.stderr or done.stdout)[-2000:]}")
    return done.stdout


def lines(config: Path, data_dir: Path, timeout_s: float) -> list[str]:
    cli = f"heroes --config {shlex.quote(str(config))}"
    out = [f"$ {cli} analyse"]
    out += [f"  {line}" for line in _run(config, data_dir, timeout_s, "analyse").splitlines()]
    listed: dict[str, Any] = json.loads(_run(config, data_dir, timeout_s, "clusters", "list",
                                             "--json"))
    out.append(f"$ {cli} clusters list  ({listed['total']} clusters)")
    for cluster in listed["clusters"][:SHOWN]:
        reasons = sorted({f"{e['type']} {e['value']}" for e in cluster.get("edges", [])})
        members = ", ".join(m["key"] for m in cluster.get("members", [])[:4])
        out.append(f"  {cluster['cluster_id']}: {cluster['size']} members ({members}); "
                   f"linked by {'; '.join(reasons[:3]) or 'near-duplicate text'}")
    # The newest alert exported before the hunt: the retro alert it raises reaches the index
    # only when a drain runs.
    alerts = json.loads(_run(config, data_dir, timeout_s, "alerts", "list", "--limit", "1",
                             "--json"))
    if not alerts:
        raise StepFailed("no alert to export")
    alert_id = str(alerts[0]["id"])
    exports = data_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    for fmt, suffix in (("misp", "misp.json"), ("stix", "stix.json")):
        path = exports / f"alert-{alert_id[:16]}.{suffix}"
        _run(config, data_dir, timeout_s, "export", fmt, "--alert", alert_id, "--out",
             str(path))
        out.append(f"$ {cli} export {fmt} --alert {alert_id} --out {shlex.quote(str(path))}")
        out.append(f"  {path.stat().st_size} bytes, TLP-marked, values only (no media byte)")
    return out + _retro_hunt(config, data_dir, timeout_s, cli)


def _retro_hunt(config: Path, data_dir: Path, timeout_s: float, cli: str) -> list[str]:
    found = json.loads(_run(config, data_dir, timeout_s, "search", "media.sha256:* AND "
                            "NOT media.flagged:true", "--limit", "50", "--json"))
    hashes = sorted({m["sha256"] for hit in found["hits"]["hits"]
                     for m in hit["_source"].get("media", []) if m.get("sha256")})
    path = data_dir / "hash-lists" / "arrived-later.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A picture on none of the demo's lists (a negative list would rightly suppress its hit).
    listed = " ".join(f.read_text() for f in path.parent.glob("*.txt") if f != path)
    hashes = [h for h in hashes if h not in listed]
    if not hashes:
        return ["  every indexed picture is on a list already: nothing for a retro-hunt to find"]
    path.write_text(f"{hashes[0]}\n")
    shown = _run(config, data_dir, timeout_s, "hashes", "import", str(path), "--type", "sha256",
                 "--category", "demo-later", "--hunt")
    return [f"$ {cli} hashes import {shlex.quote(str(path))} --type sha256 --hunt",
            *(f"  {line}" for line in shown.splitlines()[-4:])]
