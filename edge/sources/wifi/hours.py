"""Opening hours of the cultural house, and how many seconds of an interval fall inside them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from thonminh.config import StrictModel

__all__ = ["OpeningHours", "open_seconds"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def _weekdays(spec: str) -> frozenset[int]:
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"{spec!r}: days are mon..sun, as 'mon-fri' or 'sat,sun'")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _minutes(value: str) -> int:
    match = _TIME.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"{value!r} is not a time HH:MM (00:00..24:00)")
    return int(match.group(1)) * 60 + int(match.group(2))


class OpeningHours(StrictModel):
    """One rule: on ``days``, open from ``open`` to ``close`` local time; a ``close`` at or before ``open``
    means after midnight (the hours belong to the day they open)."""

    days: str = Field("mon-sun", description="'mon-sun', 'mon-fri', 'sat,sun', 'mon,wed-fri'")
    open: str = Field(description="opening time HH:MM, local time of the site")
    close: str = Field(description="closing time HH:MM; 24:00 is midnight")

    @field_validator("days")
    @classmethod
    def _valid_days(cls, value: str) -> str:
        _weekdays(value)
        return value

    @field_validator("open", "close")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        _minutes(value)
        return value

    def windows(self, day: date, tz: ZoneInfo) -> list[tuple[float, float]]:
        """The UTC (start, end) seconds this rule is open on ``day``, if ``day`` is one of its days."""
        if day.weekday() not in _weekdays(self.days):
            return []
        start_m, end_m = _minutes(self.open), _minutes(self.close)
        if end_m <= start_m:
            end_m += 24 * 60

        def at(minutes: int) -> float:
            d = day + timedelta(days=minutes // (24 * 60))
            m = minutes % (24 * 60)
            return datetime.combine(d, dtime(m // 60, m % 60), tzinfo=tz).timestamp()

        return [(at(start_m), at(end_m))]


def open_seconds(rules: Sequence[OpeningHours], start_s: float, end_s: float, tz: ZoneInfo) -> float:
    """Seconds of the interval (start_s, end_s] (UTC epoch seconds) inside any rule's opening hours."""
    if not rules or end_s <= start_s:
        return 0.0
    first = datetime.fromtimestamp(start_s, tz=UTC).astimezone(tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, tz=UTC).astimezone(tz).date()
    windows = []
    day = first
    while day <= last:
        for rule in rules:
            windows.extend(rule.windows(day, tz))
        day += timedelta(days=1)
    # Merge overlapping rules so that no second counts twice.
    total, cursor = 0.0, start_s
    for a, b in sorted(windows):
        a, b = max(a, cursor), min(b, end_s)
        if b > a:
            total += b - a
            cursor = b
    return total
