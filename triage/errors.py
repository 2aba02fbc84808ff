"""Errors of peer triage: a bad argument names it and quotes the value."""

from __future__ import annotations

from errors import HeroesError


class TriageError(HeroesError):
    """A triage request cannot be answered as asked (bad argument, bad database file)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
