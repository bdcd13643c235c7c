"""When the lights should be on: from the village's dusk to the next dawn, or between fixed local times.

Pure and clock-free: every call takes the time (UTC ms), so tests drive it with any instant. A schedule is a
series of on-windows, one per local date: the window of date ``d`` opens in the evening of ``d`` and closes
in the morning of ``d + 1``, so crossing midnight needs no special case. ``expected(t)`` is true on
``[open, close)``; ``transitions(t0, t1)`` lists the instants in ``(t0, t1)`` where it changes, so the
tracker can split an interval exactly at dusk and dawn.

Photocells and timers never switch exactly at astral dusk and dawn, so each switch ``x`` has a grace window
``[x - switch_grace_s, x + switch_grace_s)`` in which either state is as scheduled (``lenient``); ``stretch``
and ``cuts`` are ``span`` and ``transitions`` with the grace windows' ends added.
"""

from __future__ import annotations

import datetime as dt
import functools
from abc import ABC, abstractmethod
from typing import Final, Literal
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import dawn, dusk, elevation, sunrise, sunset

__all__ = ["DEFAULT_SWITCH_GRACE_S", "AstralSchedule", "FixedSchedule", "Schedule", "Twilight"]

#: Real photocells and timers switch seconds to minutes away from the scheduled instant.
DEFAULT_SWITCH_GRACE_S: Final = 120.0

Twilight = Literal["sunset", "civil", "nautical", "astronomical"]
_DEPRESSION: Final = {"civil": 6.0, "nautical": 12.0, "astronomical": 18.0}
_DAY: Final = dt.timedelta(days=1)
_REACH_MS: Final = 2 * 86_400_000


def _ms(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)


class Schedule(ABC):
    """On-windows per local date in ``tz``, with ``switch_grace_s`` of leniency either side of each switch."""

    def __init__(self, tz: str, *, switch_grace_s: float = DEFAULT_SWITCH_GRACE_S) -> None:
        if not switch_grace_s >= 0:
            raise ValueError(f"switch_grace_s must be >= 0, got {switch_grace_s!r}")
        self.tz = ZoneInfo(tz)
        self.grace_ms = round(switch_grace_s * 1000)
        self._window = functools.lru_cache(maxsize=64)(self._compute_window)

    @abstractmethod
    def _compute_window(self, day: dt.date) -> tuple[int, int] | None:
        """The window opening in the evening of ``day``, as (open_ms, close_ms); ``None`` if none."""

    def _local_date(self, t_ms: int) -> dt.date:
        return dt.datetime.fromtimestamp(t_ms / 1000, self.tz).date()

    def windows(self, t0_ms: int, t1_ms: int) -> list[tuple[int, int]]:
        """The on-windows overlapping ``[t0, t1)``, in order."""
        day = self._local_date(t0_ms) - _DAY
        last = self._local_date(t1_ms)
        found = []
        while day <= last:
            window = self._window(day)
            if window is not None and window[0] < t1_ms and window[1] > t0_ms:
                found.append(window)
            day += _DAY
        return found

    def expected(self, t_ms: int) -> bool:
        """True when the light should be on at ``t_ms``."""
        return any(start <= t_ms < end for start, end in self.windows(t_ms, t_ms + 1))

    def span(self, t_ms: int) -> tuple[int, int, bool]:
        """``(lo, hi, expected)``: the longest stretch around ``t_ms`` (``lo <= t < hi``) with no change."""
        reach = _REACH_MS
        edges = sorted(e for w in self.windows(t_ms - reach, t_ms + reach) for e in w)
        lo = max((e for e in edges if e <= t_ms), default=t_ms - reach)
        hi = min((e for e in edges if e > t_ms), default=t_ms + reach)
        return lo, hi, self.expected(t_ms)

    def transitions(self, t0_ms: int, t1_ms: int) -> list[int]:
        """Instants in ``(t0, t1)`` where ``expected`` changes, in order."""
        edges = []
        for start, end in self.windows(t0_ms, t1_ms):
            edges += [t for t in (start, end) if t0_ms < t < t1_ms]
        return sorted(edges)

    def switches(self, t0_ms: int, t1_ms: int) -> list[int]:
        """Instants in ``(t0, t1)`` where ``expected`` really changes (not where two windows touch)."""
        edges = [e for w in self.windows(t0_ms, t1_ms) for e in w if t0_ms < e < t1_ms]
        return sorted(e for e in set(edges) if edges.count(e) == 1)

    def lenient(self, t_ms: int) -> bool:
        """True within the grace of a switch: ``x - grace <= t < x + grace``, when either state is as scheduled."""
        g = self.grace_ms
        return g > 0 and bool(self.switches(t_ms - g, t_ms + g + 1))

    def _grace_edges(self, t0_ms: int, t1_ms: int) -> list[int]:
        g = self.grace_ms
        return [e for x in self.switches(t0_ms - g, t1_ms + g + 1) for e in (x - g, x + g)] if g else []

    def stretch(self, t_ms: int) -> tuple[int, int, bool, bool]:
        """``(lo, hi, expected, lenient)``: the longest stretch around ``t_ms`` where neither changes."""
        lo, hi, expected = self.span(t_ms)
        edges = self._grace_edges(t_ms - _REACH_MS, t_ms + _REACH_MS)
        lo = max([lo, *(e for e in edges if e <= t_ms)])
        hi = min([hi, *(e for e in edges if e > t_ms)])
        return lo, hi, expected, self.lenient(t_ms)

    def cuts(self, t0_ms: int, t1_ms: int) -> list[int]:
        """Instants in ``(t0, t1)`` where ``expected`` or ``lenient`` changes, in order."""
        grace = [e for e in self._grace_edges(t0_ms, t1_ms) if t0_ms < e < t1_ms]
        return sorted({*self.transitions(t0_ms, t1_ms), *grace})


