"""A STIX 2.1 bundle's indicators as hash-list rows.

Each object of the bundle is parsed by ``stix2`` on its own (custom types allowed); one
that does not parse is a problem naming it (``objects[3] ('indicator--…')``) and the others
are still read. Each ``indicator`` whose pattern is a STIX pattern yields the values its
comparisons name with ``=`` on a path of :data:`exchange.stix_types.PATTERN_PATHS` (file
hashes, e-mail addresses, wallets, PGP keys, infohashes); the row's entry is the indicator's
id. Values of types no list holds (domain names, URLs, addresses, phones), other pattern
languages and other operators are counted as skipped. Observables without an indicator are
not read: an indicator is what a producer asks to look for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import stix2
from stix2.exceptions import STIXError
from stix2patterns.exceptions import ParseException
from stix2patterns.pattern import Pattern

from exchange.errors import UnreadableExchangeFile
from exchange.reading import Rows, Source
from exchange.stix_types import PATTERN_PATHS, unquoted
from index.hashsets.rows import LineProblem, RawValue

WALLET_CURRENCIES = ("btc", "xmr", "eth")


def bundle_id(source: Source) -> str:
    """The bundle's id; UnreadableExchangeFile when the file is not a STIX bundle."""
    data = source.data
    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise UnreadableExchangeFile(
            f"{source.path}: not a STIX bundle (expected a JSON object with \"type\": "
            f"\"bundle\", found {_kind_of(data)})")
    if not isinstance(data.get("objects", []), list):
        raise UnreadableExchangeFile(f"{source.path}: the bundle's \"objects\" is not a list")
    return str(data.get("id") or "")


def _kind_of(data: Any) -> str:
    if isinstance(data, dict):
        return f"type {data.get('type')!r}"
    return type(data).__name__


def read_bundle(rows: Rows) -> Iterator[RawValue | LineProblem]:
    bundle_id(rows.source)
    for index, obj in enumerate(rows.source.data.get("objects") or []):
        rows.objects += 1
        object_id = obj.get("id") if isinstance(obj, dict) else None
        where = f"objects[{index}] ({object_id!r})" if object_id else f"objects[{index}]"
        if not isinstance(obj, dict):
            yield rows.problem(None, where, f"expected a JSON object, found "
                               f"{type(obj).__name__}")
            continue
        try:
            parsed = stix2.parse(obj, allow_custom=True, version="2.1")
        except (STIXError, ValueError, TypeError, KeyError) as exc:
            yield rows.problem(object_id, where, _first_line(exc))
            continue
        if getattr(parsed, "type", "") != "indicator":
            continue
        yield from _indicator(rows, parsed, where)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _indicator(rows: Rows, indicator: Any, where: str) -> Iterator[RawValue | LineProblem]:
    if indicator.pattern_type != "stix":
        rows.skipped[f"{indicator.pattern_type} pattern"] += 1
        return
    try:
        comparisons = Pattern(indicator.pattern).inspect().comparisons
    except ParseException as exc:  # stix2.parse checked it; a producer's own types may not
        yield rows.problem(indicator.id, where, f"pattern {indicator.pattern!r:.200}: "
                           f"{_first_line(exc)}")
        return
    for object_type, tests in comparisons.items():
        currencies = [unquoted(v) for p, op, v in tests
                      if tuple(map(str, p)) == ("currency",) and op == "="]
        for path, op, literal in tests:
            key = (object_type, tuple(str(p) for p in path))
            kind = PATTERN_PATHS.get(key)
            if kind is None:
                if key[1] != ("currency",):
                    rows.skipped[f"{object_type}:{'.'.join(key[1])}"] += 1
                continue
            if op != "=":
                rows.skipped[f"{kind} with {op!r}"] += 1
                continue
            value = unquoted(literal)
            if kind == "wallet":
                kind = _currency(rows, currencies, value)
            yield from rows.value(kind, value, object_id=indicator.id, where=where)


def _currency(rows: Rows, currencies: list[str], address: str) -> str:
    named = [c.lower() for c in currencies if c.lower() in WALLET_CURRENCIES]
    if len(named) == 1:
        return named[0]
    try:
        return rows.registry.guess(address)
    except ValueError:
        return "wallet"  # no list type: counted as skipped
