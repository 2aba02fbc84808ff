"""NEWNYM is due after the configured number of circuit failures in a row, per client."""

from __future__ import annotations

import pytest

from crawler.tor.health import CircuitHealth


def test_newnym_after_consecutive_failures_only() -> None:
    health = CircuitHealth(clients=2, threshold=3)
    assert [health.failure(0), health.failure(0)] == [False, False]
    health.success(0)
    assert [health.failure(0), health.failure(0), health.failure(0)] == [False, False, True]
    assert health.failure(0) is False  # counting starts again after a NEWNYM
    assert [health.failure(1), health.failure(1), health.failure(1)] == [False, False, True]


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="threshold must be at least 1"):
        CircuitHealth(clients=1, threshold=0)
