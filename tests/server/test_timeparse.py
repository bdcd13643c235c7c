"""Times, windows and steps: ISO 8601 and relative times, local days, bucket alignment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.errors import ParameterError
from server.timeparse import Step, Window, buckets, iso, parse_step, parse_time, resolve_window

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 3, 15, 12, 34, 56, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01T00:00:00Z", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T07:00:00+07:00", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T07:00:00", datetime(2025, 3, 1, tzinfo=UTC)),  # no zone: local time
        ("2025-03-01", datetime(2025, 2, 28, 17, tzinfo=UTC)),  # a date: local midnight
        ("now", NOW),
        ("-30d", NOW - timedelta(days=30)),
        ("now-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("-2w", NOW - timedelta(weeks=2)),
        # the first and last local days of 2000..2199, which begin and end on the other side of a UTC new year
        ("2000-01-01", datetime(1999, 12, 31, 17, tzinfo=UTC)),
        ("1999-12-31T17:00:00Z", datetime(1999, 12, 31, 17, tzinfo=UTC)),
        ("2199-12-31T23:59:59-05:00", datetime(2200, 1, 1, 4, 59, 59, tzinfo=UTC)),
    ],
)
def test_times(text, expected):
    assert parse_time(text, now=NOW, zone=VN, parameter="start") == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "-30x",
        "2025-02-30",
        "-0d",
        "1900-01-01",
        "99999-01-01",
        "--1d",
        "1999-12-31T08:00:00Z",
    ],
)
def test_malformed_times_name_the_parameter(text):
    with pytest.raises(ParameterError) as info:
        parse_time(text, now=NOW, zone=VN, parameter="end")
    assert info.value.parameter == "end"


def test_windows_default_to_the_last_days_and_end_no_later_than_now():
    w = resolve_window(None, None, now=NOW, zone=VN, default=timedelta(days=30), maximum=timedelta(days=400))
    assert (w.end, w.seconds) == (iso(int(NOW.timestamp() * 1000)), 30 * 86400)
    capped = resolve_window(
        "-1d", "now+5d", now=NOW, zone=VN, default=timedelta(days=30), maximum=timedelta(days=400)
    )
    assert capped.end_ms == int(NOW.timestamp() * 1000)
    with pytest.raises(ParameterError, match="longer than the maximum") as info:
        resolve_window(
            "-401d", None, now=NOW, zone=VN, default=timedelta(days=30), maximum=timedelta(days=400)
        )
    assert info.value.parameter == "start"
    # the length in days, not Python's "401 days, 0:00:00"
    assert info.value.message == "start: the window is 401 days, longer than the maximum 400 days"


def test_an_empty_window_names_its_times_as_the_answers_write_them():
    """In the answers' form (``Z``, milliseconds), not ``2026-11-30T17:00:00+00:00`` or microseconds."""
    with pytest.raises(ParameterError) as info:
        resolve_window(
            "2026-12-01T00:00:00.123456+07:00",
            "2026-11-30",
            now=NOW,
            zone=VN,
            default=timedelta(days=30),
            maximum=timedelta(days=400),
        )
    assert info.value.message == (
        "start: the window is empty: start 2026-11-30T17:00:00.123Z is not before end 2025-03-15T12:34:56Z "
        "(end is capped at now)"
    )


def test_steps_and_their_limits():
    window = Window(0, 86_400_000)
    assert parse_step("1h", window=window, max_buckets=100).seconds == 3600
    assert parse_step("1w", window=window, max_buckets=100).group_by() == "time(1w, 4d)"
    for bad in ("30s", "90s", "1d12h", "0h"):
        with pytest.raises(ParameterError):
            parse_step(bad, window=window, max_buckets=100)
    with pytest.raises(ParameterError, match="more than the maximum"):
        parse_step("1m", window=window, max_buckets=100)


