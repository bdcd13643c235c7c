"""The figures as plain functions: availability, unknown time, outages, MTBF/MTTR, lighting, Wi-Fi."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from server import figures as fig
from server.catalog import ratio_evidence
from server.plan import daily_span, local_days
from server.timeparse import Window
from thonminh.figures import FIGURES

S = 1000


def test_unknown_time_is_neither_up_nor_down():
    a = fig.availability(up_s=500.0, observed_s=600.0, samples=10, window_s=1000.0)
    assert (a.availability_pct, a.down_s, a.unknown_s, a.coverage) == (
        pytest.approx(83.333333),
        100.0,
        400.0,
        0.6,
    )
    empty = fig.availability(0.0, 0.0, 0, 1000.0)
    assert (empty.availability_pct, empty.unknown_s, empty.coverage) == (None, 1000.0, 0.0)


def test_outages_pair_events_and_keep_the_ones_open_at_either_end():
    events = [
        fig.Event(100 * S, "up", "flap"),
        fig.Event(200 * S, "down", "a"),
        fig.Event(250 * S, "down", "b"),
        fig.Event(300 * S, "up", "ok"),
        fig.Event(900 * S, "down", "c"),
    ]
    found = fig.outages("fiber", fig.Event(-50 * S, "down", "before"), events, 0, 1000 * S)
    assert [
        (o.start_ms // S, o.end_ms and o.end_ms // S, o.reason, o.in_window_s, o.duration_s) for o in found
    ] == [
        (-50, 100, "before", 100.0, 150.0),
        (200, 300, "a", 100.0, 100.0),  # the repeated down keeps the first reason
        (900, None, "c", 100.0, 100.0),  # open at the end: counted to the window's end
    ]
    assert [o.started_before_window for o in found] == [True, False, False]
    rel = fig.reliability(found, 0, 1000 * S, up_s=700.0)
    assert (rel.failures, rel.restored, rel.downtime_s) == (2, 2, 300.0)
    assert rel.mtbf_s == (1000 - 300) / 2
    assert rel.mttr_s == (150 + 100) / 2
    assert fig.outages("4g", fig.Event(-5 * S, "up"), [], 0, 10 * S) == []
    assert fig.reliability([], 0, 10 * S, up_s=10.0).mtbf_s is None


def test_mtbf_counts_only_observed_up_time():
    # two failures in two minutes of data inside a 15-day window: MTBF is a minute, not a week
    two = [
        fig.Outage("fiber", 30 * S, 40 * S, "", 0, 15 * 86_400 * S),
        fig.Outage("fiber", 90 * S, 100 * S, "", 0, 15 * 86_400 * S),
    ]
    assert fig.reliability(two, 0, 15 * 86_400 * S, up_s=100.0).mtbf_s == 50.0


def test_lighting_weights_every_light_by_its_scheduled_time():
    per_light = {
        ("L1", "z"): {
            "expected_on_s": 100.0,
            "lit_when_expected_s": 100.0,
            "observed_s": 200.0,
            "ok_s": 200.0,
            "samples": 2,
        },
        ("L2", "z"): {
            "expected_on_s": 300.0,
            "lit_when_expected_s": 0.0,
            "observed_s": 100.0,
            "ok_s": 0.0,
            "samples": 1,
        },
    }
    out = fig.lighting(per_light, {"L2": ("lamp_failure", True)}, window_s=200.0)
    assert out.availability_pct == 25.0
    assert out.coverage == 0.75
    assert out.by_fault == {"lamp_failure": ["L2"]}
    assert [s.availability_pct for s in out.lights] == [100.0, 0.0]


def test_wifi_uses_opening_hours_when_reported():
    wifi = FIGURES["wifi.service"]
    window = Window(0, 100 * S)
    plain = ratio_evidence(wifi, {}, {"ap1": {"up_s": 90.0, "observed_s": 100.0}}, window)
    # in the words of the /wifi answer, which reads the same evidence
    assert (plain.detail["basis"], plain.value) == ("all_hours", 90.0)
    hours = ratio_evidence(
        wifi, {}, {"ap1": {"up_s": 90.0, "observed_s": 100.0, "open_s": 50.0, "up_open_s": 45.0}}, window
    )
    assert (hours.detail["basis"], hours.value) == ("opening_hours", 90.0)


def test_wifi_coverage_is_the_mean_over_access_points_never_above_one():
    wifi = FIGURES["wifi.service"]
    two = {"a": {"up_s": 100.0, "observed_s": 100.0}, "b": {"up_s": 50.0, "observed_s": 50.0}}
    assert ratio_evidence(wifi, {}, two, Window(0, 100 * S)).coverage == 0.75
    both_full = {"a": {"observed_s": 100.0}, "b": {"observed_s": 100.0}}
    assert ratio_evidence(wifi, {}, both_full, Window(0, 100 * S)).coverage == 1.0


def test_wifi_use_per_day_and_iso_week():
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    sunday = 1741453200000  # 2025-03-09 00:00 local
    use = fig.wifi_use([(sunday, 10), (sunday + 86_400_000, 20), (sunday + 2 * 86_400_000, 30)], 4, zone)
    assert [d.isoformat() for d, _ in use.days] == ["2025-03-09", "2025-03-10", "2025-03-11"]
    assert [w["week_start"] for w in use.weeks] == ["2025-03-03", "2025-03-10"]
    assert use.weeks[1]["user_days"] == 50 and use.weeks[1]["max_daily_users"] == 30
    assert (use.mean_daily_users, use.coverage) == (20.0, 0.75)


def test_a_window_touching_a_local_day_reaches_back_to_its_midnight_point():
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    midnight = 1741453200000  # 2025-03-09 00:00 local = 2025-03-08 17:00 UTC
    h = 3_600_000
    # 10:00..10:05 local: the day's point at 00:00 belongs to it, the end does not move
    assert daily_span(midnight + 10 * h, midnight + 10 * h + 300_000, zone) == (
        midnight,
        midnight + 10 * h + 300_000,
    )
    assert local_days(midnight + 10 * h, midnight + 10 * h + 300_000, zone) == 1
    # a window already starting at midnight, or ending at the next one, touches one day
    assert daily_span(midnight, midnight + 24 * h, zone) == (midnight, midnight + 24 * h)
    assert local_days(midnight, midnight + 24 * h, zone) == 1
    # 23:00 the day before .. 01:00: two days; one millisecond before midnight is still the day before
    assert local_days(midnight - h, midnight + h, zone) == 2
    assert daily_span(midnight - 1, midnight + h, zone) == (midnight - 24 * h, midnight + h)
    assert local_days(midnight - 5 * h, midnight, zone) == 1
    assert local_days(midnight, midnight, zone) == 0 and daily_span(5, 5, zone) == (5, 5)


def test_rsrp_share():
    rsrp = FIGURES["modem.rsrp_share"]
    share = ratio_evidence(
        rsrp,
        {"rsrp_min_dbm": -110},
        {"": {"rsrp_samples": 8.0, "rsrp_ge_110": 6.0}},
        Window(0, 3600 * S),
        hours=1,
    )
    assert (share.value, share.coverage) == (75.0, 1.0)
    assert ratio_evidence(rsrp, {"rsrp_min_dbm": -110}, {"": {}}, Window(0, 3600 * S), hours=0).value is None
