"""Retention cut-offs and the purge over the Backend interface (reference backend)."""

from __future__ import annotations

from datetime import UTC, datetime

from config.sections.console import RetentionSettings
from heroes.console.retention import cutoffs, purge
from tests.console.labdata import documents
from tests.console.memory_backend import MemoryBackend

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_only_limited_kinds_have_a_cutoff() -> None:
    plan = cutoffs(RetentionSettings(page_days=30, alert_days=7), NOW)
    assert {(c.kind, c.field, c.days) for c in plan} == {
        ("page", "fetched_at", 30),
        ("alert", "created_at", 7),
    }
    assert cutoffs(RetentionSettings(), NOW) == []


async def test_purge_deletes_what_is_older_only() -> None:
    backend = MemoryBackend()
    await backend.write(documents())
    pages = await backend.count("page")
    # The lab pages are from 2026-11-01..03; keep 27 days back from the 29th: 11-02 onwards.
    dry = await purge(backend, RetentionSettings(page_days=27), now=NOW, dry_run=True)
    assert 0 < dry["page"] < pages and await backend.count("page") == pages
    done = await purge(backend, RetentionSettings(page_days=27), now=NOW)
    assert done == dry and await backend.count("page") == pages - dry["page"]
    assert await purge(backend, RetentionSettings(page_days=27), now=NOW) == {"page": 0}
    assert await backend.count("observation") == 8
