"""The retro-hunt's own error: what to hunt for does not exist or cannot be hunted."""

from __future__ import annotations

from errors import HeroesError


class HuntError(HeroesError):
    """An unknown list or rule, or one that cannot flag anything (paused, negative)."""
