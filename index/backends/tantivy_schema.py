"""How a document kind becomes a tantivy schema, and a document a tantivy document.

One tantivy index per kind; its schema is generated from the kind's ``FIELDS``:

- dotted paths become ``__``-joined names (``entities.btc`` -> ``entities__btc``);
- TEXT: the ``default`` tokenizer with positions (see :mod:`query.analysis`);
- KEYWORD and IP: the ``raw`` tokenizer, fast (for sorting and terms aggregations);
- DATE: an indexed, fast i64 of epoch milliseconds - tantivy's own date columns keep whole
  seconds by default, and the query model compares milliseconds;
- LONG (i64), DOUBLE (f64), BOOL: indexed and fast.

Beside them the backend keeps ``doc_id`` (raw, stored, fast: the id and its delete term),
``_id_key`` (the id's first 64 bits as a fast u64, so the id tie-breaker can be read from a
column), ``_fields`` (which fields hold a value: answers ``exists``) and ``_source`` (the
JSON body, stored only). Values of exact fields are de-duplicated per document, so terms
aggregations count each document once per value, as Elasticsearch does. Reads no settings.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

import pydantic_core
import tantivy
from pydantic import BaseModel

from documents import Document, values_at
from documents.fields import FieldType
from query.reference import canonical

ID = "doc_id"
ID_KEY = "_id_key"
FIELDS_PRESENT = "_fields"
SOURCE = "_source"

# Lucene's limit for one indexed term; Elasticsearch refuses longer keyword values too.
MAX_TERM_BYTES = 32_766
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
NUMERIC_COLUMNS = frozenset({FieldType.LONG, FieldType.DOUBLE, FieldType.DATE})


class Refused(ValueError):
    """A document value tantivy cannot index; the document is reported as rejected."""


def tantivy_name(path: str) -> str:
    return path.replace(".", "__")


def id_key(doc_id: str) -> int:
    """The first 64 bits of a (hex) id: ordered like the id itself."""
    return int(doc_id[:16].ljust(16, "0"), 16)


# A field as to_tantivy walks it: path, path steps, tantivy name, type.
_Leaf = tuple[str, tuple[str, ...], str, FieldType]


@dataclass(frozen=True)
class KindSchema:
    kind: str
    fields: dict[str, FieldType]
    names: dict[str, str]  # field path -> tantivy field name
    multi: frozenset[str]  # field paths that can hold several values
    schema: tantivy.Schema

    @functools.cached_property
    def plan(self) -> tuple[tuple[str, tuple[_Leaf, ...]], ...]:
        """The fields grouped by their first path step: (step, ((path, parts, tantivy name,
        type), ...)), so that a document without e.g. ``media`` skips all of its fields at
        once; paths are split once here, not per document."""
        groups: dict[str, list[_Leaf]] = {}
        for path, ftype in self.fields.items():
            parts = tuple(path.split("."))
            groups.setdefault(parts[0], []).append((path, parts, self.names[path], ftype))
        return tuple((top, tuple(entries)) for top, entries in groups.items())

    def single_numeric(self, path: str) -> bool:
        """Whether a field's sort value can be read straight from its fast column."""
        return self.fields[path] in NUMERIC_COLUMNS and path not in self.multi


def build_schema(cls: type[Document]) -> KindSchema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field(ID, stored=True, fast=True, tokenizer_name="raw")
    sb.add_unsigned_field(ID_KEY, indexed=False, fast=True)
    sb.add_text_field(FIELDS_PRESENT, tokenizer_name="raw", index_option="basic")
    sb.add_bytes_field(SOURCE, stored=True)
    names: dict[str, str] = {}
    for path, ftype in cls.FIELDS.items():
        name = names[path] = tantivy_name(path)
        if ftype is FieldType.TEXT:
            sb.add_text_field(name, tokenizer_name="default")
        elif ftype in (FieldType.KEYWORD, FieldType.IP):
            sb.add_text_field(name, tokenizer_name="raw", fast=True)
        elif ftype in (FieldType.LONG, FieldType.DATE):
            sb.add_integer_field(name, indexed=True, fast=True)
        elif ftype is FieldType.DOUBLE:
            sb.add_float_field(name, indexed=True, fast=True)
        else:
            sb.add_boolean_field(name, indexed=True, fast=True)
    multi = frozenset(p for p in cls.FIELDS if _is_multi(cls, p))
    return KindSchema(cls.KIND, dict(cls.FIELDS), names, multi, sb.build())


