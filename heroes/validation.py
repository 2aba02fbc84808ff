"""Tool validation: what ``heroes validate`` found against the lab world's ground truth.

The comparisons are pure functions, one per claim the tool makes; each returns
:class:`Check` rows (name, ok, expected, found). :func:`build_report` puts them together
with the versions and the config hash; :func:`write_report` signs it with the
installation's Ed25519 key and writes, into one directory:

* ``validation.json`` - the report, canonical JSON (sorted keys, no spaces, UTF-8): the
  exact bytes that were signed;
* ``validation.sig`` - the raw 64-byte Ed25519 signature of ``validation.json``
  (``openssl pkeyutl -verify -pubin -inkey validation.pub.pem -rawin -in validation.json
  -sigfile validation.sig``);
* ``validation.pub.pem`` - the public key, for convenience only: trust comes from the key
  id in the report matching a key the verifier already holds (``heroes keys
  export-public``);
* ``validation.txt`` - the same findings for people.

The run behind it is :mod:`heroes.validation_run`. Reads no settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evidence.keys import SigningKey, public_pem, verify_signature

FORMAT = "heroes-validation/1"
REPORT = "validation.json"
SIGNATURE = "validation.sig"
PUBLIC_KEY = "validation.pub.pem"
TEXT = "validation.txt"
FRACTION_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Check:
    """One claim checked against the ground truth."""

    name: str
    ok: bool
    expected: Any
    found: Any
    detail: str = ""


@dataclass(frozen=True)
class ExpectedPeer:
    """A lab peer as the lab made it."""

    name: str
    ip: str
    port: int
    role: str  # seed, partial, leecher
    fingerprint: str  # the peer-id prefix, e.g. -qB4630-
    user_agent: str  # the extended handshake's v
    fractions: Mapping[str, float] = field(default_factory=dict)  # infohash -> share held

    @property
    def min_level(self) -> int:
        # The leecher may hold nothing yet when it is seen: a handshake is all it must give.
        return 1 if self.role == "leecher" else 2


def compare_peers(expected: Iterable[ExpectedPeer], infohashes: Iterable[str],
                  observed: Mapping[tuple[str, str, int], Mapping[str, Any]]) -> list[Check]:
    """Every lab peer of every torrent seen, with its client, level and piece fraction.

    ``observed`` maps (infohash, ip, port) to what the probe recorded: ``level``,
    ``ext_v``, ``peer_id`` (hex), ``have_fraction`` and ``artifacts`` (bool: the record
    carries the peer's messages).
    """
    checks = []
    peers = list(expected)
    for infohash in infohashes:
        for peer in peers:
            want = {"client": peer.user_agent, "peer_id_prefix": peer.fingerprint,
                    "level": f">= {peer.min_level}", "artifacts": True}
            if peer.role != "leecher":
                want["have_fraction"] = round(peer.fractions.get(infohash, 0.0), 6)
            name = f"peer {peer.name} {peer.ip}:{peer.port} on {infohash}"
            rec = observed.get((infohash, peer.ip, peer.port))
            if rec is None:
                checks.append(Check(name, False, want, None, "never seen"))
                continue
            problems = []
            prefix = peer.fingerprint.encode().hex()
            if rec.get("ext_v") != peer.user_agent:
                problems.append(f"client {rec.get('ext_v')!r}")
            if not str(rec.get("peer_id", "")).startswith(prefix):
                problems.append(f"peer id {rec.get('peer_id')!r}")
            if int(rec.get("level", 0)) < peer.min_level:
                problems.append(f"level {rec.get('level')}")
            if not rec.get("artifacts"):
                problems.append("no protocol artifacts in its record")
            fraction = rec.get("have_fraction")
            if "have_fraction" in want and (
                    fraction is None
                    or abs(float(fraction) - want["have_fraction"]) > FRACTION_TOLERANCE):
                problems.append(f"have_fraction {fraction!r}")
            found = {"client": rec.get("ext_v"), "peer_id": rec.get("peer_id"),
                     "level": rec.get("level"), "have_fraction": fraction,
                     "artifacts": bool(rec.get("artifacts"))}
            checks.append(Check(name, not problems, want, found, "; ".join(problems)))
    return checks


def compare_payload(probe: Mapping[str, Mapping[str, int]],
                    swarm_side: Mapping[str, int]) -> Check:
    """Payload bytes 0 in both directions, as the probe's sessions and the swarm count them."""
    found = {f"{session}.{k}": int(v) for session, counters in probe.items()
             for k, v in counters.items() if "payload" in k}
    found.update({f"swarm.{k}": int(v) for k, v in swarm_side.items()})
    moved = {k: v for k, v in found.items() if v}
    return Check("payload bytes, both directions", not moved and bool(found), 0, found,
                 f"moved: {moved}" if moved else "")


def compare_entities(expected: Mapping[str, Iterable[str]],
                     found: Mapping[str, Iterable[str]]) -> list[Check]:
    """Extracted entities equal, per type, to those the sites' generator planted."""
    checks = []
    for kind in sorted(set(expected) | set(found)):
        want, got = set(expected.get(kind, ())), set(found.get(kind, ()))
        missing, extra = sorted(want - got), sorted(got - want)
        detail = "; ".join(part for part in (f"missing {missing[:10]}" if missing else "",
                                             f"not planted {extra[:10]}" if extra else "")
                           if part)
        checks.append(Check(f"entities {kind}", not missing and not extra, len(want), len(got),
                            detail))
    return checks


def compare_media(expected: Mapping[str, Mapping[str, str]],
                  hashed: Mapping[str, Mapping[str, Any]], files_with_media: list[str],
                  files_scanned: int) -> list[Check]:
    """Media hashed right (MD5, SHA-256) and their bytes nowhere on disk."""
    checks = []
    wrong = {url: {k: got.get(k) for k in ("md5", "sha256")}
             for url, got in hashed.items() if url in expected
             and any(got.get(k) != expected[url].get(k) for k in ("md5", "sha256"))}
    unknown = sorted(set(hashed) - set(expected))
    checks.append(Check("media hashes", bool(hashed) and not wrong and not unknown,
                        f"{len(hashed)} hashed media equal to the lab's files", len(hashed),
                        "; ".join(p for p in (f"wrong {wrong}" if wrong else "",
                                              f"not lab media {unknown[:5]}" if unknown else "")
                                  if p)))
    checks.append(Check("media bytes never written", not files_with_media and files_scanned > 0,
                        "no file holds a media body", files_with_media,
                        f"{files_scanned} files scanned (gzip members decompressed)"))
    return checks


def build_report(checks: list[Check], *, started: str, ended: str, versions: dict[str, str],
                 config_hash: str, lab: dict[str, Any], key_id: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "ok": all(c.ok for c in checks) and bool(checks),
        "started": started,
        "ended": ended,
        "versions": versions,
        "config_hash": config_hash,
        "lab": lab,
        "key_id": key_id,
        "summary": {"checks": len(checks), "passed": sum(1 for c in checks if c.ok),
                    "failed": [c.name for c in checks if not c.ok]},
        "checks": [asdict(c) for c in checks],
    }


def exit_code(report: Mapping[str, Any]) -> int:
    """0 when everything matched the ground truth, 1 otherwise."""
    return 0 if report.get("ok") is True else 1


def canonical(report: Mapping[str, Any]) -> bytes:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def render_text(report: Mapping[str, Any]) -> str:
    summary = report["summary"]
    lines = [f"heroes validation against the lab world: "
             f"{'ALL MATCHED' if report['ok'] else 'MISMATCH'} "
             f"({summary['passed']}/{summary['checks']} checks)",
             f"  run {report['started']} .. {report['ended']}",
             "  versions: " + ", ".join(f"{k} {v}" for k, v in sorted(report["versions"].items())),
             f"  config hash {report['config_hash']}",
             f"  signed by key {report['key_id']}", ""]
    for check in report["checks"]:
        mark = "ok  " if check["ok"] else "FAIL"
        line = f"  {mark} {check['name']}"
        if not check["ok"] or check["detail"]:
            line += f": {check['detail'] or 'expected ' + json.dumps(check['expected'])}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], key: SigningKey, out: Path) -> dict[str, Path]:
    """Sign and write the report files into ``out``; returns their paths by role."""
    out.mkdir(parents=True, exist_ok=True)
    body = canonical(report)
    paths = {"report": out / REPORT, "signature": out / SIGNATURE,
             "public_key": out / PUBLIC_KEY, "text": out / TEXT}
    paths["report"].write_bytes(body)
    paths["signature"].write_bytes(key.sign(body))
    paths["public_key"].write_bytes(public_pem(key.public))
    paths["text"].write_text(render_text(report), encoding="utf-8")
    return paths


def verify_report(directory: Path, public_key: Any) -> bool:
    """Whether ``validation.sig`` is ``public_key``'s signature of ``validation.json``."""
    return verify_signature(public_key, (directory / SIGNATURE).read_bytes(),
                            (directory / REPORT).read_bytes())
