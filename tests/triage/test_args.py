"""Bad triage arguments are refused naming the argument and quoting the value."""

from __future__ import annotations

import pytest

from tests.triage import peer_data as pd
from triage.args import parse_ip, parse_min_level, parse_range, prefix64
from triage.errors import TriageError


def test_ip_canonical_and_bad() -> None:
    assert parse_ip(" FE80:0:0:0:0:0:1:1 ") == "fe80::1:1"
    with pytest.raises(TriageError) as err:
        parse_ip("127.20.0.300")
    assert err.value.param == "ip" and "'127.20.0.300'" in str(err.value)


def test_prefix64() -> None:
    assert prefix64("fe80::1:2") == "fe80::/64" and prefix64("127.0.0.1") is None


def test_time_range() -> None:
    since, until = parse_range("2026-11-02T00:00:00Z", "now", pd.NOW)
    assert since is not None and until == pd.NOW
    with pytest.raises(TriageError, match=r"^since: 'last tuesday'"):
        parse_range("last tuesday", None, pd.NOW)
    with pytest.raises(TriageError, match=r"^until: "):
        parse_range("now-1d", "now-2d", pd.NOW)


def test_min_level() -> None:
    assert parse_min_level("2") == 2
    with pytest.raises(TriageError, match="min-level"):
        parse_min_level(4)