def _is_multi(cls: type[BaseModel], path: str) -> bool:
    """Whether any step of a dotted path goes through a list in the pydantic model."""
    model: Any = cls
    multi = False
    for part in path.split("."):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return True  # a free-form mapping: assume the worst
        info = model.model_fields.get(part)
        if info is None:
            return True
        annotation = info.annotation
        while True:
            origin = typing.get_origin(annotation)
            if origin in (typing.Union, types.UnionType):
                annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
            elif origin in (list, tuple, set, frozenset):
                multi = True
                annotation = typing.get_args(annotation)[0]
            else:
                break
        model = annotation
    return multi


def to_tantivy(ks: KindSchema, doc: Document, doc_id: str | None = None) -> tantivy.Document:
    """The tantivy document of one of our documents; raises :class:`Refused` naming the field.
    ``doc_id``: the document's id when the caller has it already."""
    source = doc.source()
    doc_id = doc.id if doc_id is None else doc_id
    out = tantivy.Document()
    try:
        out.add_unsigned(ID_KEY, id_key(doc_id))
    except ValueError as exc:
        raise Refused(f"id {doc_id!r} is not hexadecimal") from exc
    out.add_text(ID, doc_id)
    out.add_bytes(SOURCE, pydantic_core.to_json(source))  # several times faster than json
    for top, entries in ks.plan:
        node = source.get(top)
        if node is None or (not node and isinstance(node, dict | list)):
            continue  # absent or empty: none of its fields has a value (0 and false do)
        nested = node if isinstance(node, dict) else None
        for path, parts, name, ftype in entries:
            if nested is not None and len(parts) == 2:
                leaf = nested.get(parts[1])
                if leaf is None or (type(leaf) is list and not leaf):
                    # Most entity and pivot lists of a page are empty: skipped without a call
                    # (measured: 28 field calls a page, 19 of them for nothing).
                    continue
            _add_field(out, source, path, parts, name, ftype)
    return out


def _add_field(out: tantivy.Document, source: dict[str, Any], path: str,
               parts: tuple[str, ...], name: str, ftype: FieldType) -> None:
    raw = _leaf_values(source, path, parts)
    if not raw:
        return
    out.add_text(FIELDS_PRESENT, path)
    if ftype is FieldType.TEXT:
        for value in raw:
            out.add_text(name, value if isinstance(value, str) else str(value))
        return
    if ftype is FieldType.KEYWORD and all(type(v) is str for v in raw):
        values: list[Any] = list(dict.fromkeys(raw))  # already canonical: skip the checks
    else:
        try:
            values = list(dict.fromkeys(canonical(ftype, v) for v in raw))
        except (ValueError, TypeError) as exc:
            raise Refused(f"{path}: cannot index {raw[0]!r:.80} as {ftype.value}") from exc
    for value in values:
        _add(out, name, path, ftype, value)


def _leaf_values(source: dict[str, Any], path: str, parts: tuple[str, ...]) -> list[Any]:
    """``values_at`` without objects; fast lanes for one- and two-step paths (all of ours)."""
    if len(parts) == 1:
        return _leaves(source.get(path))
    if len(parts) == 2:
        node = source.get(parts[0])
        if isinstance(node, dict):
            return _leaves(node.get(parts[1]))
        if isinstance(node, list):
            return [v for item in node if isinstance(item, dict)
                    for v in _leaves(item.get(parts[1]))]
        return []
    return [v for v in values_at(source, path) if not isinstance(v, dict | list)]


def _leaves(value: Any) -> list[Any]:
    if value is None or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [v for v in value if v is not None and not isinstance(v, dict | list)]
    return [value]


def _add(out: tantivy.Document, name: str, path: str, ftype: FieldType, value: Any) -> None:
    if ftype in (FieldType.KEYWORD, FieldType.IP):
        size = len(value.encode())
        if size > MAX_TERM_BYTES:
            raise Refused(f"{path}: a value of {size} bytes is longer than {MAX_TERM_BYTES}")
        out.add_text(name, value)
    elif ftype in (FieldType.LONG, FieldType.DATE):
        if not I64_MIN <= value <= I64_MAX:
            raise Refused(f"{path}: {value!r} does not fit a 64-bit integer")
        out.add_integer(name, value)
    elif ftype is FieldType.DOUBLE:
        out.add_float(name, value)
    else:
        out.add_boolean(name, bool(value))