def _ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_day_and_week_buckets_follow_the_local_calendar():
    window = Window(_ms(2025, 3, 1, 5), _ms(2025, 3, 12))  # Saturday 12:00 local .. Wednesday 07:00 local
    days = buckets(window, Step("1d", 86400), VN)
    assert [iso(s) for s, _ in days[:3]] == [
        "2025-03-01T05:00:00Z",
        "2025-03-01T17:00:00Z",
        "2025-03-02T17:00:00Z",
    ]
    assert days[-1] == (_ms(2025, 3, 11, 17), _ms(2025, 3, 12))
    weeks = buckets(window, Step("1w", 7 * 86400), VN)
    assert [iso(e) for _, e in weeks] == [
        "2025-03-02T17:00:00Z",
        "2025-03-09T17:00:00Z",
        "2025-03-12T00:00:00Z",
    ]
    assert datetime.fromtimestamp(weeks[1][0] / 1000, VN).strftime("%A %H:%M") == "Monday 00:00"


def test_an_enormous_relative_time_is_a_clear_error_not_a_crash():
    now = datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ParameterError, match="end: '\\+882m61627w5w815400w38w' is outside 2000..2200"):
        parse_time("+882m61627w5w815400w38w", now=now, zone=ZoneInfo("Asia/Ho_Chi_Minh"), parameter="end")


def test_a_plus_that_arrived_as_a_space_gets_a_hint():
    now = datetime(2025, 3, 1, tzinfo=UTC)
    with pytest.raises(ParameterError, match="write it as %2B"):
        parse_time("2025-02-01T00:00:00 07:00", now=now, zone=ZoneInfo("Asia/Ho_Chi_Minh"), parameter="start")


def test_tz_moves_day_boundaries_and_times_without_offset(api):
    from srv_helpers import READ

    base = {"start": "2025-03-10", "end": "2025-03-11"}
    here = api.get("/api/v1/villages/kha-ly-thuong/uptime", params=base, headers=READ).json()
    utc = api.get("/api/v1/villages/kha-ly-thuong/uptime", params={**base, "tz": "UTC"}, headers=READ).json()
    assert (
        here["window"]["start"] == "2025-03-09T17:00:00Z" and here["window"]["timezone"] == "Asia/Ho_Chi_Minh"
    )
    assert utc["window"]["start"] == "2025-03-10T00:00:00Z" and utc["window"]["timezone"] == "UTC"
    bad = api.get(
        "/api/v1/villages/kha-ly-thuong/uptime", params={**base, "tz": "Mars/Olympus"}, headers=READ
    )
    assert bad.status_code == 422 and bad.json()["parameter"] == "tz"


def test_a_step_no_longer_than_the_longest_window():
    """``step=500000w`` was a 500 (a date past year 9999), ``16000w`` a 502 (InfluxDB's duration overflowed)."""
    window = Window(0, 86_400_000)
    assert parse_step("3660d", window=window, max_buckets=100).seconds == 3660 * 86400
    for huge in ("3661d", "16000w", "500000w", "999999d"):
        with pytest.raises(ParameterError, match="at most 3660d") as info:
            parse_step(huge, window=window, max_buckets=100)
        assert info.value.parameter == "step"


@pytest.mark.parametrize(
    "text",
    [
        "2026-W49-1",
        "20261207",
        "2026-12-07T10",
        "2026-12-07 10:00",
        "2026-12-07T10:00:00,5Z",
        "2026-12-07T10:00:00.1234567Z",
        "2026-12-07T10:00+0700",
        "2026-12-07T10:00+07",
        "2026-12-07T10:00+07:00:30",
        " 2026-12-07",
        "2026-12-07\n",
        "-30d\n",
    ],
)
def test_a_time_outside_the_published_pattern_is_refused(text):
    """The OpenAPI document publishes the grammar; the parser took any form ``fromisoformat`` reads."""
    with pytest.raises(ParameterError, match="is not an ISO 8601 time") as info:
        parse_time(text, now=NOW, zone=VN, parameter="start")
    assert info.value.parameter == "start"


def test_a_step_with_a_trailing_newline_is_refused():
    with pytest.raises(ParameterError, match="is not a duration"):
        parse_step("1h\n", window=Window(0, 86_400_000), max_buckets=100)
