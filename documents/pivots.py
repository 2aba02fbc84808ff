"""Pivots: values that tie a page or a service to others run by the same people.

``PIVOT_NAMES`` is the one list of pivot names, each with its label and whether it is a
``strong`` value (one shared value is a reason to link two services) or a ``weak`` one (a
hint only: many unrelated services share a server's header order or a page template).
:class:`Pivots` is the field a ``page`` and a ``service`` carry, every pivot a list of
strings; ``errors`` says which pivot could not be read (a favicon that is no image, a broken
EXIF block) and is not indexed. Index fields ``pivots.<name>`` are keywords. No settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from documents.fields import FieldType

# A service carries at most this many values of one pivot (its pages' union).
PIVOT_LIMIT = 100
# The query-string prefix of a pivot field: ``pivot.analytics:UA-1234-1``.
PIVOT_PREFIX = "pivot."


@dataclass(frozen=True)
class PivotName:
    name: str
    label: str
    strength: Literal["strong", "weak"]
    help: str


PIVOT_NAMES: dict[str, PivotName] = {p.name: p for p in (
    PivotName("favicon", "Favicon hash", "strong",
              "MurmurHash3 of the base64 favicon body, as Shodan computes it"),
    PivotName("headers", "Header fingerprint", "weak",
              "hash of the response-header names, lower-cased, in order"),
    PivotName("dom", "DOM skeleton", "weak", "hash of the page's tag skeleton"),
    PivotName("analytics", "Analytics id", "strong",
              "Google UA-/G-/GTM-, AdSense ca-pub-, Matomo host/site, Yandex, ..."),
    PivotName("tls", "TLS certificate", "strong", "SHA-256 of an https onion's certificate"),
    PivotName("pgp_keyid", "PGP key id", "strong", "16 hex digits of a PGP public key"),
    PivotName("exif_camera", "Camera", "weak", "EXIF make and model of an image"),
    PivotName("exif_serial", "Camera serial", "strong", "EXIF body serial number of an image"),
    PivotName("gps", "GPS position", "strong", "EXIF position of an image, lat,lon"),
)}


class Pivots(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    favicon: list[str] = Field(default_factory=list)  # signed 32-bit decimal
    headers: list[str] = Field(default_factory=list)  # 16 hex
    dom: list[str] = Field(default_factory=list)  # 16 hex
    analytics: list[str] = Field(default_factory=list)
    tls: list[str] = Field(default_factory=list)  # 64 hex
    pgp_keyid: list[str] = Field(default_factory=list)  # 16 upper-case hex
    exif_camera: list[str] = Field(default_factory=list)  # "make model"
    exif_serial: list[str] = Field(default_factory=list)
    gps: list[str] = Field(default_factory=list)  # "lat,lon", 5 decimals
    # "<pivot>: <why>" for each pivot that could not be read; not a pivot itself.
    errors: list[str] = Field(default_factory=list)

    def values(self) -> dict[str, list[str]]:
        """The pivot values by name, empty ones left out."""
        return {name: getattr(self, name) for name in PIVOT_NAMES if getattr(self, name)}

    def union(self, other: Pivots, limit: int = PIVOT_LIMIT) -> Pivots:
        """Both sets of values, this one's first, at most ``limit`` of each."""
        merged = {
            name: list(dict.fromkeys([*getattr(self, name), *getattr(other, name)]))[:limit]
            for name in (*PIVOT_NAMES, "errors")
        }
        return Pivots(**merged)


PIVOT_FIELDS: dict[str, FieldType] = {f"pivots.{name}": FieldType.KEYWORD for name in PIVOT_NAMES}

if set(PIVOT_NAMES) | {"errors"} != set(Pivots.model_fields):
    raise RuntimeError("documents.pivots: PIVOT_NAMES and the fields of Pivots differ")
