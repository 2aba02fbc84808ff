"""The document kinds and their registry.

``KINDS`` maps a kind name to its class; ``parse_document`` validates one JSON object
that carries a ``kind``.
"""

from __future__ import annotations

from typing import Any

from documents.alert import Alert
from documents.base import Document, Match, document_id, iso, utcnow, validate
from documents.cluster import Cluster
from documents.fields import FieldType, values_at
from documents.hash import FlaggedHash
from documents.observation import Observation
from documents.page import Page
from documents.service import Service
from documents.torrent import Torrent
from errors import InvalidDocument


def _registry(*classes: type[Document]) -> dict[str, type[Document]]:
    registry: dict[str, type[Document]] = {}
    for cls in classes:
        if cls.KIND in registry:
            raise RuntimeError(f"document kind {cls.KIND!r} registered twice")
        registry[cls.KIND] = cls
    return registry


KINDS: dict[str, type[Document]] = _registry(
    Page, Service, Observation, Torrent, FlaggedHash, Alert, Cluster
)


def parse_document(data: Any) -> Document:
    """Validate one JSON object with a ``kind``; raise :class:`InvalidDocument` naming the field."""
    if not isinstance(data, dict):
        raise InvalidDocument("(document)", f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidDocument("kind", f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    return validate(KINDS[kind], data)


__all__ = [
    "KINDS",
    "Alert",
    "Document",
    "FieldType",
    "FlaggedHash",
    "Match",
    "Observation",
    "Page",
    "Service",
    "Torrent",
    "document_id",
    "iso",
    "parse_document",
    "utcnow",
    "values_at",
]
