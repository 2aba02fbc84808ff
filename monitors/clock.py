"""How far the probe's clock can be trusted: its synchronisation source and offset.

Observation times are only as good as the clock that stamped them, so every observation
says what disciplined that clock. In order:

1. chrony (``chronyc -c tracking``), when installed and answering;
2. the kernel's NTP state (``adjtimex`` read-only, no privilege needed), which any
   synchronisation daemon (chrony, ntpd, systemd-timesyncd) keeps;
3. systemd-timesyncd's flag file ``/run/systemd/timesync/synchronized`` where the kernel
   call is not available.

``offset_s`` is the system clock minus the reference (positive: the clock is ahead);
``max_error_s`` the bound the source gives. When none of them can vouch for the clock the
source is ``unsynchronised``. The parsers are pure; :func:`read_clock` is the I/O edge and
:class:`ClockReader` caches it. Reads no settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

UNSYNCHRONISED = "unsynchronised"
TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
CHRONYC_TIMEOUT_S = 2.0
# adjtimex: clock state TIME_ERROR, status bits STA_UNSYNC and STA_NANO.
TIME_ERROR = 5
STA_UNSYNC = 0x0040
STA_NANO = 0x2000


@dataclass(frozen=True)
class ClockStatus:
    source: str  # chrony, kernel, timesyncd, or unsynchronised
    offset_s: float | None = None
    max_error_s: float | None = None
    detail: str = ""

    @property
    def synchronised(self) -> bool:
        return self.source != UNSYNCHRONISED

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_chrony_tracking(text: str) -> ClockStatus | None:
    """``chronyc -c tracking`` (one CSV line, 14 fields); None when it is not that."""
    fields = text.strip().split(",")
    if len(fields) < 14:
        return None
    try:
        stratum = int(fields[2])
        correction = float(fields[4])  # positive: the system clock is behind ("slow")
        root_delay, root_dispersion = float(fields[10]), float(fields[11])
    except ValueError:
        return None
    leap = fields[13].strip()
    reference = fields[1].strip() or fields[0].strip()
    if stratum == 0 or leap.lower().startswith("not synchronised") or fields[0] == "00000000":
        return ClockStatus(UNSYNCHRONISED, detail=f"chrony: {leap or 'no reference'}")
    return ClockStatus(
        "chrony", offset_s=-correction,
        max_error_s=abs(correction) + root_dispersion + root_delay / 2,
        detail=f"chrony: reference {reference}, stratum {stratum}, leap {leap}")


def parse_adjtimex(state: int, status: int, offset: int, maxerror_us: int) -> ClockStatus:
    """The kernel's answer to a read-only ``adjtimex`` call."""
    if state == TIME_ERROR or status & STA_UNSYNC:
        return ClockStatus(UNSYNCHRONISED, detail="kernel: clock not synchronised (STA_UNSYNC)")
    scale = 1e-9 if status & STA_NANO else 1e-6
    # The kernel's offset is what it still has to add: the clock is behind by that much.
    return ClockStatus("kernel", offset_s=-offset * scale, max_error_s=maxerror_us * 1e-6,
                       detail="kernel: synchronised by an NTP daemon")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> (Linux); the padding is the kernel's reserved tail.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("constant", ctypes.c_long),
                ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long),
                ("jitter", ctypes.c_long), ("shift", ctypes.c_int), ("stabil", ctypes.c_long),
                ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("_reserved", ctypes.c_int * 11)]


def _chrony() -> ClockStatus | None:
    chronyc = shutil.which("chronyc")
    if chronyc is None:
        return None
    try:
        done = subprocess.run([chronyc, "-c", "tracking"], capture_output=True, text=True,
                              timeout=CHRONYC_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("chronyc tracking failed: %s", exc)
        return None
    return parse_chrony_tracking(done.stdout) if done.returncode == 0 else None


def _kernel() -> ClockStatus | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        tx = _Timex()  # modes 0: read only
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError) as exc:
        log.debug("adjtimex not available: %s", exc)
        return None
    if state < 0:
        return None
    return parse_adjtimex(state, tx.status, tx.offset, tx.maxerror)


def read_clock() -> ClockStatus:
    """Ask the system what disciplines its clock (a subprocess and a syscall at most)."""
    for probe in (_chrony, _kernel):
        status = probe()
        if status is not None:
            return status
    if TIMESYNCD_FLAG.exists():
        return ClockStatus("timesyncd", detail=f"{TIMESYNCD_FLAG} present")
    return ClockStatus(UNSYNCHRONISED, detail="no synchronisation source found")


class ClockReader:
    """:func:`read_clock`, asked again at most every ``max_age_s`` seconds."""

    def __init__(self, max_age_s: float = 60.0):
        self.max_age_s = max_age_s
        self._status: ClockStatus | None = None
        self._at = 0.0

    def __call__(self) -> ClockStatus:
        now = time.monotonic()
        if self._status is None or now - self._at >= self.max_age_s:
            self._status = read_clock()
            self._at = now
        return self._status
