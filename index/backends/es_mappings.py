"""Elasticsearch index layout: names, templates and mappings generated from each kind's FIELDS.

One index family per document kind, read through an alias named ``<prefix>-<kind>``:

- ``page`` and ``observation`` grow without bound, so they get one index per month
  (``<prefix>-page-2026.11``), chosen by a time that belongs to the document;
- the other kinds live in one index each (``<prefix>-service-all``).

Mappings are explicit and ``dynamic: false``: fields listed in ``FIELDS`` are indexed with
their type (``ip`` for peer addresses, dates as dates); anything else stays in ``_source``
unindexed, so new optional attributes never break ingest. ``doc_id`` (the document id, the
sort tie-breaker) is indexed but kept out of ``_source``.

Text analysis: the test distribution (and any cluster without the analysis-common module)
has no pattern tokenizer, and the standard tokenizer splits differently from
:mod:`query.analysis` (``foo.bar`` stays one token). So the backend analyses TEXT
fields itself: each is copied, as its tokens joined by spaces, into a shadow field under
``fts.`` that the built-in ``whitespace`` analyzer indexes; ``fts`` is also kept out of
``_source``. Match queries are rewritten to the shadow fields with tokenised text; a
phrase across a dropped long token becomes ``span_near`` with a ``span_gap`` there; a
prefix on a TEXT field (already lower-cased by validation) goes to the shadow too, where
it completes a token just as on the embedded backend.

Reads no settings; :class:`~config.sections.index.ElasticsearchSettings` values are passed in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from documents import KINDS, Document, FieldType, values_at
from query.analysis import phrase_terms, positioned_tokens, tokens

# Bump when a mapping changes: templates are replaced and existing indices get the new
# mapping (additive changes only; Elasticsearch refuses to change a field's type).
MAPPING_VERSION = 1
ID_FIELD = "doc_id"
SHADOW = "fts"
# Stands in for a token too long to index, so phrase positions stay right; never a query token
# (tokens are letters and digits only).
GAP_TOKEN = "_"
# Kinds with one index per month, and the time that picks the month. It should rarely change
# for one id (an observation's first sighting; a page's fetch of that exact content);
# when it does, the backend moves the document and deletes the old copy.
MONTHLY: dict[str, str] = {"page": "fetched_at", "observation": "first_seen"}
SINGLE_SUFFIX = "all"

_ES_TYPES: dict[FieldType, dict[str, Any]] = {
    # No ignore_above: a value too long to index (Lucene's 32 KiB term limit) is refused,
    # and so set aside, as the embedded backend does, rather than silently unsearchable.
    FieldType.KEYWORD: {"type": "keyword"},
    FieldType.DATE: {"type": "date", "format": "strict_date_optional_time||epoch_millis"},
    FieldType.LONG: {"type": "long"},
    FieldType.DOUBLE: {"type": "double"},
    FieldType.BOOL: {"type": "boolean"},
    FieldType.IP: {"type": "ip"},
    # The original text is only kept in _source; its shadow under fts. is what is searched.
    FieldType.TEXT: {"type": "text", "index": False, "norms": False},
}
_SHADOW_TEXT = {"type": "text", "analyzer": "whitespace", "norms": True}


def alias_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}"


def index_pattern(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}-*"


def template_name(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}"


def month_of(prefix: str, kind: str, index: str) -> tuple[datetime, datetime] | None:
    """The month ``[start, end)`` a monthly index holds, or None if the name is not one."""
    head = f"{prefix}-{kind}-"
    if kind not in MONTHLY or not index.startswith(head):
        return None
    try:
        start = datetime.strptime(index[len(head):], "%Y.%m").replace(tzinfo=UTC)
    except ValueError:
        return None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else \
        start.replace(month=start.month + 1)
    return start, end


def index_name(prefix: str, kind: str, when: datetime | None) -> str:
    if kind in MONTHLY:
        if when is None:
            raise ValueError(f"a {kind} needs its {MONTHLY[kind]} to pick its monthly index")
        return f"{prefix}-{kind}-{when.astimezone(UTC):%Y.%m}"
    return f"{prefix}-{kind}-{SINGLE_SUFFIX}"


def target_index(prefix: str, doc: Document) -> str:
    """The concrete index a document is written to."""
    field = MONTHLY.get(doc.KIND)
    return index_name(prefix, doc.KIND, getattr(doc, field) if field else None)


def shadow_path(field: str) -> str:
    return f"{SHADOW}.{field}"


def _nest(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Dotted paths -> nested ``properties`` objects."""
    root: dict[str, Any] = {}
    for path, spec in sorted(fields.items()):
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = dict(spec)
    return root


def mapping_for(kind: str) -> dict[str, Any]:
    """The explicit mapping of one kind, generated from its FIELDS."""
    fields = KINDS[kind].FIELDS
    properties = _nest({path: _ES_TYPES[ftype] for path, ftype in fields.items()})
    properties[ID_FIELD] = {"type": "keyword"}
    shadows = {path: _SHADOW_TEXT for path, ftype in fields.items() if ftype is FieldType.TEXT}
    if shadows:
        properties[SHADOW] = {"properties": _nest(shadows)}
    return {
        "dynamic": "false",
        "_source": {"excludes": [ID_FIELD, SHADOW]},
        "_meta": {"heroes_kind": kind, "heroes_mapping_version": MAPPING_VERSION},
        "properties": properties,
    }


