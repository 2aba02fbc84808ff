"""The console's common values: counted once per generation of the services' index and of
the suppression files, not for every view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config.sections.analysis import AnalysisSettings
from heroes.console.pivots import CommonCache


class _CountingBackend:
    """Counts the searches of CommonValues.load; its generation is set by the test."""

    def __init__(self) -> None:
        self.gen: object = ("idx", 1)
        self.searches = 0

    def generation(self, kind: str) -> object:
        return self.gen

    async def search(self, search: object) -> dict[str, Any]:
        self.searches += 1
        return {"aggregations": {"favicon": {"buckets": [{"key": "7", "doc_count": 9}]}}}

    async def count(self, kind: str) -> int:
        return 20


async def test_common_values_are_counted_once_per_index_and_list_generation(tmp_path: Path) -> None:
    suppress = tmp_path / "suppress.txt"
    suppress.write_text("analytics:UA-1\n")
    settings = AnalysisSettings(common_fraction=0.2, suppress_files=[suppress])
    backend, cache = _CountingBackend(), CommonCache()

    async def why(name: str, value: str) -> str:
        return (await cache.get(settings, backend)).why(name, value)  # type: ignore[arg-type]

    assert (await why("favicon", "7")).startswith("on 9 of 20 services")
    assert await why("analytics", "UA-1") and backend.searches == 1  # the second view: no search
    backend.gen = ("idx", 2)  # a commit
    assert await why("favicon", "7") and backend.searches == 2
    suppress.write_text("analytics:UA-2\n")  # the unit edits its list
    assert not await why("analytics", "UA-1")
    assert await why("analytics", "UA-2") and backend.searches == 3
    backend.gen = None  # a backend that cannot tell: counted for each view
    await why("favicon", "7")
    await why("favicon", "7")
    assert backend.searches == 5
