"""The dossier's month: ``YYYY-MM`` read as ``[first day 00:00 local, first day of the next month 00:00 local)``.

Only a month that has ended makes a dossier: the API caps every window at now, so a running month would be
a different window from the one printed on the cover.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.errors import ParameterError
from server.timeparse import Window, iso, year_month

__all__ = ["Day", "Month", "parse_month"]


@dataclass(frozen=True, slots=True)
class Day:
    """A local calendar day as a window (a day is not always 24 h where the zone has summer time)."""

    date: date
    window: Window


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    zone: ZoneInfo

    @property
    def text(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def following(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    def midnight_ms(self, day: date) -> int:
        return int(datetime.combine(day, datetime.min.time(), self.zone).timestamp() * 1000)

    @property
    def window(self) -> Window:
        return Window(self.midnight_ms(self.first), self.midnight_ms(self.following))

    @property
    def start(self) -> str:
        """The window's start as the API takes it (``start=`` of ``/criteria``)."""
        return iso(self.window.start_ms)

    @property
    def end(self) -> str:
        return iso(self.window.end_ms)

    def days(self) -> Iterator[Day]:
        day = self.first
        while day < self.following:
            following = day + timedelta(days=1)
            yield Day(day, Window(self.midnight_ms(day), self.midnight_ms(following)))
            day = following


def parse_month(text: str, *, now: datetime, zone: ZoneInfo) -> Month:
    """``2025-03`` -> ``Month``; a malformed month, or one that has not ended by ``now``, is a ``ParameterError``."""
    found = year_month(text)
    if found is None:
        raise ParameterError(f"month: {text[:40]!r} is not a month like 2025-03 (YYYY-MM)", parameter="month")
    month = Month(*found, zone)
    now_ms = int(now.timestamp() * 1000)
    if month.window.start_ms > now_ms:
        raise ParameterError(f"month: {month.text} is in the future", parameter="month")
    if month.window.end_ms > now_ms:
        raise ParameterError(
            f"month: {month.text} has not ended yet (it ends {month.following.isoformat()} 00:00 "
            f"{zone.key}); a dossier covers a whole month",
            parameter="month",
        )
    return month
