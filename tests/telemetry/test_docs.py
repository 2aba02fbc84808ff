"""docs/metrics.md names every metric of the registry, and no metric that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from telemetry.metrics import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def registered() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def test_every_metric_is_documented_and_every_documented_one_exists() -> None:
    documented = set(re.findall(r"^\| `(heroes_[a-z_]+)` \|", DOC.read_text(), re.MULTILINE))
    assert registered() - documented == set(), "undocumented in docs/metrics.md"
    assert documented - registered() == set(), "documented but not registered"


def test_every_setting_of_the_service_surface_is_documented() -> None:
    text = DOC.read_text()
    for name in ("listen", "ready_timeout_s", "format"):
        assert f"{name} = " in text, name
