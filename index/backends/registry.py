"""Build the configured backend; optional backends are imported only when chosen."""

from __future__ import annotations

from config import Settings
from index.backends.base import Backend


def make_backend(settings: Settings) -> Backend:
    if settings.index.backend == "elasticsearch":
        from index.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend(settings.elasticsearch, settings.retention)
    from index.backends.tantivy import TantivyBackend

    return TantivyBackend(settings.data_dir / "index", settings.index)
