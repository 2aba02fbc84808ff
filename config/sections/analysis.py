"""Settings of the investigators' analysis (the ``analysis`` package): pivots and their
common values.

A pivot value is *common* when more than ``common_fraction`` of all services carry it, or
when a suppression file lists it (a default favicon, a stock template's DOM hash, a
well-known certificate). Common values are shown in the console but never linked, and never
tie two services together.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from config.sections.base import Section
from identifiers import IDENTIFIERS, InvalidIdentifier


class AnalysisSettings(Section):
    common_fraction: float = Field(
        0.05, gt=0, le=1,
        description="A pivot value carried by more than this share of all services is "
        "common: shown, never linked.")
    common_min_services: int = Field(
        20, ge=1, le=1_000_000,
        description="The share only counts once the index holds at least this many "
        "services (with three services, every value would be on a third of them).")
    suppress_files: list[Path] = Field(
        default_factory=list,
        description="Files of values that are never linked: one value a line (`#` starts a "
        "comment; `name:value` for one pivot only) or a MISP warning-list JSON file.")
    cluster_min_weight: float = Field(
        1.0, gt=0, le=100,
        description="Two services are linked when the values they share weigh at least this "
        "much (a strong value weighs 1, a weak one weak_weight, a near-duplicate page "
        "1); clusters are the connected groups of linked services.")
    weak_weight: float = Field(
        0.25, ge=0, le=1,
        description="Weight of a shared weak pivot (header order, DOM skeleton, camera model).")
    minhash_threshold: float = Field(
        0.8, gt=0, lt=1,
        description="Jaccard similarity of word shingles at which two pages are near "
        "duplicates (MinHash LSH).")
    minhash_num_perm: int = Field(
        128, ge=16, le=1024, description="MinHash permutations (more: finer, slower).")
    shingle_words: int = Field(5, ge=1, le=20, description="Words in one text shingle.")
    pdq_distance: int = Field(
        31, ge=0, le=128,
        description="Two pages whose images' PDQ hashes are at most this Hamming distance "
        "apart show the same picture (pdq_near; 31 is PDQ's own same-image bound).")
    relaunch_min_links: int = Field(
        2, ge=1, le=50,
        description="A watched service that went down is relaunched as a newer onion sharing "
        "at least this many strong values with it.")
    relaunch_auto_confidence: float = Field(
        1.0, ge=0, le=1,
        description="A relaunch whose confidence (1 - 0.5^links) is above this is confirmed "
        "without an analyst: watches follow the new onion (1: never automatically).")
    relaunch_recipients: list[str] = Field(
        default_factory=list, description="Email addresses told of each relaunch alert.")
    batch_size: int = Field(
        500, ge=1, le=100_000, description="Documents read from the index in one batch.")
    poll_s: float = Field(
        30.0, gt=0, le=86_400,
        description="heroes analyse --forever: seconds between looks for new documents.")
    cursor_overlap_s: float = Field(
        3600.0, ge=0, le=30 * 86_400,
        description="Each run rereads documents this much older than the last one read "
        "(documents that reached the index late), skipping those already analysed.")
    ad_boards: list[str] = Field(
        default_factory=list,
        description="Onions where many unrelated people post (ad boards, forums, markets): "
        "each page there (an advert, a thread) is a cluster member of its own, linked by the "
        "wallets, keys, e-mails, phones, torrents, text and pictures it carries, not by the "
        "board's own favicon, trackers or templates.")

    @field_validator("ad_boards")
    @classmethod
    def _onions(cls, hosts: list[str]) -> list[str]:
        onion = IDENTIFIERS.get("onion")
        out = []
        for i, host in enumerate(hosts):
            try:
                out.append(onion.parse(host))
            except InvalidIdentifier as exc:
                raise ValueError(f"item {i}: {host!r} is not an onion address: {exc}"
                                 ) from None
        return out
