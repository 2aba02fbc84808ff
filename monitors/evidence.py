"""Evidence bundles: export one infohash's observations from the probe logs, and verify them.

The probe's log (``<data_dir>/evidence/<probe_id>.chain.jsonl``, an ``index.chainlog``
hash chain) holds every recorded observation. ``export`` copies the records of one
infohash into ``DIR/records.jsonl`` as a new hash chain of its own, in which each record
keeps the original record's sequence number and hash, so it can be matched against the
probe's log and the index (``chain_hash``). It also writes ``manifest.json`` (counts, time
range, probe ids and versions, config hash, the head hash of the export chain) and
``SHA256SUMS``. ``verify`` names the first record that was edited, deleted, inserted or
moved, and any file whose checksum no longer matches. Reads no settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.chainlog import GENESIS, ChainLog, line_hash, verify_file
from monitors.errors import EvidenceError

RECORDS = "records.jsonl"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
FORMAT = "heroes-evidence/1"


def log_path(data_dir: Path, probe_id: str) -> Path:
    return Path(data_dir) / "evidence" / f"{probe_id}.chain.jsonl"


def _line(record: dict[str, Any]) -> bytes:
    # The same canonical form ChainLog writes, so index.chainlog verifies an export too.
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _matches(data: dict[str, Any], infohash: str) -> bool:
    return infohash in (data.get("infohash"), data.get("infohash_v2"))


def export(logs: list[Path], infohash: str, out: Path, *, config_hash: str) -> dict[str, Any]:
    """Write the bundle of ``infohash`` into ``out``; returns the manifest."""
    infohash = infohash.strip().lower()
    if out.exists() and any(out.iterdir()):
        raise EvidenceError(f"--out {str(out)!r} exists and is not empty; choose a new directory")
    picked: list[tuple[Path, dict[str, Any]]] = []
    for path in logs:
        problem = verify_file(path)
        if problem is not None:
            raise EvidenceError(f"{path}: {problem}; refusing to export from a broken log")
        picked.extend((path, r) for r in ChainLog(path).records() if _matches(r["data"], infohash))
    if not picked:
        raise EvidenceError(
            f"no observation of infohash {infohash!r} in {len(logs)} evidence log(s)")
    out.mkdir(parents=True, exist_ok=True)
    prev = GENESIS
    lines = []
    for seq, (path, rec) in enumerate(picked, start=1):
        data = {"source_log": path.name, "source_seq": rec["seq"], "source_hash": rec["hash"],
                "source_prev": rec["prev"], "record": rec["data"]}
        line = _line({"seq": seq, "at": rec["at"], "prev": prev, "data": data,
                      "data_sha256": _data_hash(data)})
        lines.append(line)
        prev = line_hash(line)
    (out / RECORDS).write_bytes(b"".join(line + b"\n" for line in lines))
    times = sorted(r["at"] for _, r in picked)
    levels: dict[str, int] = {}
    for _, r in picked:
        lv = str(r["data"].get("level", 0))
        levels[lv] = levels.get(lv, 0) + 1
    manifest = {
        "format": FORMAT,
        "infohash": infohash,
        "records": len(lines),
        "peers": len({(r["data"].get("ip"), r["data"].get("port")) for _, r in picked}),
        "levels": levels,
        "first": times[0],
        "last": times[-1],
        "probe_ids": sorted({str(r["data"].get("probe_id", "")) for _, r in picked}),
        "probe_versions": sorted({str(r["data"].get("probe_version", "")) for _, r in picked}),
        "config_hash": config_hash,
        "record_config_hashes": sorted({str(r["data"].get("config_hash", "")) for _, r in picked}),
        "head_hash": prev,
        "source_logs": sorted({p.name for p, _ in picked}),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    sums = "".join(f"{_sha256(out / name)}  {name}\n" for name in (RECORDS, MANIFEST))
    (out / SUMS).write_text(sums)
    return manifest


def _data_hash(data: Any) -> str:
    # Lets verify name an edited record itself, not only the next one whose link breaks.
    return hashlib.sha256(_line(data)).hexdigest()


def _first_bad(lines: list[bytes]) -> str | None:
    prev = GENESIS
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
        except ValueError:
            return f"record {number}: not JSON"
        if not isinstance(record, dict):
            return f"record {number}: not a JSON object"
        if record.get("data_sha256") != _data_hash(record.get("data")):
            return f"record {number}: edited (its data does not match its data_sha256)"
        if record.get("prev") != prev:
            return (f"record {number}: does not chain to the record before it "
                    "(deleted, inserted or reordered)")
        if record.get("seq") != number:
            return f"record {number}: sequence {record.get('seq')!r}, expected {number}"
        prev = line_hash(raw)
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(bundle: Path) -> VerifyReport:
    """Check the chain, the manifest and SHA256SUMS of an exported bundle."""
    report = VerifyReport()
    records = bundle / RECORDS
    if not records.is_file():
        report.problems.append(f"{records}: missing")
        return report
    lines = records.read_bytes().splitlines()
    problem = _first_bad(lines)
    if problem is not None:
        report.problems.append(f"{records}: {problem}")
    report.records = len(lines)
    manifest = _read_manifest(bundle / MANIFEST, report)
    if manifest is not None and problem is None:
        if manifest.get("records") != len(lines):
            # Records cut from the end leave a valid chain; the manifest's count catches it.
            report.problems.append(
                f"{records}: record {len(lines) + 1}: missing "
                f"(manifest lists {manifest.get('records')!r}, found {len(lines)})")
        elif lines and manifest.get("head_hash") != line_hash(lines[-1]):
            report.problems.append(f"{records}: record {len(lines)}: does not match the "
                                   "manifest's head_hash (edited)")
    _check_sums(bundle, report)
    return report


def _read_manifest(path: Path, report: VerifyReport) -> dict[str, Any] | None:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        report.problems.append(f"{path}: unreadable ({exc})")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.problems.append(f"{path}: field 'format' is not {FORMAT!r}")
        return None
    return manifest


def _check_sums(bundle: Path, report: VerifyReport) -> None:
    sums = bundle / SUMS
    try:
        text = sums.read_text()
    except OSError as exc:
        report.problems.append(f"{sums}: unreadable ({exc})")
        return
    listed = set()
    for number, line in enumerate(text.splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not name or len(digest) != 64:
            report.problems.append(f"{sums}:{number}: malformed line {line!r:.100}")
            continue
        listed.add(name)
        path = bundle / name
        if not path.is_file():
            report.problems.append(f"{sums}:{number}: {name!r} is missing")
        elif _sha256(path) != digest:
            report.problems.append(f"{sums}:{number}: {name!r} does not match its SHA-256")
    for name in (RECORDS, MANIFEST):
        if name not in listed:
            report.problems.append(f"{sums}: {name!r} is not listed")
