"""The registry of identifier types: built once at import, checks itself.

A duplicate name is a start-up error (:class:`DuplicateIdentifier`, raised, not asserted).
:func:`normalize_for_field` is what the query validation calls for a term on a field that
holds identifiers, :func:`normalize_prefix_for_field` for a trailing wildcard (``value*``)
there (the field -> type map lives with the documents, ``documents.fields``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from identifiers.base import Identifier
from identifiers.btc import BtcIdentifier
from identifiers.email import EmailIdentifier
from identifiers.errors import DuplicateIdentifier, InvalidIdentifier, UnknownIdentifier
from identifiers.eth import EthIdentifier
from identifiers.infohash import InfohashIdentifier
from identifiers.infohash_v1 import InfohashV1Identifier
from identifiers.infohash_v2 import InfohashV2Identifier
from identifiers.keyword import KeywordIdentifier
from identifiers.magnet import MagnetIdentifier
from identifiers.md5 import Md5Identifier
from identifiers.onion import OnionIdentifier
from identifiers.pdq import PdqIdentifier
from identifiers.pgp import PgpIdentifier
from identifiers.phone import PhoneIdentifier
from identifiers.sha1 import Sha1Identifier
from identifiers.sha256 import Sha256Identifier
from identifiers.vpdq import VpdqIdentifier
from identifiers.xmr import XmrIdentifier

BUILTIN: tuple[type[Identifier], ...] = (
    OnionIdentifier,
    BtcIdentifier,
    XmrIdentifier,
    EthIdentifier,
    EmailIdentifier,
    PgpIdentifier,
    PhoneIdentifier,
    MagnetIdentifier,
    InfohashIdentifier,
    InfohashV1Identifier,
    InfohashV2Identifier,
    Md5Identifier,
    Sha1Identifier,
    Sha256Identifier,
    PdqIdentifier,
    VpdqIdentifier,
    KeywordIdentifier,
)

V = TypeVar("V")


class IdentifierRegistry:
    def __init__(self, classes: Iterable[type[Identifier]]):
        self._types: dict[str, Identifier] = {}
        for cls in classes:
            name = cls.name
            if name in self._types:
                raise DuplicateIdentifier(
                    f"identifier type name {name!r} is claimed by "
                    f"{type(self._types[name]).__name__} and {cls.__name__}"
                )
            self._types[name] = cls()

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[Identifier]:
        return iter(self._types.values())

    def names(self) -> list[str]:
        return list(self._types)

    def get(self, name: str) -> Identifier:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownIdentifier(
                f"unknown identifier type {name!r}; known: {', '.join(self._types)}"
            ) from None


IDENTIFIERS = IdentifierRegistry(BUILTIN)


def get(name: str) -> Identifier:
    return IDENTIFIERS.get(name)


def display(type_name: str, value: str) -> str:
    """The display form of a value; the value as given for an unknown type or a bad value."""
    if type_name not in IDENTIFIERS:
        return value
    kind = IDENTIFIERS.get(type_name)
    try:
        return kind.display(kind.parse(value))
    except InvalidIdentifier:
        return value


def normalize_for_field(type_name: str | None, value: V) -> V | str:
    """A query value on a field holding identifiers of ``type_name``, in canonical form.

    A value that does not parse is returned as given: the index holds only valid values,
    so it finds nothing, as the analyst who typed it would expect of a mistyped address,
    while values indexed by older versions in another spelling stay reachable.
    """
    if type_name is None or not isinstance(value, str):
        return value
    try:
        return IDENTIFIERS.get(type_name).parse(value)
    except InvalidIdentifier:
        return value


def normalize_prefix_for_field(type_name: str | None, prefix: V) -> V | str:
    """A query prefix (``value*``) on a field holding identifiers of ``type_name``, brought as
    far towards the canonical form as a part of a value allows (the type's
    ``normalize_prefix``). A prefix that would become empty (``0x*``) stays as typed."""
    if type_name is None or not isinstance(prefix, str):
        return prefix
    return IDENTIFIERS.get(type_name).normalize_prefix(prefix) or prefix
