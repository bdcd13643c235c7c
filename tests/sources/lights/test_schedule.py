"""Dusk/dawn and fixed schedules at Khả Lý Thượng, across dusk, dawn and midnight, on a fake clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from edge.sources.lights.schedule import AstralSchedule, FixedSchedule

TZ = "Asia/Ho_Chi_Minh"
LAT, LON = 21.38, 106.57  # Khả Lý Thượng, Bắc Giang


def ms(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return round(dt.datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(TZ)).timestamp() * 1000)


def local(t_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_ms / 1000, ZoneInfo(TZ))


def minutes(d: dt.datetime) -> float:
    return d.hour * 60 + d.minute + d.second / 60


@pytest.mark.parametrize(
    ("day", "sunset", "sunrise_next"),
    [
        # Hanoi's published times shifted 2.9 minutes earlier for the 0.72 degrees further east.
        (dt.date(2024, 6, 21), 18 * 60 + 39, 5 * 60 + 10),
        (dt.date(2024, 12, 21), 17 * 60 + 17, 6 * 60 + 28),
    ],
)
def test_astral_window_is_the_village_night(day: dt.date, sunset: int, sunrise_next: int) -> None:
    schedule = AstralSchedule(LAT, LON, TZ)
    ((start, end),) = schedule.windows(
        ms(day.year, day.month, day.day, 12), ms(day.year, day.month, day.day, 23)
    )
    assert local(start).date() == day and local(end).date() == day + dt.timedelta(days=1)
    assert abs(minutes(local(start)) - sunset) <= 5
    assert abs(minutes(local(end)) - sunrise_next) <= 5


def test_astral_expected_across_dusk_midnight_and_dawn() -> None:
    schedule = AstralSchedule(LAT, LON, TZ)
    ((dusk, dawn),) = schedule.windows(ms(2024, 6, 21, 12), ms(2024, 6, 21, 23))
    assert not schedule.expected(dusk - 1)
    assert schedule.expected(dusk)
    assert schedule.expected(ms(2024, 6, 21, 23, 59, 59))
    assert schedule.expected(ms(2024, 6, 22, 0, 0, 0))
    assert schedule.expected(ms(2024, 6, 22, 0, 0, 1))
    assert schedule.expected(dawn - 1)
    assert not schedule.expected(dawn)
    assert not schedule.expected(ms(2024, 6, 22, 12))


def test_astral_offsets_and_twilight() -> None:
    plain = AstralSchedule(LAT, LON, TZ)
    shifted = AstralSchedule(LAT, LON, TZ, dusk_offset_s=900, dawn_offset_s=-600)
    civil = AstralSchedule(LAT, LON, TZ, twilight="civil")
    t0, t1 = ms(2024, 3, 20, 12), ms(2024, 3, 20, 23)
    ((s0, e0),) = plain.windows(t0, t1)
    ((s1, e1),) = shifted.windows(t0, t1)
    ((s2, e2),) = civil.windows(t0, t1)
    assert (s1 - s0, e1 - e0) == (900_000, -600_000)
    assert 15 * 60_000 < s2 - s0 < 35 * 60_000  # civil dusk comes 20-odd minutes after sunset in the tropics
    assert 15 * 60_000 < e0 - e2 < 35 * 60_000


def test_transitions_over_two_nights_alternate() -> None:
    schedule = AstralSchedule(LAT, LON, TZ)
    edges = schedule.transitions(ms(2024, 6, 21, 12), ms(2024, 6, 23, 12))
    assert len(edges) == 4
    assert [schedule.expected(e) for e in edges] == [True, False, True, False]
    assert [schedule.expected(e - 1) for e in edges] == [False, True, False, True]
    assert schedule.transitions(edges[0], edges[1]) == []  # open interval: the ends are not inside
    assert schedule.transitions(edges[0] - 1, edges[0] + 1) == [edges[0]]


def test_span_is_the_stretch_without_change() -> None:
    schedule = AstralSchedule(LAT, LON, TZ)
    t = ms(2024, 6, 22, 1)
    lo, hi, expected = schedule.span(t)
    assert expected and lo < t < hi
    assert schedule.transitions(lo - 1, hi + 1) == [lo, hi]


def test_fixed_schedule_across_midnight() -> None:
    schedule = FixedSchedule(dt.time(18), dt.time(5, 30), TZ)
    assert not schedule.expected(ms(2024, 6, 21, 17, 59, 59))
    assert schedule.expected(ms(2024, 6, 21, 18))
    assert schedule.expected(ms(2024, 6, 22, 0))
    assert schedule.expected(ms(2024, 6, 22, 5, 29, 59))
    assert not schedule.expected(ms(2024, 6, 22, 5, 30))
    assert schedule.transitions(ms(2024, 6, 21, 12), ms(2024, 6, 22, 12)) == [
        ms(2024, 6, 21, 18),
        ms(2024, 6, 22, 5, 30),
    ]


def test_fixed_schedule_within_one_night() -> None:
    schedule = FixedSchedule(dt.time(1), dt.time(4), TZ)
    assert not schedule.expected(ms(2024, 6, 22, 0, 59))
    assert schedule.expected(ms(2024, 6, 22, 1))
    assert not schedule.expected(ms(2024, 6, 22, 4))
    with pytest.raises(ValueError):
        FixedSchedule(dt.time(4), dt.time(4), TZ)
