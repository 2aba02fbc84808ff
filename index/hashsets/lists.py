"""What a hash list is besides its values: kind, source, trust, own PDQ distance and state.

A ``flag`` list marks what it matches; a ``negative`` list holds values known to be
innocuous (a common logo, a default avatar) and suppresses the hits of flag lists on them.
A ``paused`` list neither flags nor suppresses. ``distance`` is the list's own largest PDQ
Hamming distance; None means the global ``matching.pdq_max_distance``.

Settings given by a person (command-line options, ``#!`` lines at the top of a list file)
are checked here, once: :func:`parse_setting` names the setting and quotes the bad value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from documents.reader import Line, LineProblem
from index.hashsets.errors import HashSetError

LIST_KINDS = ("flag", "negative")
LIST_STATES = ("active", "paused")
TRUST_LEVELS = ("unknown", "low", "medium", "high")
SETTING_NAMES = ("kind", "source", "trust", "distance", "state")
PDQ_BITS = 256
MAX_SOURCE = 200


class ListSettingError(HashSetError, ValueError):
    """A list setting with a bad value; the message names the setting and quotes the value."""


@dataclass(frozen=True, slots=True)
class ListInfo:
    name: str
    kind: str = "flag"
    source: str = ""
    trust: str = "unknown"
    distance: int | None = None
    state: str = "active"

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def negative(self) -> bool:
        return self.kind == "negative"

    def pdq_distance(self, default: int) -> int:
        """The largest PDQ distance this list matches at."""
        return default if self.distance is None else self.distance

    def changed(self, **settings: Any) -> ListInfo:
        """A copy with the given settings (already parsed) changed."""
        return replace(self, **settings)


def parse_setting(name: str, raw: object) -> Any:
    """The parsed value of one list setting; ListSettingError names it and quotes ``raw``."""
    text = str(raw).strip() if raw is not None else ""
    if name == "distance":
        if text.lower() in ("", "default"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise ListSettingError(
                f"distance {raw!r} is not a whole number of bits (0 to {PDQ_BITS}, or 'default')"
            ) from None
        if not 0 <= value <= PDQ_BITS:
            raise ListSettingError(f"distance {raw!r} is outside 0 to {PDQ_BITS}")
        return value
    choices = {"kind": LIST_KINDS, "state": LIST_STATES, "trust": TRUST_LEVELS}.get(name)
    if choices is not None:
        if text.lower() not in choices:
            raise ListSettingError(f"unknown {name} {raw!r}; expected one of {', '.join(choices)}")
        return text.lower()
    if name == "source":
        if len(text) > MAX_SOURCE or any(not c.isprintable() for c in text):
            raise ListSettingError(
                f"source {raw!r:.80} must be printable text of at most {MAX_SOURCE} characters"
            )
        return text
    raise ListSettingError(
        f"unknown list setting {name!r}; known: {', '.join(SETTING_NAMES)}"
    )


def parse_settings(raw: dict[str, object]) -> dict[str, Any]:
    """Every given (not None) setting parsed; the first bad one raises ListSettingError."""
    return {name: parse_setting(name, value) for name, value in raw.items() if value is not None}


def parse_directive(text: str) -> tuple[str, Any] | None:
    """A ``#! name: value`` line of a list file as (name, parsed value); None if not one.

    ListSettingError for a directive whose name or value is wrong.
    """
    if not text.startswith("#!"):
        return None
    body = text[2:].strip()
    name, sep, value = body.partition(":")
    if not sep:
        name, sep, value = body.partition("=")
    if not sep:
        raise ListSettingError(f"expected '#! setting: value', found {text!r:.80}")
    name = name.strip().lower()
    return name, parse_setting(name, value.strip())


def take_directives(
    lines: Iterable[Line | LineProblem], found: dict[str, Any]
) -> Iterator[Line | LineProblem]:
    """The lines of a list file without its leading ``#! setting: value`` lines.

    Good settings go into ``found``; a bad one becomes a :class:`LineProblem` naming its
    line and quoting the value. Settings are read up to the first line that is not blank,
    a comment or a setting; later ``#!`` lines are the format's business.
    """
    head = True
    for line in lines:
        if head and isinstance(line, Line):
            text = line.text.strip()
            try:
                directive = parse_directive(text)
            except ListSettingError as exc:
                yield LineProblem(line.number, str(exc))
                continue
            if directive is not None:
                found[directive[0]] = directive[1]
                continue
            if text and not text.startswith("#"):
                head = False
            elif not text:
                continue
        yield line
