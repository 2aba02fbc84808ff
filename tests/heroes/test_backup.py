"""``heroes backup`` of a running installation and ``heroes restore`` into another one.

The installation is real: the embedded index (tantivy), the spool, a running drain role with
matching and the alert engine, a hash list, and the sealed audit log with a real key. The
backup runs as its own process while the drain ingests and the audit log grows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import tantivy

from alerting.db import alert_db_path
from config import Settings, load_settings
from documents import Page
from evidence.keys import init_key, load_signing_key, public_pem, rotate_key
from evidence.verify import load_trusted_key
from heroes.backup import BackupError, backup, check_backup, restore, sha256_file
from heroes.backup_copy import copy_tantivy, segment_files
from heroes.console.audit import AuditLog
from index.hashsets.membership import Entry, MembershipStore, membership_path
from index.store import Store

ROOT = Path(__file__).resolve().parents[2]
MD5 = "0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOST = "shopabc.onion"


def write_config(path: Path, data: Path, key: Path) -> Path:
    path.write_text(
        f'data_dir = "{data}"\n'
        "[index]\nbatch_size = 25\nbatch_age_s = 0.05\n"
        f'[evidence]\nsigning_key_file = "{key}"\n'
        "[[alerts.rules]]\n"
        'name = "flagged-hit"\ntype = "hit"\nrecipients = ["unit@lab.localhost"]\n'
        'kinds = ["page"]\n',
        encoding="utf-8",
    )
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "heroes.cli", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def page(i: int, *, flagged: bool = False) -> Page:
    media = [{"url": f"http://{HOST}/i{i}.png", "md5": MD5}] if flagged else []
    return Page(url=f"http://{HOST}/item/{i}", fetched_at=NOW, title=f"Listing {i}",
                text=f"green tea, lot {i}", media=media)


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def rows(path: Path, table: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()


def spool_empty(store: Store) -> bool:
    return sum(store.spool.backlog().values()) == 0


async def documents(settings: Settings, ids: list[str],
                    kind: str = "page") -> dict[str, dict[str, object]]:
    store = Store(settings)
    try:
        async with store.reader() as backend:
            return await backend.get(kind, ids)
    finally:
        store.close()


def alert_rows(data_dir: Path) -> dict[str, dict[str, object]]:
    """Every alert by id, less when its document was last spooled."""
    with contextlib.closing(sqlite3.connect(alert_db_path(data_dir))) as db:
        cur = db.execute("SELECT * FROM alerts")
        names = [c[0] for c in cur.description]
        found = [dict(zip(names, row, strict=True)) for row in cur]
    return {str(r["id"]): {k: v for k, v in r.items() if k != "spooled_rev"} for r in found}


@contextlib.asynccontextmanager
async def drain(settings: Settings) -> AsyncIterator[Store]:
    store = Store(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(store.drain_role(lock_poll_s=0.1).run(stop))
    try:
        yield store
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
        store.close()


def installation(tmp_path: Path) -> tuple[Path, Settings]:
    data = tmp_path / "data"
    key = tmp_path / "keys" / "signing.pem"
    config = write_config(tmp_path / "heroes.toml", data, key)
    settings = load_settings(str(config), environ={})
    init_key(key, data)
    members = MembershipStore(membership_path(data))
    members.upsert([Entry("lab-images", "md5", MD5, "img", "vic-9", "2026-11-29T00:00:00Z")])
    members.close()
    return config, settings


async def test_backup_while_ingesting_restores_every_document_alert_list_and_log(
    tmp_path: Path,
) -> None:
    config, settings = installation(tmp_path)
    key = load_signing_key(settings.evidence.signing_key_file)
    audit = AuditLog.for_data_dir(settings.data_dir, settings.evidence)
    for n in range(5):
        audit.record("search", user="analyst", query=f"tea {n}")
    audit.sealed_log.seal(key)

    appended: list[str] = []
    stop_producing = asyncio.Event()

    async def produce(store: Store) -> None:
        i = 1000
        while not stop_producing.is_set():
            batch = [page(n) for n in range(i, i + 10)]
            store.append(batch)
            appended.extend(p.id for p in batch)
            audit.record("search", user="analyst", query=f"lot {i}")
            if i % 50 == 0:
                audit.sealed_log.seal(key)
            i += 10
            await asyncio.sleep(0.01)

    async with drain(settings) as store:
        flagged = [page(n, flagged=True) for n in range(5)]
        plain = [page(n) for n in range(5, 60)]
        store.append(flagged + plain)
        appended.extend(p.id for p in flagged + plain)
        await wait_until(lambda: spool_empty(store), 60, "the first pages drained")
        # Committed before the spool forgot them, so the alerts are in once it is empty.
        assert rows(alert_db_path(settings.data_dir), "alerts")
        producer = asyncio.create_task(produce(store))
        await wait_until(lambda: len(appended) >= 200, 60, "the drain ingesting")
        before_backup = list(appended)
        out = tmp_path / "backup"
        made = await asyncio.to_thread(cli, config, "backup", "--out", str(out),
                                       "--include-keys", "--json")
        assert made.returncode == 0, made.stderr
        stop_producing.set()
        await producer
        assert len(appended) > len(before_backup)  # it was ingesting throughout
        await wait_until(lambda: spool_empty(store), 60, "the spool drained")
    summary = json.loads(made.stdout)
    assert summary["stores"][0] == "spool.sqlite" and summary["private_key"] is True
    assert set(summary["index"]) >= {"page", "alert"} and "audit" in summary["logs"]

    restored = tmp_path / "restored"
    new_key = tmp_path / "keys" / "restored.pem"
    done = cli(config, "restore", str(out), "--data-dir", str(restored),
               "--key-file", str(new_key))
    assert done.returncode == 0, done.stderr
    assert new_key.read_bytes() == Path(settings.evidence.signing_key_file).read_bytes()
    config_b = write_config(tmp_path / "restored.toml", restored, new_key)
    settings_b = load_settings(str(config_b), environ={})
    drained = cli(config_b, "index", "drain")  # what was still spooled at the backup
    assert drained.returncode == 0, drained.stderr

    docs_a = await documents(settings, appended)
    docs_b = await documents(settings_b, appended)
    assert set(before_backup) <= set(docs_b)  # every document appended before the backup
    assert set(docs_b) <= set(docs_a)
    assert all(docs_b[i] == docs_a[i] for i in docs_b)
    alerts_b = alert_rows(restored)
    assert alerts_b and alerts_b == alert_rows(settings.data_dir)
    alert_docs = await documents(settings_b, list(alerts_b), kind="alert")
    assert set(alert_docs) == set(alerts_b)  # every alert's document, spooled again
    members_a = MembershipStore(membership_path(settings.data_dir))
    members_b = MembershipStore(membership_path(restored))
    assert members_b.lists() == members_a.lists()
    assert members_b.lookup("md5", MD5) == members_a.lookup("md5", MD5)
    members_a.close()
    members_b.close()
    records_a = list(audit.records())
    records_b = list(AuditLog.for_data_dir(restored, settings_b.evidence).records())
    assert 5 < len(records_b) <= len(records_a) and records_b == records_a[:len(records_b)]

    checked = cli(config_b, "evidence", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "audit: ok" in checked.stdout
    public = out / "keys" / "signing-key.pub.pem"
    verified = cli(config_b, "audit", "verify", "--key", str(public))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def small_backup(tmp_path: Path) -> tuple[Path, Path]:
    config, settings = installation(tmp_path)
    audit = AuditLog.for_data_dir(settings.data_dir, settings.evidence)
    audit.record("search", user="analyst", query="tea")
    audit.sealed_log.seal(load_signing_key(settings.evidence.signing_key_file))
    out = tmp_path / "backup"
    made = cli(config, "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert not (out / "keys" / "signing-key.pem").exists()  # only with --include-keys
    assert (out / "keys" / "signing-key.pub.pem").is_file()
    return config, out


def test_a_tampered_backup_is_refused_naming_the_file(tmp_path: Path) -> None:
    config, out = small_backup(tmp_path)
    check_backup(out)
    log = out / "data" / "audit" / "audit.log"
    log.write_bytes(log.read_bytes().replace(b"tea", b"tee"))
    target = tmp_path / "restored"
    refused = cli(config, "restore", str(out), "--data-dir", str(target))
    assert refused.returncode == 2
    assert str(log) in refused.stderr and "SHA-256 differs" in refused.stderr
    assert not target.exists()


def test_a_file_added_to_or_missing_from_a_backup_is_refused(tmp_path: Path) -> None:
    _, out = small_backup(tmp_path)
    extra = out / "data" / "planted.txt"
    extra.write_text("not from the installation")
    try:
        restore(out, tmp_path / "r1")
    except BackupError as exc:
        assert str(extra) in str(exc) and "not in the manifest" in str(exc)
    else:
        raise AssertionError("a planted file was restored")
    extra.unlink()
    gone = out / "data" / "hashsets.sqlite"
    gone.unlink()
    try:
        restore(out, tmp_path / "r2")
    except BackupError as exc:
        assert str(gone) in str(exc) and "missing" in str(exc)
    else:
        raise AssertionError("a backup with a missing file was restored")
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_restore_refuses_a_data_directory_in_use(tmp_path: Path) -> None:
    _, out = small_backup(tmp_path)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "spool.sqlite").write_bytes(b"")
    try:
        restore(out, busy)
    except BackupError as exc:
        assert str(busy) in str(exc) and "new or empty" in str(exc)
    else:
        raise AssertionError("restored over an existing installation")


def test_segment_files_are_those_of_the_committed_segments() -> None:
    meta = {"segments": [
        {"segment_id": "2e636d1c-3b87-42c5-8199-8135751f84c9", "max_doc": 3, "deletes": None},
        {"segment_id": "24c8dc77-fcd9-4680-b1d9-8b513a90a9f1", "max_doc": 4,
         "deletes": {"num_deleted_docs": 1, "opstamp": 9}},
    ]}
    names = ["2e636d1c3b8742c581998135751f84c9.idx", "2e636d1c3b8742c581998135751f84c9.store",
             "24c8dc77fcd94680b1d98b513a90a9f1.term", "24c8dc77fcd94680b1d98b513a90a9f1.7.del",
             "24c8dc77fcd94680b1d98b513a90a9f1.9.del", "ffff0000ffff0000ffff0000ffff0000.idx",
             "meta.json", ".managed.json", ".tantivy-writer.lock"]
    assert segment_files(meta, names) == [
        "24c8dc77fcd94680b1d98b513a90a9f1.9.del", "24c8dc77fcd94680b1d98b513a90a9f1.term",
        "2e636d1c3b8742c581998135751f84c9.idx", "2e636d1c3b8742c581998135751f84c9.store"]


def test_an_index_copied_while_its_writer_commits_and_merges_opens_whole(tmp_path: Path) -> None:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("k", stored=True, tokenizer_name="raw")
    schema = builder.build()
    src = tmp_path / "src"
    src.mkdir()
    index = tantivy.Index(schema, path=str(src))
    writer = index.writer(heap_size=32 * 2**20, num_threads=1)
    committed = [0]

    def write() -> None:
        for batch in range(40):
            for n in range(25):
                writer.add_document(tantivy.Document(k=f"{batch}-{n}"))
            if batch % 3 == 0:
                writer.delete_documents_by_term("k", f"{batch}-0")
            writer.commit()
            committed[0] += 1

    thread = threading.Thread(target=write)
    thread.start()
    counts: list[int] = []
    while thread.is_alive() or not counts:
        dest = tmp_path / f"copy{len(counts)}"
        copy_tantivy(src, dest)
        copy = tantivy.Index.open(str(dest))
        copy.reload()
        counts.append(copy.searcher().num_docs)
    thread.join()
    # Each copy is one committed state: whole batches, less the deleted documents.
    possible = {25 * b - len(range(0, b, 3)) for b in range(41)}
    assert set(counts) <= possible
    assert committed[0] == 40
    writer.wait_merging_threads()


def test_the_manifest_is_signed_and_checked_against_a_trusted_key(tmp_path: Path) -> None:
    config, out = small_backup(tmp_path)
    public = out / "keys" / "signing-key.pub.pem"
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(public.read_bytes())
    check_backup(out, load_trusted_key(trusted))
    other = init_key(tmp_path / "other.pem", tmp_path / "other-data")
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(public_pem(other.public))
    refused = cli(config, "restore", str(out), "--data-dir", str(tmp_path / "r"),
                  "--key", str(stranger))
    assert refused.returncode == 2
    assert f"{out / 'manifest.json'}: its signature" in refused.stderr
    # A manifest edited to match an edited file fails its signature.
    manifest = json.loads((out / "manifest.json").read_text())
    hashsets = out / "data" / "hashsets.sqlite"
    hashsets.write_bytes(hashsets.read_bytes() + b"\0")
    manifest["files"]["data/hashsets.sqlite"]["sha256"] = sha256_file(hashsets)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    try:
        check_backup(out)
    except BackupError as exc:
        assert "does not verify" in str(exc)
    else:
        raise AssertionError("an edited manifest was accepted")
    assert not (tmp_path / "r").exists()


def test_include_keys_carries_the_retired_keys_and_restore_puts_them_back(
    tmp_path: Path,
) -> None:
    _, settings = installation(tmp_path)
    old, new, retired = rotate_key(settings.evidence.signing_key_file, settings.data_dir)
    out = tmp_path / "backup"
    report = backup(settings, out, include_keys=True, tool_version="test", config_sha256="0")
    assert report.key_id == new.key_id and report.private_key
    key_file = tmp_path / "restored-keys" / "signing.pem"
    restore(out, tmp_path / "restored", key_file=key_file)
    assert load_signing_key(key_file).key_id == new.key_id
    [back] = key_file.parent.glob("signing.pem.retired-*")
    assert back.name == retired.name.replace(retired.name.split(".retired-")[0], "signing.pem")
    assert load_signing_key(back).key_id == old.key_id
    assert back.stat().st_mode & 0o077 == 0
