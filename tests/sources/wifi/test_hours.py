"""Seconds of an interval inside the cultural house's opening hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from edge.sources.wifi.hours import OpeningHours, open_seconds

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def s(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp()


WEEK = [
    OpeningHours(days="mon-fri", open="07:00", close="11:00"),
    OpeningHours(days="mon-fri", open="13:30", close="21:00"),
    OpeningHours(days="sat,sun", open="08:00", close="22:00"),
]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-06-03T06:59", "2024-06-03T07:01", 60),  # Monday, opening
        ("2024-06-03T10:00", "2024-06-03T14:00", 3600 + 1800),  # across the lunch break
        ("2024-06-03T21:00", "2024-06-03T22:00", 0),  # closed
        ("2024-06-08T07:00", "2024-06-08T09:00", 3600),  # Saturday hours
        ("2024-06-02T00:00", "2024-06-04T00:00", 14 * 3600 + 11.5 * 3600),  # Sunday + Monday
    ],
)
def test_open_seconds(start: str, end: str, expected: float):
    assert open_seconds(WEEK, s(start), s(end), TZ) == pytest.approx(expected)


def test_hours_past_midnight_and_overlaps():
    late = [
        OpeningHours(days="sat", open="18:00", close="01:00"),
        OpeningHours(days="sat", open="20:00", close="23:00"),
    ]
    # Saturday 23:00 to Sunday 02:00: open until 01:00 (the Saturday rule), overlaps counted once
    assert open_seconds(late, s("2024-06-08T23:00"), s("2024-06-09T02:00"), TZ) == pytest.approx(7200)
    allday = [OpeningHours(open="00:00", close="24:00")]
    assert open_seconds(allday, s("2024-06-08T23:00"), s("2024-06-09T02:00"), TZ) == pytest.approx(3 * 3600)
    assert open_seconds([], 0, 100, TZ) == 0


@pytest.mark.parametrize(("field", "value"), [("days", "mon-funday"), ("open", "7:00"), ("close", "24:30")])
def test_bad_rules_are_config_errors(field: str, value: str):
    data = {"days": "mon-fri", "open": "07:00", "close": "21:00", field: value}
    with pytest.raises(ValidationError):
        OpeningHours(**data)
