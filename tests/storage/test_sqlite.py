"""The SQLite stores: schema versions stamped, migrated forward once, newer refused; one
transaction shape for every store."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from alerting.db import AlertDB
from crawler.jobstate import JobState
from errors import StoreTooNew
from index.hashsets.feedback import DecisionStore
from index.hashsets.membership import MembershipStore
from index.spool import Spool
from storage.sqlite import open_database, schema_version, statements, transaction
from triage.assignments import Assignments

REPO = Path(__file__).resolve().parents[2]

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def set_version(path: Path, version: int) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()


def unversioned_file(path: Path) -> None:
    """A file as the release before versions wrote it: the schema, a row, user_version 0."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO notes (body) VALUES ('kept')")
    db.commit()
    db.close()


def add_topic(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE notes ADD COLUMN topic TEXT NOT NULL DEFAULT 'general'")


STORES: dict[str, Callable[[Path], object]] = {
    "spool": Spool,
    "alerts": AlertDB,
    "hash lists": MembershipStore,
    "hit decisions": DecisionStore,
    "crawl job": JobState,
    "assignments": Assignments,
}


@pytest.mark.parametrize("name", list(STORES))
def test_every_store_stamps_a_file_of_the_release_before_versions(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / f"{name}.sqlite"
    STORES[name](path).close()  # type: ignore[attr-defined]
    current = version_of(path)
    set_version(path, 0)
    STORES[name](path).close()  # type: ignore[attr-defined]
    assert version_of(path) == current >= 1


@pytest.mark.parametrize("name", list(STORES))
def test_every_store_refuses_a_file_from_a_newer_version(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.sqlite"
    STORES[name](path).close()  # type: ignore[attr-defined]
    set_version(path, 7)
    with pytest.raises(Exception, match="schema version 7, newer than this version") as info:
        STORES[name](path)
    assert str(path) in str(info.value)
    assert version_of(path) == 7


def test_an_unversioned_file_is_stamped_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    unversioned_file(path)
    db = open_database(path, SCHEMA, version=1)
    assert schema_version(db) == 1
    assert db.execute("SELECT body FROM notes").fetchall() == [("kept",)]
    db.close()


def test_a_migration_runs_once_and_brings_the_file_forward(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    unversioned_file(path)
    open_database(path, SCHEMA, version=1).close()
    runs: list[int] = []

    def counted(db: sqlite3.Connection) -> None:
        runs.append(schema_version(db))
        add_topic(db)

    for _ in range(2):
        db = open_database(path, SCHEMA, version=2, migrations={2: counted})
        assert db.execute("SELECT body, topic FROM notes").fetchall() == [("kept", "general")]
        db.close()
    assert runs == [1]
    assert version_of(path) == 2


def test_migrations_run_in_order_from_the_version_found(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    unversioned_file(path)
    order: list[int] = []
    steps = {n: (lambda db, n=n: order.append(n)) for n in (1, 2, 3)}
    open_database(path, SCHEMA, version=3, migrations=steps).close()
    assert order == [1, 2, 3]


def test_a_new_file_runs_no_migration(tmp_path: Path) -> None:
    ran: list[int] = []
    db = open_database(tmp_path / "new.sqlite", SCHEMA, version=2,
                       migrations={2: lambda db: ran.append(2)})
    assert schema_version(db) == 2 and ran == []
    db.close()


def test_a_migration_that_fails_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    unversioned_file(path)
    open_database(path, SCHEMA, version=1).close()

    def crashes(db: sqlite3.Connection) -> None:
        add_topic(db)
        db.execute("UPDATE notes SET body = 'half-done'")
        raise RuntimeError("power lost")

    with pytest.raises(RuntimeError, match="power lost"):
        open_database(path, SCHEMA, version=2, migrations={2: crashes})
    assert version_of(path) == 1
    with sqlite3.connect(path) as db:
        assert [r[1] for r in db.execute("PRAGMA table_info(notes)")] == ["id", "body"]
        assert db.execute("SELECT body FROM notes").fetchall() == [("kept",)]
    # The next start runs the (fixed) migration from the start.
    db = open_database(path, SCHEMA, version=2, migrations={2: add_topic})
    assert db.execute("SELECT body, topic FROM notes").fetchall() == [("kept", "general")]
    db.close()


def test_a_file_from_a_newer_version_is_refused_naming_it_and_both_versions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notes.sqlite"
    unversioned_file(path)
    set_version(path, 4)
    with pytest.raises(StoreTooNew) as info:
        open_database(path, SCHEMA, version=2, migrations={2: add_topic})
    message = str(info.value)
    assert str(path) in message and "version 4" in message and "knows (2)" in message
    assert (info.value.found, info.value.known) == (4, 2)
    with sqlite3.connect(path) as db:  # untouched
        assert [r[1] for r in db.execute("PRAGMA table_info(notes)")] == ["id", "body"]


def test_the_cli_refuses_a_store_from_a_newer_version_with_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Spool(data / "spool.sqlite").close()
    set_version(data / "spool.sqlite", 3)
    done = subprocess.run(
        [sys.executable, "-m", "heroes.cli", "--data-dir", str(data), "index", "drain"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert f"{data / 'spool.sqlite'}: the store has schema version 3" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_schema_splits_into_whole_statements() -> None:
    script = """
    -- counts; one row a list
    CREATE TABLE IF NOT EXISTS c (name TEXT DEFAULT 'a;b', n INTEGER);
    CREATE TRIGGER IF NOT EXISTS c_one AFTER INSERT ON c BEGIN
        UPDATE c SET n = 1 WHERE n IS NULL;
    END;
    -- trailing comment
    """
    found = statements(script)
    assert len(found) == 2 and "'a;b'" in found[0] and found[1].rstrip().endswith("END;")
    with contextlib.closing(open_database(Path(":memory:"), script)) as db:
        db.execute("INSERT INTO c (name) VALUES ('x')")
        assert db.execute("SELECT name, n FROM c").fetchall() == [("x", 1)]


def test_a_transaction_commits_its_block_or_none_of_it(tmp_path: Path) -> None:
    db = open_database(tmp_path / "t.sqlite", "CREATE TABLE IF NOT EXISTS t (v INTEGER UNIQUE);")
    with transaction(db) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError), transaction(db):
        db.execute("INSERT INTO t VALUES (2)")
        db.execute("INSERT INTO t VALUES (1)")  # fails: the 2 goes with it
    assert not db.in_transaction
    assert [r[0] for r in db.execute("SELECT v FROM t")] == [1]
    # Another connection sees only what was committed, and can write once the block ends.
    other = open_database(tmp_path / "t.sqlite", "")
    with transaction(db):
        db.execute("INSERT INTO t VALUES (3)")
        assert [r[0] for r in other.execute("SELECT v FROM t")] == [1]
    with transaction(other):
        other.execute("INSERT INTO t VALUES (4)")
    assert [r[0] for r in db.execute("SELECT v FROM t ORDER BY v")] == [1, 3, 4]


OPENER = """
import sys
from pathlib import Path
from storage.sqlite import open_database
folder, files = Path(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for i in range(files):
    open_database(folder / f"{i}.sqlite", "CREATE TABLE IF NOT EXISTS t (x);").close()
"""


def test_processes_opening_the_same_new_files_at_once_all_open_them(tmp_path: Path) -> None:
    # The processes switch each new file to WAL together: the switch wants the file to
    # itself, and SQLite answers all but one of them "locked" without waiting.
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(tmp_path), "40"],
                              cwd=REPO, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(4)]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=120) for proc in procs]
        assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
