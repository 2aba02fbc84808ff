"""Sealed logs checked against their heads: every tamper named with its record number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.check import check_log
from evidence.keys import SigningKey
from evidence.sealedlog import SealedLog, sidecar


def make_log(path: Path, key: SigningKey, n: int = 120, heads_at: tuple[int, ...] = (60,),
             ) -> SealedLog:
    log = SealedLog(path, "test")
    for i in range(1, n + 1):
        log.append({"action": "login_failed" if i % 3 == 0 else "search", "user": f"user{i % 7}",
                    "i": i})
        if i in heads_at:
            log.seal(key)
    log.seal(key)
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write(path: Path, rows: list[bytes]) -> None:
    path.write_bytes(b"".join(rows))


def trusted(key: SigningKey) -> dict:
    return {key.key_id: key.public}


def problems(path: Path, key: SigningKey) -> str:
    report = check_log("test", path, trusted(key))
    assert not report.ok
    return "\n".join(report.problems)


def test_untouched_log_verifies(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    log.append({"late": True})
    report = check_log("test", log.path, trusted(key))
    assert report.ok, report.problems
    assert (report.records, report.sealed, report.unsealed, report.heads) == (121, 120, 1, 2)
    assert any("records 121..121: unsealed" in n for n in report.notes)


def test_another_installations_key_is_not_trusted(tmp_path: Path, key: SigningKey,
                                                   other_key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    assert "not trusted" in problems(log.path, other_key)


@pytest.mark.parametrize("cut", [1, 50])
def test_truncation(tmp_path: Path, key: SigningKey, cut: int) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    write(log.path, lines(log.path)[:-cut])
    assert f"records {121 - cut}..120: missing" in problems(log.path, key)


def test_edit(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    rows = lines(log.path)
    rows[41] = rows[41].replace(b'"user', b'"mallory')
    write(log.path, rows)
    assert "record 42: edited" in problems(log.path, key)


def test_insertion(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    rows = lines(log.path)
    rows.insert(70, rows[5])
    write(log.path, rows)
    text = problems(log.path, key)
    assert "record 71: inserted" in text


def test_reordering(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    rows = lines(log.path)
    rows[10], rows[11] = rows[11], rows[10]
    write(log.path, rows)
    assert "record 11: records 11 and 12 were swapped" in problems(log.path, key)


def test_deletion_in_the_middle(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    rows = lines(log.path)
    del rows[29]
    write(log.path, rows)
    assert "record 30: the sealed record 30 was deleted" in problems(log.path, key)


def _rewrite(path: Path, also_leaves: bool) -> None:
    """Failed logins removed and a user renamed, seq renumbered, leaf hashes recomputed."""
    log = SealedLog(path.with_name("forged.jsonl"), "test")
    for row in lines(path):
        record = json.loads(row)
        if record["data"]["action"] == "login_failed":
            continue
        record["data"]["user"] = record["data"]["user"].replace("user3", "someone")
        log.append(record["data"], at=None)
    path.write_bytes(log.path.read_bytes())
    SealedLog(log.path, "test").open()  # a fresh reader writes the forged log's leaves file
    if also_leaves:
        sidecar(path, "leaves").write_bytes(sidecar(log.path, "leaves").read_bytes())


def test_full_rewrite_names_the_first_changed_record(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    _rewrite(log.path, also_leaves=False)
    assert "record 1: edited" in problems(log.path, key)


def test_full_rewrite_with_leaves_recomputed(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    _rewrite(log.path, also_leaves=True)
    text = problems(log.path, key)
    assert "records 1..60: at least one was edited" in text
    assert "missing" in text  # fewer records than the newest head sealed


def test_forged_append_with_a_forged_head(tmp_path: Path, key: SigningKey,
                                          other_key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    log.append({"action": "login", "user": "forger"})
    log.seal(other_key)
    assert "not trusted" in problems(log.path, key)
    report = check_log("test", log.path, trusted(key))
    assert any("records 121..121: unsealed" in n for n in report.notes)


def test_edited_head_fails_its_signature(tmp_path: Path, key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key)
    rows = lines(log.heads_path)
    head = json.loads(rows[-1])
    head["size"] = 119
    rows[-1] = (json.dumps(head) + "\n").encode()
    write(log.heads_path, rows)
    assert "does not verify" in problems(log.path, key)


def test_torn_line_reported_then_repaired_keeping_every_record(tmp_path: Path,
                                                              key: SigningKey) -> None:
    log = make_log(tmp_path / "a.jsonl", key, n=10, heads_at=())
    with log.path.open("ab") as fh:
        fh.write(b'{"seq":11,"at":"2026')
    report = check_log("test", log.path, trusted(key))
    assert report.ok and any("record 11: torn last line" in n for n in report.notes)
    fresh = SealedLog(log.path, "test").open()
    assert fresh.size == 10 and fresh.repairs
    assert list(tmp_path.glob("a.jsonl.torn-*"))
    record = fresh.append({"after": "crash"})
    assert record["seq"] == 11
    assert fresh.seal(key) is not None
    assert check_log("test", log.path, trusted(key)).ok


def test_two_writers_share_one_log(tmp_path: Path, key: SigningKey) -> None:
    a = SealedLog(tmp_path / "a.jsonl", "test")
    b = SealedLog(tmp_path / "a.jsonl", "test")
    for i in range(20):
        (a if i % 3 else b).append({"i": i})
    assert [r["seq"] for r in a.records()] == list(range(1, 21))
    b.seal(key)
    a.append({"i": 20})
    a.seal(key)
    report = check_log("test", a.path, trusted(key))
    assert report.ok and report.sealed == 21, report.problems
    assert sidecar(a.path, "leaves").stat().st_size == 21 * 32
