"""The flagged-value types of hash lists, each backed by its identifier type.

A hash type names itself once (``name``, the name lists and ``--type`` use) and delegates
recognition, checksums and the canonical form to :mod:`identifiers`, so a list entry has
the spelling the crawler indexes and matching looks up. ``normalize`` returns that form or
raises :class:`BadValue` saying what is wrong with the value (quoted). The examples that
generate the tests are the identifier's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from identifiers import IDENTIFIERS, Identifier, InvalidIdentifier
from identifiers.infohash import infohashes_of
from index.hashsets.errors import BadValue

T = TypeVar("T")


class HashType:
    """One kind of flagged value."""

    name: ClassVar[str]
    description: ClassVar[str]
    # (raw, normalised) pairs and bad raw values; they generate the tests of the type.
    good: ClassVar[tuple[tuple[str, str], ...]] = ()
    bad: ClassVar[tuple[str, ...]] = ()
    # The identifier type (:mod:`identifiers`) the values are, or None for a list type of
    # its own (keywords): only identifier-backed types share the identifiers' examples.
    identifier: ClassVar[str | None] = None

    def normalize(self, raw: str) -> str:
        raise NotImplementedError

    def normalize_each(self, raw: str) -> tuple[str, ...]:
        """Every value one list entry stands for, normalised; one unless the type says more."""
        return (self.normalize(raw),)


class IdentifierHashType(HashType):
    """A hash type whose values are those of the identifier type ``identifier`` names."""

    identifier: ClassVar[str]
    _type: ClassVar[Identifier]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._type = IDENTIFIERS.get(cls.identifier)
        cls.description = cls._type.description
        cls.good = cls._type.spellings
        cls.bad = tuple(raw for raw, _ in cls._type.invalid)

    def normalize(self, raw: str) -> str:
        return _checked(self._type.parse, raw)


def _checked(parse: Callable[[str], T], raw: str) -> T:
    """``parse(raw)``, with the identifier's complaint as the list's :class:`BadValue`."""
    try:
        return parse(raw)
    except InvalidIdentifier as exc:
        raise BadValue(str(exc)) from exc


def _plain(name: str) -> type[IdentifierHashType]:
    """The hash type of identifier ``name``, which needs nothing beyond the identifier."""
    attrs = {"name": name, "identifier": name, "__module__": __name__,
             "__doc__": f"Values of the {name} identifier type."}
    return type(f"{name.capitalize()}HashType", (IdentifierHashType,), attrs)


class InfohashHashType(IdentifierHashType):
    """BitTorrent infohash v1 or v2, or a magnet link: an entry flags every infohash it
    names (both of a hybrid link), whichever list format it came in."""

    name = identifier = "infohash"

    def normalize_each(self, raw: str) -> tuple[str, ...]:
        return _checked(infohashes_of, raw)


class VpdqHashType(IdentifierHashType):
    """A video's vPDQ hash (its frames' PDQ hashes); matched by share of frames near the
    entry's (:mod:`index.matching_vpdq`), not by equality."""

    name = identifier = "vpdq"


class KeywordHashType(IdentifierHashType):
    """A term or phrase in any language, looked for in torrent names and file names
    (:mod:`index.classify`: Unicode-normalised, case-folded, whole words)."""

    name = identifier = "keyword"


Md5HashType = _plain("md5")
_SPECIAL = {"infohash": InfohashHashType, "vpdq": VpdqHashType, "keyword": KeywordHashType,
            "md5": Md5HashType}
_ORDER = ("md5", "sha1", "sha256", "infohash", "pdq", "vpdq", "btc", "xmr", "eth", "email",
          "pgp", "keyword")

BUILTIN_TYPES: tuple[type[HashType], ...] = tuple(
    _SPECIAL.get(name) or _plain(name) for name in _ORDER)
