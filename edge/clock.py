"""The gateway's clock: wall time, monotonic time, and whether the wall time can be trusted.

A Raspberry Pi has no real-time clock. Until NTP answers, ``time.time()`` is stale, so every sample also keeps
its monotonic time (``CLOCK_MONOTONIC``: steady, shared by all processes of one boot) and the pipeline rewrites
the timestamps of samples taken while unsynchronised once the clock is synchronised:
``t = wall_at_sync - (mono_at_sync - mono_of_sample)``. The synchronisation check is pluggable so tests drive
it with a fake clock instead of changing the machine's time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.config import ClockSettings

__all__ = [
    "Clock",
    "ClockEvent",
    "SyncCheck",
    "Timex",
    "adjtimex_check",
    "read_timex",
    "synchronised",
    "always_check",
    "file_check",
    "read_boot_id",
    "sync_check_from_settings",
]

log = logging.getLogger(__name__)

#: Returns True while the system clock is synchronised.
SyncCheck = Callable[[], bool]

TIME_ERROR = 5  # adjtimex(2): "clock not synchronized"
STA_UNSYNC = 0x0040
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class _Timex(ctypes.Structure):
    # The leading members of struct timex (linux/timex.h); the kernel writes the rest into the padding.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),
    ]


_libc: ctypes.CDLL | None = None


@dataclass(frozen=True, slots=True)
class Timex:
    """What ``adjtimex(2)`` says: its return value (the clock state, ``TIME_OK`` .. ``TIME_ERROR``, or -1), the
    status bits and the maximum error in microseconds."""

    state: int
    status: int
    maxerror_us: int


def read_timex() -> Timex:
    """Linux ``adjtimex(2)``, read-only (modes = 0)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    timex = _Timex()
    state = int(_libc.adjtimex(ctypes.byref(timex)))
    return Timex(state, int(timex.status), int(timex.maxerror))


def synchronised(timex: Timex) -> bool:
    """Synchronised unless the call failed or the kernel says ``TIME_ERROR`` or ``STA_UNSYNC``."""
    return timex.state >= 0 and timex.state != TIME_ERROR and not timex.status & STA_UNSYNC


def adjtimex_check() -> bool:
    """The kernel's word on the clock: ``synchronised(read_timex())``."""
    return synchronised(read_timex())


def always_check() -> bool:
    """Trust the clock (a gateway with an RTC, or a test that does not care)."""
    return True


def file_check(path: Path) -> SyncCheck:
    """Synchronised while ``path`` exists (tests and the demo create and remove it)."""

    def check() -> bool:
        return path.exists()

    return check


def sync_check_from_settings(settings: ClockSettings) -> SyncCheck:
    if settings.check == "always":
        return always_check
    if settings.check == "file":
        assert settings.sync_file is not None
        return file_check(settings.sync_file)
    return adjtimex_check


def read_boot_id(path: Path = _BOOT_ID) -> str:
    """This boot's id: monotonic times of another boot cannot be compared with ours."""
    try:
        return path.read_text().strip()
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """What ``Clock.observe`` noticed: a change of synchronisation, or a jump of the wall clock."""

    kind: str  # "synced", "unsynced" or "jump"
    jump_s: float = 0.0


class Clock:
    """Wall and monotonic time plus the synchronisation state. Every argument can be faked for tests."""

    def __init__(
        self,
        *,
        check: SyncCheck = adjtimex_check,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        boot_id: str | None = None,
        jump_threshold_s: float = 2.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self._check = check
        self._wall = wall
        self._mono = mono
        self.boot_id = boot_id if boot_id is not None else read_boot_id()
        self.jump_threshold_s = jump_threshold_s
        self._log = logger or log
        self._synced: bool | None = None
        self._offset: float | None = None  # wall - mono at the last observation

    @classmethod
    def from_settings(cls, settings: ClockSettings, **kwargs: object) -> Clock:
        return cls(
            check=sync_check_from_settings(settings),
            jump_threshold_s=settings.jump_threshold_s,
            **kwargs,  # type: ignore[arg-type]
        )

    def now_ms(self) -> int:
        """Wall-clock time in epoch milliseconds (may be stale while unsynchronised)."""
        return int(self._wall() * 1000)

    def monotonic(self) -> float:
        return self._mono()

    def synced(self) -> bool:
        """Whether the wall clock is synchronised now. A failing check counts as unsynchronised."""
        try:
            return bool(self._check())
        except Exception:  # noqa: BLE001 - a broken check must not stop the agent
            self._log.exception("clock check failed; treating the clock as unsynchronised")
            return False

    @property
    def last_synced(self) -> bool:
        """The state at the last ``observe`` (no new check)."""
        return bool(self._synced)

    def observe(self) -> list[ClockEvent]:
        """Check the clock; report and log transitions and wall-clock jumps since the last call."""
        synced = self.synced()
        offset = self._wall() - self._mono()
        events: list[ClockEvent] = []
        if self._offset is not None and self._synced and synced:
            jump = offset - self._offset
            if abs(jump) > self.jump_threshold_s:
                direction = "forwards" if jump > 0 else "backwards"
                self._log.warning(
                    "wall clock jumped %s while synchronised", direction, extra={"jump_s": round(jump, 3)}
                )
                events.append(ClockEvent("jump", jump))
        if synced != self._synced:
            if synced:
                self._log.info("clock synchronised", extra={"boot_id": self.boot_id})
                events.append(ClockEvent("synced"))
            else:
                self._log.warning("clock not synchronised: samples are held until it is")
                events.append(ClockEvent("unsynced"))
        self._synced = synced
        self._offset = offset
        return events