class AstralSchedule(Schedule):
    """On from dusk (plus an offset) to the next dawn (plus an offset), computed with astral.

    ``twilight = "sunset"`` uses sunset and sunrise; ``civil``/``nautical``/``astronomical`` use dusk and
    dawn with the sun 6, 12 or 18 degrees below the horizon.
    """

    def __init__(
        self,
        latitude: float,
        longitude: float,
        tz: str,
        *,
        twilight: Twilight = "sunset",
        dusk_offset_s: float = 0.0,
        dawn_offset_s: float = 0.0,
        switch_grace_s: float = DEFAULT_SWITCH_GRACE_S,
    ) -> None:
        self.observer = Observer(latitude=latitude, longitude=longitude)
        self.twilight = twilight
        self.dusk_offset = dt.timedelta(seconds=dusk_offset_s)
        self.dawn_offset = dt.timedelta(seconds=dawn_offset_s)
        super().__init__(tz, switch_grace_s=switch_grace_s)

    def _evening(self, day: dt.date) -> dt.datetime:
        if self.twilight == "sunset":
            return sunset(self.observer, day, tzinfo=self.tz)
        return dusk(self.observer, day, depression=_DEPRESSION[self.twilight], tzinfo=self.tz)

    def _morning(self, day: dt.date) -> dt.datetime:
        if self.twilight == "sunset":
            return sunrise(self.observer, day, tzinfo=self.tz)
        return dawn(self.observer, day, depression=_DEPRESSION[self.twilight], tzinfo=self.tz)

    def _compute_window(self, day: dt.date) -> tuple[int, int] | None:
        try:
            start = self._evening(day) + self.dusk_offset
            end = self._morning(day + _DAY) + self.dawn_offset
        except ValueError:
            # Polar day or night (astral cannot find the event): all night long, or not at all.
            noon = dt.datetime.combine(day, dt.time(12), self.tz)
            if elevation(self.observer, noon) > 0:
                return None
            return _ms(noon), _ms(noon + _DAY)
        if end <= start:
            return None
        return _ms(start), _ms(end)


class FixedSchedule(Schedule):
    """On at ``on`` local time, off at ``off`` (the next morning when ``off`` is earlier than ``on``)."""

    def __init__(
        self, on: dt.time, off: dt.time, tz: str, *, switch_grace_s: float = DEFAULT_SWITCH_GRACE_S
    ) -> None:
        if on == off:
            raise ValueError("a fixed schedule needs different on and off times")
        self.on = on
        self.off = off
        super().__init__(tz, switch_grace_s=switch_grace_s)

    def _compute_window(self, day: dt.date) -> tuple[int, int] | None:
        start = dt.datetime.combine(day, self.on, self.tz)
        end = dt.datetime.combine(day if self.off > self.on else day + _DAY, self.off, self.tz)
        return _ms(start), _ms(end)
