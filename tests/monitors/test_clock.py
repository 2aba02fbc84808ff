"""Unit tests of the clock-source parsers (chrony's CSV, the kernel's adjtimex answer)."""

from __future__ import annotations

import pytest

from monitors.clock import (
    STA_NANO,
    STA_UNSYNC,
    TIME_ERROR,
    UNSYNCHRONISED,
    ClockReader,
    ClockStatus,
    parse_adjtimex,
    parse_chrony_tracking,
    read_clock,
)

SYNCED = ("A29FC87B,162.159.200.123,3,1764590000.123456789,0.000012000,-0.000003,0.000010,"
          "-12.345,0.012,0.034,0.020000000,0.001000000,64.5,Normal\n")


def test_chrony_synchronised() -> None:
    status = parse_chrony_tracking(SYNCED)
    assert status is not None and status.source == "chrony" and status.synchronised
    # chrony's "system time" is the correction still to apply: 12 us slow -> offset -12 us.
    assert status.offset_s == pytest.approx(-12e-6)
    assert status.max_error_s == pytest.approx(12e-6 + 0.001 + 0.01)
    assert "162.159.200.123" in status.detail and "stratum 3" in status.detail


def test_chrony_not_synchronised() -> None:
    text = "00000000,,0,0.000000000,0.000000000,0,0,0,0,0,1.0,1.0,0.0,Not synchronised\n"
    status = parse_chrony_tracking(text)
    assert status is not None and status.source == UNSYNCHRONISED and status.offset_s is None


@pytest.mark.parametrize("text", ["", "506 Cannot talk to daemon", "a,b,c,d,e,f,g,h,i,j,k,l,m,n"])
def test_chrony_garbage(text: str) -> None:
    assert parse_chrony_tracking(text) is None


def test_kernel() -> None:
    assert parse_adjtimex(TIME_ERROR, STA_UNSYNC, 0, 16_000_000).source == UNSYNCHRONISED
    assert parse_adjtimex(0, STA_UNSYNC, 0, 16_000_000).source == UNSYNCHRONISED
    micro = parse_adjtimex(0, 0, 250, 4000)
    assert micro.source == "kernel" and micro.offset_s == pytest.approx(-250e-6)
    assert micro.max_error_s == pytest.approx(0.004)
    nano = parse_adjtimex(0, STA_NANO, 250, 4000)
    assert nano.offset_s == pytest.approx(-250e-9)


def test_reader_caches_and_read_clock_answers() -> None:
    status = read_clock()  # whatever this machine says, it says something
    assert isinstance(status, ClockStatus) and status.source
    reader = ClockReader(max_age_s=3600)
    assert reader() is reader()
    assert status.to_json()["source"] == status.source
