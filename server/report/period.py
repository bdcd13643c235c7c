"""The dossier's period: a whole month that has ended (``month=YYYY-MM``) or any window (``start=&end=``).

A window follows the API's rule (``server.timeparse``): ISO 8601, a date or a relative time, ``[start, end)``,
end capped at now. A window that is exactly a calendar month that has ended is that month. The days of a period
are the local days it touches, each cut to the period: a period inside one day is one day, one bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.errors import ParameterError
from server.report import vi
from server.report.month import Day, Month, parse_month
from server.timeparse import Window, iso, resolve_window

__all__ = ["MAX_DAYS", "Period", "parse_period"]

#: the longest period a dossier covers: each day is one evaluation (a month takes about 3 s, see docs/report.md)
MAX_DAYS = 92


@dataclass(frozen=True, slots=True)
class Period:
    window: Window
    zone: ZoneInfo
    #: set when the period is a whole calendar month
    month: Month | None = None

    @classmethod
    def of_month(cls, month: Month) -> Period:
        return cls(month.window, month.zone, month)

    @property
    def start(self) -> str:
        """The window's start as the API takes it (``start=`` of ``/criteria``)."""
        return iso(self.window.start_ms)

    @property
    def end(self) -> str:
        return iso(self.window.end_ms)

    def _local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, self.zone)

    @property
    def text(self) -> str:
        """``2025-03``, or the window in local time: for messages and file names."""
        if self.month is not None:
            return self.month.text
        return f"{self._local(self.window.start_ms):%Y%m%dT%H%M%S}-{self._local(self.window.end_ms):%Y%m%dT%H%M%S}"

    @property
    def label(self) -> str:
        """``tháng 03/2025``, ``05/03/2025 10:00:05 +07 – 07/03/2025 00:00:00 +07``, or within one local day
        ``05/03/2025 10:00:05 +07 – 10:01:05 +07``: local times, each with its zone offset."""
        if self.month is not None:
            return f"tháng {self.month.month:02d}/{self.month.year}"
        start, end = (vi.local_time(ms, self.zone) for ms in (self.window.start_ms, self.window.end_ms))
        same_day = self._local(self.window.start_ms).date() == self._local(self.window.end_ms).date()
        return f"{start} – {end.split(' ', 1)[1] if same_day else end}"

    @property
    def noun(self) -> str:
        """What the text calls the period: ``trong tháng``, ``trong khoảng thời gian``."""
        return "tháng" if self.month is not None else "khoảng thời gian"

    def days(self) -> list[Day]:
        """The local days the period touches, each window cut to the period."""
        if self.month is not None:
            return list(self.month.days())
        out = []
        day = self._local(self.window.start_ms).date()
        while (start_ms := _midnight_ms(day, self.zone)) < self.window.end_ms:
            following = day + timedelta(days=1)
            out.append(Day(day, self.window.clip(start_ms, _midnight_ms(following, self.zone))))
            day = following
        return out

    def day_label(self, day: date) -> str:
        """A day in the lists under the charts: its number in a month, ``05/03`` otherwise."""
        return str(day.day) if self.month is not None else f"{day:%d/%m}"


def _midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), zone).timestamp() * 1000)


def _whole_month(window: Window, zone: ZoneInfo) -> Month | None:
    first = datetime.fromtimestamp(window.start_ms / 1000, zone).date()
    month = Month(first.year, first.month, zone)
    return month if month.window == window else None


def parse_period(
    month: str | None,
    start: str | None,
    end: str | None,
    *,
    now: datetime,
    zone: ZoneInfo,
    max_days: int = MAX_DAYS,
) -> Period:
    """Exactly one of ``month`` or ``start`` and ``end``; anything else is a ``ParameterError`` naming the
    parameter. ``max_days`` is the longest period (at most the API's ``max_window_days``)."""
    if month is not None and (start is not None or end is not None):
        raise ParameterError("month: give either month=YYYY-MM or start and end, not both", parameter="month")
    if month is not None:
        return Period.of_month(parse_month(month, now=now, zone=zone))
    if start is None and end is None:
        raise ParameterError(
            "month: missing: give month=YYYY-MM (a whole month that has ended) or start and end (any period)",
            parameter="month",
        )
    if start is None or end is None:
        missing = "start" if start is None else "end"
        raise ParameterError(
            f"{missing}: missing: a dossier for a period needs both start and end", parameter=missing
        )
    window = resolve_window(
        start, end, now=now, zone=zone, default=timedelta(days=max_days), maximum=timedelta(days=max_days)
    )
    return Period(window, zone, _whole_month(window, zone))
