"""Alert rules that follow a relaunched service to its new onion.

Once a relaunch is confirmed (by an analyst, or by the analysis above
``analysis.relaunch_auto_confidence``), a rule whose query names the old onion also matches
what it would match for the new one: the settings file the unit keeps is not rewritten,
the rule is evaluated once more with the old address replaced. The confirmed moves are kept
in the alert database (:meth:`alerting.db.AlertDB.add_follow`); these are the pure parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache, partial

Chains = Mapping[str, tuple[str, ...]]
Moves = tuple[tuple[str, str], ...]


def chains(moves: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Each moved onion's successors in order (A -> B -> C gives A: (B, C), B: (C,)), from
    confirmed moves in decision order; the latest decision for an onion wins, and a move
    back to an onion already on the chain ends it."""
    following: dict[str, str] = {}
    for old, new in moves:
        following[old] = new
    out: dict[str, tuple[str, ...]] = {}
    for old in following:
        chain: list[str] = []
        seen = {old}
        here = old
        while here in following and following[here] not in seen:
            here = following[here]
            chain.append(here)
            seen.add(here)
        out[old] = tuple(chain)
    return out


@lru_cache(maxsize=1024)
def _named(host: str) -> re.Pattern[str]:
    # The host as a whole name: not the tail of a longer label, not followed by more name.
    return re.compile(rf"(?<![a-z0-9-]){re.escape(host)}(?![a-z0-9-])", re.IGNORECASE)


def names(text: str, host: str) -> bool:
    """Whether the query ``text`` names the onion ``host`` (as a whole name)."""
    return _named(host).search(text) is not None


def followed_texts(text: str, follows: Chains) -> list[tuple[str, Moves]]:
    """The query ``text`` once per step down the chains of the onions it names, each with
    the moves applied; empty when it names none. Step k replaces every named onion by its
    k-th successor (the last one when its chain is shorter)."""
    named = sorted(h for h, chain in follows.items() if chain and names(text, h))
    if not named:
        return []
    depth = max(len(follows[h]) for h in named)
    every = re.compile("|".join(f"(?:{_named(h).pattern})" for h in named), re.IGNORECASE)
    out = []
    for step in range(depth):
        moves = tuple((h, follows[h][min(step, len(follows[h]) - 1)]) for h in named)
        # All at once: an onion moved to a name that itself moved is not moved again.
        out.append((every.sub(partial(_moved, dict(moves)), text), moves))
    return out


def _moved(to: dict[str, str], found: re.Match[str]) -> str:
    return to[found.group(0).lower()]


def describe(moves: Moves) -> str:
    return "; ".join(f"{old} -> {new} (relaunch confirmed)" for old, new in moves)
