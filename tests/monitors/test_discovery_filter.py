"""Discovery's dedup: the Bloom filter only sorts, the index decides (no new infohash lost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from config import load_settings
from index.store import Store
from monitors.discovery import Discoverer


@dataclass
class Sample:
    samples: list[str]
    endpoint: tuple[str, int] = ("127.0.0.9", 6881)
    nodes: list[Any] = field(default_factory=list)
    interval: timedelta = timedelta(seconds=60)

    @property
    def num_samples(self) -> int:
        return len(self.samples)


class AlwaysSeen:
    """A filter at its worst: every value looks seen (each answer a false positive)."""

    def add(self, value: str) -> bool:
        return False


def test_a_false_positive_of_the_filter_still_reaches_the_index_check(tmp_path: Path) -> None:
    settings = load_settings(None, environ={}, overrides={"data_dir": str(tmp_path)})
    store = Store(settings)
    try:
        discoverer = Discoverer(settings, store)
        discoverer.seen = AlwaysSeen()  # type: ignore[assignment]
        new = ["ab" * 20, "cd" * 20]
        discoverer._on_sample(Sample(new))
        discoverer._on_sample(Sample(new))  # repeats inside the exact window: no second check
        assert [h for h, _, _ in discoverer._fresh] == new
    finally:
        store.close()
