"""Back up a running installation into a directory, and restore one into a new data directory.

A backup is a directory::

    manifest.json      what is in it: format, heroes version, configuration hash, the
                       SHA-256 and size of every other file, what each part holds
    manifest.sig       the Ed25519 signature of manifest.json by the signing key (hex),
                       when the installation has its key
    data/...           the data directory, file by file (relative paths kept)
    keys/signing-key.pub.pem   the public half of the evidence signing key
    keys/signing-key.pem       the private key, only when asked for (``include_keys``),
    keys/signing-key.pem.retired-*  with the keys it replaced

The parts are copied in an order that loses nothing a running installation is doing: the
SQLite stores first, the spool before the others (a document the drain takes from the
spool after that copy was committed to the index before, so the index copied later holds
it, and a document still in the copied spool is drained again after a restore: ids are
deterministic), then the embedded index, then the sealed evidence logs, then every other
file. How each kind of file is copied consistently: :mod:`heroes.backup_copy`. An
Elasticsearch index is not in the backup (the cluster's own snapshots are its backup); the
manifest says so.

:func:`restore` checks the manifest first: a file changed, missing or added since the
backup refuses the whole restore, naming it. It restores only into a data directory that
does not exist or is empty, and has the next drain spool every alert's document again
(:func:`_respool_alerts`). Reads ``data_dir``, ``index.backend`` and
``evidence.signing_key_file``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from alerting.db import AlertDB, alert_db_path
from config import Settings
from errors import HeroesError, StoreTooNew
from evidence.errors import EvidenceError
from evidence.keys import (
    SigningKey,
    load_public_key,
    load_signing_key,
    public_pem,
    resolve,
    verify_signature,
)
from evidence.registry import listed
from heroes.backup_copy import (
    CopyFailed,
    copy_plain,
    copy_sealed_log,
    copy_sqlite,
    copy_tantivy,
    is_sqlite,
)

FORMAT = "heroes-backup/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
DATA = "data"
KEYS = "keys"
PUBLIC_KEY = "signing-key.pub.pem"
PRIVATE_KEY = "signing-key.pem"
RETIRED = ".retired-"
INDEX_DIR = "index"
SPOOL = "spool.sqlite"
# Files that only make sense to the processes that hold them now.
SKIP_SUFFIXES = (".lock", "-wal", "-shm", "-journal", ".tmp")


class BackupError(HeroesError):
    """A backup cannot be made or restored; the message names the file."""


@dataclass
class BackupReport:
    out: Path
    stores: list[str] = field(default_factory=list)
    index: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    files: int = 0
    key_id: str | None = None
    private_key: bool = False
    notes: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _skipped(rel: Path) -> bool:
    return rel.name.endswith(SKIP_SUFFIXES)


def _walk(root: Path) -> list[Path]:
    """Regular files under ``root``, relative to it, sorted (symlinks and sockets left out)."""
    found = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found.append(path.relative_to(root))
    return sorted(found)


def _empty_target(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path}: {what} must be a new or empty directory")
    path.mkdir(parents=True, exist_ok=True)


def backup(settings: Settings, out: Path, *, include_keys: bool = False,
           tool_version: str, config_sha256: str) -> BackupReport:
    """Copy the installation of ``settings.data_dir`` into ``out`` (new or empty)."""
    data_dir = Path(settings.data_dir)
    if not data_dir.is_dir():
        raise BackupError(f"{data_dir}: no data directory to back up")
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(f"{out}: the backup cannot go inside the data directory {data_dir}")
    _empty_target(out, "the backup directory")
    report = BackupReport(out)
    dest = out / DATA
    files = _walk(data_dir)
    done: set[Path] = set()
    try:
        _backup_stores(data_dir, dest, files, done, report)
        _backup_index(settings, data_dir, dest, done, report)
        _backup_logs(data_dir, dest, done, report)
        for rel in files:
            if rel in done or _skipped(rel):
                continue
            if copy_plain(data_dir / rel, dest / rel):
                done.add(rel)
    except CopyFailed as exc:
        raise BackupError(str(exc)) from exc
    except OSError as exc:
        raise BackupError(f"cannot write the backup into {out}: {exc}") from exc
    key = _backup_keys(settings, out, include_keys, report)
    report.files = len(done)
    manifest = _write_manifest(out, settings, report, tool_version, config_sha256)
    if key is not None:
        (out / SIGNATURE).write_text(key.sign(manifest).hex() + "\n", encoding="utf-8")
    return report


def _backup_stores(data_dir: Path, dest: Path, files: list[Path], done: set[Path],
                   report: BackupReport) -> None:
    stores = [rel for rel in files
              if rel.parts[0] != INDEX_DIR and not _skipped(rel) and is_sqlite(data_dir / rel)]
    # The spool first: see the module's docstring.
    stores.sort(key=lambda rel: (rel != Path(SPOOL), str(rel)))
    for rel in stores:
        copy_sqlite(data_dir / rel, dest / rel)
        done.add(rel)
        report.stores.append(str(rel))


def _backup_index(settings: Settings, data_dir: Path, dest: Path, done: set[Path],
                  report: BackupReport) -> None:
    index_dir = data_dir / INDEX_DIR
    if settings.index.backend != "tantivy":
        report.notes.append(f"the {settings.index.backend} index is not in the backup: "
                            "back it up with the cluster's snapshots")
    if not index_dir.is_dir():
        return
    for kind_dir in sorted(p for p in index_dir.iterdir() if p.is_dir()):
        if (kind_dir / "meta.json").is_file():
            report.index[kind_dir.name] = copy_tantivy(kind_dir, dest / INDEX_DIR / kind_dir.name)
    # Only committed segments are copied: the rest of the index directory is left out.
    done.update(Path(INDEX_DIR) / rel for rel in _walk(index_dir))


def _backup_logs(data_dir: Path, dest: Path, done: set[Path], report: BackupReport) -> None:
    try:
        logs = listed(data_dir)
    except EvidenceError as exc:
        raise BackupError(str(exc)) from exc
    root = data_dir.resolve()
    for name, path in sorted(logs.items()):
        try:
            rel = path.resolve().relative_to(root)
        except ValueError:
            report.notes.append(f"evidence log {name!r} is outside the data directory "
                                f"({path}): not in the backup")
            continue
        for source in copy_sealed_log(data_dir / rel, dest / rel):
            done.add(source.resolve().relative_to(root))
        report.logs.append(name)


def _backup_keys(settings: Settings, out: Path, include_keys: bool,
                 report: BackupReport) -> SigningKey | None:
    key_path = resolve(settings.evidence.signing_key_file)
    try:
        key = load_signing_key(key_path)
    except EvidenceError as exc:
        report.notes.append(f"no signing key in the backup, the manifest is not signed: {exc}")
        return None
    (out / KEYS).mkdir(exist_ok=True)
    (out / KEYS / PUBLIC_KEY).write_bytes(public_pem(key.public))
    report.key_id = key.key_id
    if include_keys:
        # The current key and those it replaced (`heroes keys rotate` keeps them beside it).
        _write_private(out / KEYS / PRIVATE_KEY, key_path.read_bytes())
        for retired in sorted(key_path.parent.glob(f"{key_path.name}{RETIRED}*")):
            suffix = retired.name.removeprefix(key_path.name)
            _write_private(out / KEYS / f"{PRIVATE_KEY}{suffix}", retired.read_bytes())
        report.private_key = True
    return key


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _write_manifest(out: Path, settings: Settings, report: BackupReport, tool_version: str,
                    config_sha256: str) -> bytes:
    """Write the manifest; returns its bytes (what the signature covers)."""
    files = {}
    for rel in _walk(out):
        if rel == Path(MANIFEST):
            continue
        files[rel.as_posix()] = {"sha256": sha256_file(out / rel),
                                 "size": (out / rel).stat().st_size}
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "heroes_version": tool_version,
        "config_sha256": config_sha256,
        "source_data_dir": str(Path(settings.data_dir).resolve()),
        "index_backend": settings.index.backend,
        "stores": report.stores,
        "index": report.index,
        "logs": report.logs,
        "key_id": report.key_id,
        "private_key": report.private_key,
        "notes": report.notes,
        "files": files,
    }
    body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    tmp = out / f"{MANIFEST}.tmp"
    tmp.write_bytes(body)
    os.replace(tmp, out / MANIFEST)
    return body


def _check_signature(backup_dir: Path, trusted: Ed25519PublicKey | None) -> None:
    """With ``trusted``: the manifest must carry its signature. Without: a signature is
    checked against the backup's own public key, which catches an edited manifest but not
    one re-signed with another key."""
    signature_path = backup_dir / SIGNATURE
    public = backup_dir / KEYS / PUBLIC_KEY
    if trusted is None:
        if not (signature_path.is_file() and public.is_file()):
            return
        try:
            trusted = load_public_key(public.read_bytes(), where=str(public))
        except EvidenceError as exc:
            raise BackupError(str(exc)) from exc
    if not signature_path.is_file():
        raise BackupError(f"{signature_path}: missing; the manifest is not signed")
    try:
        signature = bytes.fromhex(signature_path.read_text(encoding="utf-8").strip())
    except ValueError as exc:
        raise BackupError(f"{signature_path}: not a hex signature ({exc})") from exc
    if not verify_signature(trusted, signature, (backup_dir / MANIFEST).read_bytes()):
        raise BackupError(f"{backup_dir / MANIFEST}: its signature ({signature_path.name}) "
                          "does not verify; the manifest was changed or signed by another key")


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; {backup_dir} is not a heroes backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else manifest
        raise BackupError(f"{path}: format {found!r}, expected {FORMAT!r}")
    if not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{path}: no list of files")
    return manifest


def check_backup(backup_dir: Path, trusted: Ed25519PublicKey | None = None) -> dict[str, Any]:
    """The manifest, once its signature holds and every file is as it lists it;
    BackupError names the first that is not (changed, missing, or not listed)."""
    manifest = read_manifest(backup_dir)
    _check_signature(backup_dir, trusted)
    listed_files: dict[str, Any] = manifest["files"]
    present = {rel.as_posix() for rel in _walk(backup_dir)
               if rel not in (Path(MANIFEST), Path(SIGNATURE))}
    for rel, entry in sorted(listed_files.items()):
        path = backup_dir / rel
        if rel not in present:
            raise BackupError(f"{path}: listed in the manifest but missing from the backup")
        if not isinstance(entry, dict) or sha256_file(path) != entry.get("sha256"):
            raise BackupError(f"{path}: its SHA-256 differs from the manifest's; the backup "
                              "was changed after it was made")
    extra = sorted(present - set(listed_files))
    if extra:
        raise BackupError(f"{backup_dir / extra[0]}: not in the manifest; the backup was "
                          "changed after it was made")
    return manifest


@dataclass
class RestoreReport:
    data_dir: Path
    files: int
    key_file: Path | None
    manifest: dict[str, Any]


def restore(backup_dir: Path, data_dir: Path, *, key_file: Path | None = None,
            trusted: Ed25519PublicKey | None = None) -> RestoreReport:
    """Check the backup (against ``trusted``, see :func:`check_backup`), then copy its data
    into ``data_dir`` (new or empty).

    ``key_file``: where to write the private signing key the backup carries (a new file);
    BackupError when the backup has none.
    """
    manifest = check_backup(backup_dir, trusted)
    private = backup_dir / KEYS / PRIVATE_KEY
    if key_file is not None:
        if not private.is_file():
            raise BackupError(f"{backup_dir}: the backup carries no private key "
                              "(it was made without --include-keys)")
        if key_file.exists():
            raise BackupError(f"{key_file}: exists; not overwriting a key")
    _empty_target(data_dir, "the data directory to restore into")
    source = backup_dir / DATA
    count = 0
    try:
        for rel in _walk(source) if source.is_dir() else []:
            target = data_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, target)
            count += 1
        if key_file is not None:
            _write_private(key_file, private.read_bytes())
            for retired in sorted((backup_dir / KEYS).glob(f"{PRIVATE_KEY}{RETIRED}*")):
                suffix = retired.name.removeprefix(PRIVATE_KEY)
                _write_private(key_file.with_name(key_file.name + suffix), retired.read_bytes())
    except OSError as exc:
        raise BackupError(f"restoring into {data_dir}: {exc}") from exc
    _respool_alerts(data_dir)
    return RestoreReport(data_dir, count, key_file, manifest)


def _respool_alerts(data_dir: Path) -> None:
    """Have every alert's document spooled again by the next drain batch.

    An alert raised after the spool was copied and before the alert store was has its row
    in the backup but maybe not its document; re-spooling the current version of each is
    idempotent (deterministic ids).
    """
    path = alert_db_path(data_dir)
    if not path.is_file():
        return
    try:
        db = AlertDB(path)
    except StoreTooNew as exc:
        raise BackupError(str(exc)) from exc
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE alerts SET spooled_rev = 0")
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open the restored alert store: {exc}") from exc
    finally:
        db.close()
