"""The error kinds of exchange: a subject the index does not know, a file that cannot be read."""

from __future__ import annotations

from errors import HeroesError
from index.hashsets.errors import UnreadableFile


class ExchangeError(HeroesError):
    """Something an export or import of MISP or STIX cannot do; the message says what."""


class SubjectNotFound(ExchangeError):
    """The alert, service, infohash or cluster to export is not in the index."""


class BadSubject(ExchangeError):
    """The subject of an export is not well formed (an onion or infohash that does not parse)."""


class UnreadableExchangeFile(ExchangeError, UnreadableFile):
    """A MISP or STIX file that cannot be read at all (not JSON, no event, no bundle); a
    hash-list :class:`UnreadableFile`, so that list imports report it like any other."""

    def __init__(self, message: str):
        UnreadableFile.__init__(self, message)
