"""The registry of hash types: built once, checks itself (a duplicate name is a start-up error)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from index.hashsets.errors import BadValue, DuplicateHashType, UnknownHashType
from index.hashsets.types import BUILTIN_TYPES, HashType


class HashTypeRegistry:
    def __init__(self, classes: Iterable[type[HashType]]):
        self._types: dict[str, HashType] = {}
        for cls in classes:
            name = cls.name
            if name in self._types:
                raise DuplicateHashType(
                    f"hash type name {name!r} is claimed by {type(self._types[name]).__name__} "
                    f"and {cls.__name__}"
                )
            self._types[name] = cls()

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[HashType]:
        return iter(self._types.values())

    def names(self) -> list[str]:
        return list(self._types)

    def get(self, name: str) -> HashType:
        try:
            return self._types[name.strip().lower()]
        except KeyError:
            raise UnknownHashType(
                f"unknown hash type {name!r}; known: {', '.join(self._types)}"
            ) from None

    def normalize(self, name: str, raw: str) -> str:
        return self.get(name).normalize(raw)

    def guess(self, raw: str) -> str:
        """The type of a value whose form is unambiguous; BadValue when it could be several."""
        value = raw.strip()
        low = value.lower()
        if low.startswith("magnet:"):
            return "infohash"
        if low.startswith("0x") and len(value) == 42:
            return "eth"
        if "@" in value:
            return "email"
        hexdigits = all(c in "0123456789abcdefABCDEF" for c in value)
        if low.startswith("bc1") or (
            value[:1] in ("1", "3") and 25 <= len(value) <= 35 and not hexdigits
        ):
            return "btc"
        if len(value) in (95, 106) and value[:1] in "48":
            return "xmr"
        if len(value) == 32 and hexdigits:
            return "md5"
        raise BadValue(f"cannot tell the type of {raw!r:.90}; give the type (--type)")


HASH_TYPES = HashTypeRegistry(BUILTIN_TYPES)
