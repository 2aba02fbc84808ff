"""A MISP event's attributes and objects as hash-list rows.

The file is MISP's JSON of one event (``{"Event": {...}}``, or the event object itself) or
of several (a list of them, or ``{"response": [...]}``). Each attribute and each object is
parsed by ``pymisp`` on its own; one that does not parse is a problem naming it (``Event
'uuid' Object[2] 'file' ('uuid')``) and the others are still read. Values are taken by MISP
attribute type (md5, sha1, sha256 and ``filename|…`` hashes, btc, xmr, e-mail addresses,
magnet links) and, in objects, by relation where the type does not say: ``coin-address``
by its ``symbol`` (ETH in ``address-crypto``), our ``bittorrent`` objects' infohashes and
magnet links, ``pgp-meta`` key ids. The row's entry is the attribute's uuid. Indicators
(``to_ids``) of other types (URLs, domains, phone numbers, addresses) are counted as
skipped; descriptive attributes (titles, times, sizes) are not indicators and not counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pymisp import MISPAttribute, MISPObject
from pymisp.exceptions import PyMISPError

from exchange.errors import UnreadableExchangeFile
from exchange.misp_export import TEMPLATES
from exchange.reading import Rows, Source
from index.hashsets.rows import LineProblem, RawValue

# MISP attribute type -> list type
TYPES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "btc": "btc", "xmr": "xmr",
         "email": "email", "email-src": "email", "email-dst": "email",
         "filename|md5": "md5", "filename|sha1": "sha1", "filename|sha256": "sha256"}
# (object name, relation) -> list type, where the attribute's type does not say
RELATIONS = {("bittorrent", "infohash"): "infohash", ("bittorrent", "infohash-v2"): "infohash",
             ("bittorrent", "magnet-link"): "infohash", ("pgp-meta", "key-id"): "pgp"}
COIN_RELATIONS = ("address", "address-xmr", "address-crypto")
SYMBOLS = {"btc": "btc", "xbt": "btc", "xmr": "xmr", "eth": "eth"}


def events(source: Source) -> list[dict[str, Any]]:
    """The events of the file; UnreadableExchangeFile when it holds none."""
    data = source.data
    if isinstance(data, dict) and isinstance(data.get("response"), list):
        data = data["response"]
    items = data if isinstance(data, list) else [data]
    found = []
    for index, item in enumerate(items):
        event = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(event, dict) or not ({"Attribute", "Object", "info", "uuid"}
                                               & set(event)):
            raise UnreadableExchangeFile(
                f"{source.path}: item {index} is not a MISP event (expected an object with "
                f"\"Event\", or with \"info\", \"Attribute\" or \"Object\")")
        found.append(event)
    if not found:
        raise UnreadableExchangeFile(f"{source.path}: no MISP event in the file")
    return found


def read_events(rows: Rows) -> Iterator[RawValue | LineProblem]:
    all_events = events(rows.source)
    for number, event in enumerate(all_events):
        name = f"Event {event.get('uuid')!r}" if event.get("uuid") else f"Event[{number}]"
        yield from _attributes(rows, event.get("Attribute") or [], name, "")
        for index, obj in enumerate(_listed(event.get("Object"))):
            rows.objects += 1
            yield from _object(rows, obj, f"{name} Object[{index}]")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _where(base: str, item: dict[str, Any], extra: str = "") -> str:
    uuid = item.get("uuid")
    return f"{base}{extra}" + (f" ({uuid!r})" if uuid else "")


def _attributes(
    rows: Rows, attributes: Any, base: str, object_name: str,
    coin: str = "",
) -> Iterator[RawValue | LineProblem]:
    for index, raw in enumerate(_listed(attributes)):
        if not object_name:
            rows.objects += 1
        if not isinstance(raw, dict):
            yield rows.problem(None, f"{base} Attribute[{index}]",
                               f"expected a JSON object, found {type(raw).__name__}")
            continue
        where = _where(f"{base} Attribute[{index}]", raw)
        try:
            attribute = MISPAttribute()
            attribute.from_dict(**raw)
        except (PyMISPError, ValueError, TypeError, KeyError) as exc:
            yield rows.problem(raw.get("uuid"), where, _message(exc))
            continue
        kind = _kind(attribute, object_name, coin)
        if kind not in rows.registry and not attribute.to_ids:
            continue  # descriptive (a title, a time, a size), not an indicator to count
        value = str(attribute.value)
        if "|" in attribute.type and kind in ("md5", "sha1", "sha256"):
            value = value.rpartition("|")[2]
        yield from rows.value(kind, value, object_id=raw.get("uuid"), where=where,
                              entry=str(attribute.get("uuid") or ""))


def _kind(attribute: MISPAttribute, object_name: str, coin: str) -> str:
    relation = str(attribute.get("object_relation") or "")
    if object_name == "coin-address" and relation in COIN_RELATIONS and coin:
        return coin
    kind = RELATIONS.get((object_name, relation)) or TYPES.get(attribute.type)
    if kind:
        return kind
    if str(attribute.value).lower().startswith("magnet:"):
        return "infohash"
    return str(attribute.type)


def _object(rows: Rows, raw: Any, base: str) -> Iterator[RawValue | LineProblem]:
    if not isinstance(raw, dict):
        yield rows.problem(None, base, f"expected a JSON object, found {type(raw).__name__}")
        return
    name = str(raw.get("name") or "")
    where = _where(f"{base} {name!r}", raw)
    custom = {"misp_objects_path_custom": TEMPLATES} if name == "bittorrent" else {}
    try:
        obj = MISPObject(name, strict=False, **custom)
        obj.from_dict(**{k: v for k, v in raw.items() if k != "Attribute"})
    except (PyMISPError, ValueError, TypeError, KeyError) as exc:
        yield rows.problem(raw.get("uuid"), where, _message(exc))
        return
    coin = ""
    if name == "coin-address":
        symbols = [str(a.get("value") or "").lower() for a in _listed(raw.get("Attribute"))
                   if isinstance(a, dict) and a.get("object_relation") == "symbol"]
        coin = SYMBOLS.get(symbols[0], "") if symbols else ""
    yield from _attributes(rows, raw.get("Attribute"), where, name or "object", coin)


def _message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