def template_for(prefix: str, kind: str, *, shards: int, replicas: int,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``indices.put_index_template`` for one kind.

    ``extra`` adds index settings (refresh interval, lifecycle policy) beside the shape.
    """
    index_settings: dict[str, Any] = {"number_of_shards": shards, "number_of_replicas": replicas}
    index_settings.update(extra or {})
    return {
        "name": template_name(prefix, kind),
        "index_patterns": [index_pattern(prefix, kind)],
        # Above the built-in templates of a full distribution (they use 100..200).
        "priority": 500,
        "version": MAPPING_VERSION,
        "template": {
            "settings": {"index": index_settings},
            "mappings": mapping_for(kind),
            "aliases": {alias_name(prefix, kind): {}},
        },
        "meta": {"managed_by": "heroes", "heroes_mapping_version": MAPPING_VERSION},
    }


# --- documents in, sources out -------------------------------------------------------------


def _shadow_text(value: str) -> str:
    """A text value as space-joined tokens, a gap token where a too-long token was dropped."""
    out: list[str] = []
    for position, token in positioned_tokens(value):
        out.extend([GAP_TOKEN] * (position - len(out)))
        out.append(token)
    return " ".join(out)


def shadow_fields(kind: str, source: dict[str, Any]) -> dict[str, Any]:
    """The ``fts`` object of one document: every TEXT field, pre-analysed."""
    shadow: dict[str, Any] = {}
    for path, ftype in KINDS[kind].FIELDS.items():
        if ftype is not FieldType.TEXT:
            continue
        values = [_shadow_text(v) for v in values_at(source, path) if isinstance(v, str)]
        if not values:
            continue
        # Dotted keys are expanded by Elasticsearch into the mapped objects.
        shadow[path] = values[0] if len(values) == 1 and "." not in path else values
    return shadow


def body_for(doc: Document) -> dict[str, Any]:
    """What is sent for one document: its ``_source`` plus the indexed-only fields."""
    body = doc.source()
    body[ID_FIELD] = doc.id
    shadow = shadow_fields(doc.KIND, body)
    if shadow:
        body[SHADOW] = shadow
    return body


def clean_source(source: dict[str, Any]) -> dict[str, Any]:
    """A stored ``_source`` as the document model wrote it (indexed-only fields removed)."""
    if ID_FIELD in source or SHADOW in source:
        source = {k: v for k, v in source.items() if k not in (ID_FIELD, SHADOW)}
    return source


# --- queries ---------------------------------------------------------------------------------


def match_text(text: str) -> str:
    return " ".join(tokens(text))


def phrase_query(field: str, text: str) -> dict[str, Any]:
    """A phrase on a shadow field; a dropped long token inside it matches any one token.

    Without gaps this is ``match_phrase``; with gaps, ``span_near`` with ``span_gap`` clauses
    (both in server core), since a phrase query cannot leave a position open.
    """
    terms = phrase_terms(text)
    if all(offset == i for i, (offset, _) in enumerate(terms)):
        return {"match_phrase": {field: {"query": " ".join(t for _, t in terms)}}}
    clauses: list[dict[str, Any]] = []
    position = 0
    for offset, token in terms:
        if offset > position:
            clauses.append({"span_gap": {field: offset - position}})
        clauses.append({"span_term": {field: token}})
        position = offset + 1
    return {"span_near": {"clauses": clauses, "slop": 0, "in_order": True}}


def rewrite_query(kind: str, node: Any) -> Any:
    """A compiled query with TEXT-field clauses pointed at their pre-analysed shadows."""
    fields = KINDS[kind].FIELDS
    if isinstance(node, list):
        return [rewrite_query(kind, item) for item in node]
    if not isinstance(node, dict):
        return node
    phrase = node.get("match_phrase")
    if len(node) == 1 and isinstance(phrase, dict) and len(phrase) == 1:
        ((field, spec),) = phrase.items()
        text = spec["query"] if isinstance(spec, dict) else spec
        if fields.get(field) is FieldType.TEXT:
            return phrase_query(shadow_path(field), str(text))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "match" and isinstance(value, dict):
            rewritten = {}
            for field, spec in value.items():
                spec = dict(spec) if isinstance(spec, dict) else {"query": spec}
                spec["query"] = match_text(str(spec["query"]))
                is_text = fields.get(field) is FieldType.TEXT
                rewritten[shadow_path(field) if is_text else field] = spec
            out[key] = rewritten
        elif key == "bool" and isinstance(value, dict) and _unsatisfiable(value):
            # Elasticsearch ignores minimum_should_match when there are no should clauses;
            # the model says such a bool matches nothing.
            out[key] = {"must_not": [{"match_all": {}}]}
        elif key == "prefix" and isinstance(value, dict):
            out[key] = {shadow_path(field) if fields.get(field) is FieldType.TEXT else field: spec
                        for field, spec in value.items()}
        elif key == "exists" and isinstance(value, dict):
            field = value.get("field")
            out[key] = ({"field": shadow_path(field)}
                        if fields.get(field) is FieldType.TEXT else dict(value))
        else:
            out[key] = rewrite_query(kind, value)
    return out


def _unsatisfiable(spec: dict[str, Any]) -> bool:
    wanted = spec.get("minimum_should_match")
    return isinstance(wanted, int) and wanted > len(spec.get("should", []))
