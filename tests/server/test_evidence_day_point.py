"""The hour of a local midnight stays open all day: ``wifi_daily`` is stamped there and rewritten (each rewrite
signed by a manifest stamped in that hour too) until the day ends, so a result of that hour is not settled two
hours after the hour closed, as other hours are, but two hours after the day it stands for.

Before, the verifier kept that hour's result from two hours after midnight on: the day's later rewrites and their
manifests were never read, so the chain of the live hours around them showed a gap per rewrite (a false
``missing_seq``, "batch deleted"), and a forged value of the day's point was not seen until the sweep.

A village's open hours (that one and the last ones) are also one reading: read minutes apart, by different
windows or requests, they disagree in the same way; and read per window, windows asked in turn read them again
each time."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from signed_kit import SITE, VILLAGE, Gateway, register, registry_at, uplink_points
from test_evidence_sweep import Clock, CountingClient

from server.evidence.hourly import Verifier
from server.evidence.source import HOUR_MS
from server.plan import local_day_start
from server.queries import Source
from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

NOW = int(time.time() * 1000)
#: yesterday's local midnight: the day's point is stamped there; its live hours are 10 and 11 hours later
MIDNIGHT = local_day_start(NOW - 24 * HOUR_MS, ZoneInfo("Asia/Ho_Chi_Minh"))
LIVE = MIDNIGHT + 10 * HOUR_MS
WINDOW = (MIDNIGHT, LIVE + 2 * HOUR_MS)


def _day(users: int) -> Point:
    return Point(
        "wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": users, "sessions": 1}, MIDNIGHT
    )


def _minutes(influx: InfluxClient, gw: Gateway, start_ms: int, minutes: int) -> None:
    """A gateway's minutes: each one's live sample, then the day's point rewritten, as its forwarder sends them."""
    for minute in range(minutes):
        at = start_ms + minute * 60_000
        influx.write(gw.sign(uplink_points(at, 1, step_s=3600)) + gw.sign([_day(minute)]))


def test_the_days_rewrites_later_in_the_day_leave_no_gap_and_are_checked(influx, tmp_path) -> None:
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=MIDNIGHT - HOUR_MS)
    clock = Clock(
        (LIVE + HOUR_MS + 30 * 60_000) / 1000
    )  # 10.5 hours after midnight: that hour closed long ago
    verifier = Verifier(influx, lambda m: Source(influx.database or "", None, m), registry, clock=clock)
    _minutes(influx, gw, LIVE, 3)
    first = verifier.verify(VILLAGE, *WINDOW)
    assert first.faults == () and first.of("wifi_daily") == (1, 1)
    # an hour later the day goes on: more live minutes, each followed by the day's point rewritten
    _minutes(influx, gw, LIVE + HOUR_MS, 3)
    clock.now_s += 3600
    later = verifier.verify(VILLAGE, *WINDOW)
    assert [f.kind for f in later.faults] == []
    assert later.of("uplink") == (6, 6) and later.of("wifi_daily") == (1, 1)
    # and the day's point forged now (InfluxDB keeps its evidence_seq) is seen at the next read, not a sweep later
    influx.write([encode_line(_day(999))])
    clock.now_s += 600
    forged = verifier.verify(VILLAGE, *WINDOW)
    assert forged.of("wifi_daily") == (1, 0)
    assert [(f.kind, f.start_ms) for f in forged.faults] == [("altered", MIDNIGHT)]


def test_the_open_hours_of_a_window_are_read_together(influx, tmp_path) -> None:
    """The midnight hour and the live hours are all open: results of them read minutes apart disagree (the
    rewrites read in one, their live neighbours missing from the other) and the chain showed a false gap."""
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=MIDNIGHT - HOUR_MS)
    clock = Clock((LIVE + 10 * 60_000) / 1000)  # ten minutes into the live hour
    verifier = Verifier(influx, lambda m: Source(influx.database or "", None, m), registry, clock=clock)
    _minutes(influx, gw, LIVE, 3)
    assert (
        verifier.verify(VILLAGE, LIVE, LIVE + HOUR_MS).faults == ()
    )  # the live hour read, and kept 5 minutes
    _minutes(influx, gw, LIVE + 3 * 60_000, 3)
    clock.now_s += 120
    found = verifier.verify(VILLAGE, MIDNIGHT, LIVE + HOUR_MS)  # the midnight hour read now
    assert [f.kind for f in found.faults] == []
    assert found.of("uplink") == (6, 6) and found.of("wifi_daily") == (1, 1)


def test_open_hours_read_by_different_windows_are_read_again_together(influx, tmp_path) -> None:
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=MIDNIGHT - HOUR_MS)
    clock = Clock((LIVE + 10 * 60_000) / 1000)
    verifier = Verifier(influx, lambda m: Source(influx.database or "", None, m), registry, clock=clock)
    _minutes(influx, gw, LIVE, 3)
    verifier.verify(VILLAGE, LIVE, LIVE + HOUR_MS)  # the live hour, read now
    _minutes(influx, gw, LIVE + 3 * 60_000, 3)
    clock.now_s += 120
    verifier.verify(
        VILLAGE, MIDNIGHT, LIVE
    )  # the midnight hour and the hours to the live one, two minutes on
    found = verifier.verify(VILLAGE, MIDNIGHT, LIVE + HOUR_MS)  # both cached, from two readings
    assert [f.kind for f in found.faults] == []
    assert found.of("uplink") == (6, 6) and found.of("wifi_daily") == (1, 1)


def test_windows_asked_in_turn_share_one_reading_of_the_open_hours(influx, tmp_path) -> None:
    """Two windows sharing open hours, each with one of its own: read per window, each request made the other's
    open hours disagree and read them again, a second of verification per request, in turn forever."""
    registry = registry_at(tmp_path)
    gw = Gateway()
    register(registry, gw, valid_from_ms=MIDNIGHT - HOUR_MS)
    clock = Clock((LIVE + HOUR_MS + 10 * 60_000) / 1000)  # ten minutes into the hour after the live one
    counting = CountingClient(influx)
    verifier = Verifier(counting, lambda m: Source(influx.database or "", None, m), registry, clock=clock)  # type: ignore[arg-type]
    _minutes(influx, gw, LIVE, 3)
    _minutes(influx, gw, LIVE + HOUR_MS, 3)
    day, recent = (
        (MIDNIGHT, LIVE + HOUR_MS),
        (LIVE, LIVE + 2 * HOUR_MS),
    )  # the running hour in the second only
    for window in (day, recent):
        assert verifier.verify(VILLAGE, *window).faults == ()
        clock.now_s += 30
    before = counting.queries
    for window in (day, recent, day, recent):
        found = verifier.verify(VILLAGE, *window)
        assert found.faults == ()
        clock.now_s += 30
    assert counting.queries == before
