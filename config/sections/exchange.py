"""Settings of exchange with other systems (the ``exchange`` package, ``heroes export``, the
console's export buttons): MISP events and STIX 2.1 bundles.

An export carries the values the index holds about one alert, service, infohash or cluster:
onion addresses and page URLs, wallets, e-mail addresses, phone numbers, PGP keys, media
hashes, torrents. Observed peers (IP addresses and ports) leave the installation only when
``include_peers`` allows it. ``tlp`` is the Traffic Light Protocol marking of every export
unless the command line says otherwise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from config.sections.base import Section

TLP_LEVELS = ("clear", "green", "amber", "red")


class ExchangeSettings(Section):
    tlp: Literal["clear", "green", "amber", "red"] = Field(
        "amber", description="TLP marking of exports (clear, green, amber, red); --tlp "
        "overrides it.")
    include_peers: bool = Field(
        False, description="Exports carry the observed peers (IP address, port, client, first "
        "and last seen) of the torrents they name.")
    producer: str = Field(
        "heroes", min_length=1, max_length=200,
        description="Name of the organisation that exports: the MISP event's and the STIX "
        "identity's creator.")
    tags: list[str] = Field(
        default_factory=list,
        description="MISP tags (and STIX labels) put on every export besides the TLP, e.g. "
        "[\"unit:cyber\"].")
    max_pages: int = Field(
        1000, ge=1, le=10_000,
        description="Most pages of one service, infohash or cluster member read for one "
        "export (the newest).")
    max_peers: int = Field(
        10_000, ge=1, le=10_000,
        description="Most peers of one torrent an export carries, when peers are included.")

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not tag.strip() or any(not c.isprintable() for c in tag):
                raise ValueError(f"tag {tag!r} must be printable text")
        return tags
