"""The embedded tantivy backend: the backend contract plus what only an embedded index has."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.sections.index import IndexSettings
from documents import KINDS, parse_document
from errors import WriterLocked
from index.backends.base import Backend
from index.backends.tantivy import TantivyBackend
from index.backends.tantivy_schema import build_schema
from query.model import Search, SortField
from tests.index.backend_contract import BackendContract
from tests.index.examples import example_documents

SETTINGS = IndexSettings(writer_heap_mb=32, reader_reload_s=0.2)
REPO = Path(__file__).resolve().parents[2]


class TestTantivyContract(BackendContract):
    @pytest.fixture
    async def backend(self, tmp_path: Path) -> AsyncIterator[Backend]:
        backend = TantivyBackend(tmp_path / "index", SETTINGS)
        await backend.open(writer=True)
        try:
            yield backend
        finally:
            await backend.close()


def test_schema_has_a_field_per_model_field() -> None:
    for cls in KINDS.values():
        ks = build_schema(cls)
        assert set(ks.names) == set(cls.FIELDS)
        assert all("." not in name for name in ks.names.values())
    page = build_schema(KINDS["page"])
    assert "entities.btc" in page.multi and "fetched_at" not in page.multi
    assert page.single_numeric("fetched_at") and not page.single_numeric("host")


@pytest.mark.asyncio(loop_scope="session")
async def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    first = TantivyBackend(tmp_path, SETTINGS)
    await first.open(writer=True)
    try:
        second = TantivyBackend(tmp_path, SETTINGS)
        with pytest.raises(WriterLocked, match=str(tmp_path)):
            await second.open(writer=True)
        await second.close()
    finally:
        await first.close()
    again = TantivyBackend(tmp_path, SETTINGS)
    await again.open(writer=True)  # the lock went with the first writer
    await again.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_reader_before_any_index_exists(tmp_path: Path) -> None:
    reader = TantivyBackend(tmp_path / "none", SETTINGS)
    await reader.open(writer=False)
    assert await reader.count("page") == 0
    assert (await reader.search(Search("page")))["hits"]["total"]["value"] == 0
    assert await reader.get("page", ["0" * 32]) == {}
    assert not (tmp_path / "none").exists()  # readers create nothing
    await reader.close()


READER = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from config.sections.index import IndexSettings
    from index.backends.tantivy import TantivyBackend

    async def main():
        backend = TantivyBackend(Path(sys.argv[1]), IndexSettings(reader_reload_s=0.2))
        await backend.open(writer=False)
        print("ready", flush=True)
        want = int(sys.stdin.readline())
        start = time.monotonic()
        while time.monotonic() - start < 10:
            if await backend.count("page") == want:
                print(f"seen {time.monotonic() - start:.3f}", flush=True)
                return
            await asyncio.sleep(0.02)
        print("timeout", flush=True)

    asyncio.run(main())
""")


@pytest.mark.asyncio(loop_scope="session")
async def test_reader_in_another_process_sees_commits(tmp_path: Path) -> None:
    writer = TantivyBackend(tmp_path, SETTINGS)
    await writer.open(writer=True)
    proc = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
        docs = [d for d in example_documents() if d.KIND == "page"]
        committed = time.monotonic()
        assert await writer.write(docs) == []
        proc.stdin.write(f"{len(docs)}\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=30)
        assert out.startswith("seen"), f"reader output {out!r}, log:\n{err}"
        assert time.monotonic() - committed < 10
        # The reader reloads at least every reader_reload_s.
        assert float(out.split()[1]) < SETTINGS.reader_reload_s + 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        await writer.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_the_generation_is_the_commit_not_the_files_inode_and_time(tmp_path: Path) -> None:
    docs = [d for d in example_documents() if d.KIND == "page"]
    writer = TantivyBackend(tmp_path, SETTINGS)
    await writer.open(writer=True)
    reader = TantivyBackend(tmp_path, IndexSettings(reader_reload_s=0.001))
    try:
        assert await writer.write(docs[:1]) == []
        await reader.open(writer=False)
        first = reader.generation("page")
        meta = tmp_path / "page" / "meta.json"
        before = meta.stat()
        await reader.refresh()
        assert reader.generation("page") == first  # nothing committed: the same generation

        # A commit whose meta.json has the old file's inode and clock tick, as ext4 can give.
        keep = meta.with_name("meta.keep")
        os.link(meta, keep)
        assert await writer.write(docs[1:]) == []
        keep.write_bytes(meta.read_bytes())
        os.utime(keep, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(keep, meta)
        after = meta.stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        await reader.refresh()
        assert reader.generation("page") != first
        assert await reader.count("page") == len(docs)
    finally:
        await reader.close()
        await writer.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_reopened_index_keeps_documents(tmp_path: Path) -> None:
    docs = example_documents()
    backend = TantivyBackend(tmp_path, SETTINGS)
    await backend.open(writer=True)
    await backend.write(docs)
    await backend.close()
    reader = TantivyBackend(tmp_path, SETTINGS)
    await reader.open(writer=False)
    assert await reader.count("page") == sum(d.KIND == "page" for d in docs)
    result = await reader.search(Search("page", sort=(SortField("fetched_at", "asc"),), size=1))
    assert result["hits"]["hits"][0]["sort"][0] == 1795134600000  # 2026-11-20T00:30Z in ms
    await reader.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_writes_from_a_reader_are_refused(tmp_path: Path) -> None:
    from errors import BackendUnavailable

    reader = TantivyBackend(tmp_path, SETTINGS)
    await reader.open(writer=False)
    doc = parse_document({"kind": "hash", "value": "aa", "type": "md5", "list": "l",
                          "added_at": "2026-11-28T00:00:00Z"})
    with pytest.raises(BackendUnavailable, match="not open for writing"):
        await reader.write([doc])
    await reader.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_a_damaged_index_is_reported_not_raised_raw(tmp_path: Path) -> None:
    from errors import BackendUnavailable

    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "meta.json").write_text("{not json")
    reader = TantivyBackend(tmp_path, SETTINGS)
    with pytest.raises(BackendUnavailable, match=r"page.*corrupt"):
        await reader.open(writer=False)
    await reader.close()
    writer = TantivyBackend(tmp_path, SETTINGS)
    with pytest.raises(BackendUnavailable, match="page"):
        await writer.open(writer=True)
    await writer.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_aggregations_beyond_tantivys_bucket_limit_are_counted_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from index.backends import tantivy_aggs as module
    from query.dsl import from_dsl
    from query.reference import evaluate
    from tests.index.backend_contract import buckets
    from tests.index.examples import sources_of

    monkeypatch.setattr(module, "BUCKET_LIMIT", 1)  # every terms aggregation overflows
    docs = example_documents()
    backend = TantivyBackend(tmp_path, SETTINGS)
    await backend.open(writer=True)
    try:
        await backend.write(docs)
        for kind, aggs in [
            ("page", {"h": {"terms": {"field": "host", "size": 2}},
                      "b": {"terms": {"field": "entities.btc"}},
                      "s": {"terms": {"field": "status"}}}),
            ("observation", {"i": {"terms": {"field": "ip"}}, "l": {"terms": {"field": "level"}}}),
        ]:
            search = from_dsl(kind, {"size": 0, "aggs": aggs})
            sources, ids = sources_of(docs, kind)
            assert buckets(await backend.search(search)) == buckets(evaluate(search, sources, ids))
    finally:
        await backend.close()
