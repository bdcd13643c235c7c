"""Which parts of a window are read from raw samples, hourly rollups or daily rollups.

Rollups cover ``[complete_from, complete_until)``; inside it whole UTC days come from the daily rollups and the
remaining whole hours from the hourly ones; the edges, and whatever is not rolled up yet, from raw samples.

Daily points (``wifi_daily``) are stamped at local midnight and stand for the whole local day: ``daily_span``
is the time range whose daily points belong to a window, ``local_days`` how many local days it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.timeparse import HOUR_MS, ceil_hour, floor_hour

__all__ = [
    "DAILY",
    "DAY_MS",
    "HOURLY",
    "RAW",
    "RollupState",
    "Segment",
    "ceil_day",
    "daily_span",
    "floor_day",
    "local_day_start",
    "local_days",
    "plan",
    "whole_days",
]

DAY_MS = 24 * HOUR_MS
RAW, HOURLY, DAILY = "raw", "1h", "1d"


@dataclass(frozen=True, slots=True)
class RollupState:
    """Rollups are complete for ``[from_ms, until_ms)``."""

    from_ms: int
    until_ms: int


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of a window and where it is read from: ``raw`` samples, ``1h`` or ``1d`` rollups."""

    start_ms: int
    end_ms: int
    level: str = RAW

    @property
    def rollup(self) -> bool:
        return self.level != RAW


def floor_day(ms: int) -> int:
    return ms - ms % DAY_MS


def ceil_day(ms: int) -> int:
    return -((-ms) // DAY_MS) * DAY_MS


def plan(
    start_ms: int, end_ms: int, state: RollupState | None, *, use_rollups: bool = True, daily: bool = True
) -> list[Segment]:
    """Split ``[start, end)`` into raw edges, whole rolled-up hours and, inside them, whole UTC days."""
    if not use_rollups or state is None:
        return [Segment(start_ms, end_ms)]
    h0 = max(ceil_hour(start_ms), state.from_ms)
    h1 = min(floor_hour(end_ms), state.until_ms)
    if h1 - h0 < HOUR_MS:
        return [Segment(start_ms, end_ms)]
    middle = [Segment(h0, h1, HOURLY)]
    d0, d1 = ceil_day(h0), floor_day(h1)
    if daily and d1 > d0:
        middle = [Segment(h0, d0, HOURLY), Segment(d0, d1, DAILY), Segment(d1, h1, HOURLY)]
    segments = [Segment(start_ms, h0), *middle, Segment(h1, end_ms)]
    return [seg for seg in segments if seg.end_ms > seg.start_ms]


def _local_date(ms: int, zone: ZoneInfo) -> date:
    # whole seconds: local midnights fall on a second, so flooring never moves a moment across one
    return datetime.fromtimestamp(ms // 1000, UTC).astimezone(zone).date()


def local_day_start(ms: int, zone: ZoneInfo) -> int:
    """The local midnight (UTC ms) that starts the local day holding ``ms``."""
    return int(datetime.combine(_local_date(ms, zone), time(), zone).timestamp() * 1000)


def whole_days(start_ms: int, end_ms: int, zone: ZoneInfo) -> tuple[int, int]:
    """The local midnights (UTC ms) that start the first day ``[start, end)`` touches and end its last: what a
    daily figure counts, whole days, though the window may open or close within one."""
    last = _local_date(end_ms - 1, zone) + timedelta(days=1)
    return local_day_start(start_ms, zone), int(datetime.combine(last, time(), zone).timestamp() * 1000)


def local_days(start_ms: int, end_ms: int, zone: ZoneInfo) -> int:
    """How many local days ``[start, end)`` touches (0 for an empty window)."""
    if end_ms <= start_ms:
        return 0
    return (_local_date(end_ms - 1, zone) - _local_date(start_ms, zone)).days + 1


def daily_span(start_ms: int, end_ms: int, zone: ZoneInfo) -> tuple[int, int]:
    """The time range holding the daily points of every local day ``[start, end)`` touches.

    A daily point is stamped at its day's local midnight, so the window's first day has its point before
    ``start`` when the window opens after midnight: the span starts at that midnight. The end stays: a day
    the window does not reach (midnight at or after ``end``) is not counted."""
    if end_ms <= start_ms:
        return start_ms, end_ms
    return min(start_ms, local_day_start(start_ms, zone)), end_ms
