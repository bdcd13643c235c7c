"""Byte deltas across a station leaving, a counter reset, a 32-bit wrap and an AP reboot: never negative."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.sources.wifi.counters import ByteCounters, Reading, counter_delta


def r(key: str, rx: int | None, tx: int | None, conn: int | None = None) -> Reading:
    return Reading(key, rx, tx, conn)


def test_first_poll_sets_a_baseline_only():
    c = ByteCounters()
    assert c.update([r("a", 1000, 5000, 3600)], 60) == (0, 0)
    # ...unless the station associated within the interval: all its bytes are this interval's
    c = ByteCounters()
    assert c.update([r("a", 1000, 5000, 30)], 60) == (1000, 5000)


def test_steady_stations_and_one_joining():
    c = ByteCounters()
    c.update([r("a", 100, 200), r("b", 10, 20)], 60)
    assert c.update([r("a", 150, 260), r("b", 15, 20), r("new", 7, 9)], 60) == (50 + 5 + 7, 60 + 9)


def test_station_leaving_takes_its_bytes_with_it():
    c = ByteCounters()
    c.update([r("a", 100, 200), r("b", 10, 20)], 60)
    assert c.update([r("a", 110, 210)], 60) == (10, 10)
    # ...and coming back later counts from its new association
    assert c.update([r("a", 120, 220), r("b", 3, 4)], 60) == (10 + 3, 10 + 4)


def test_counter_reset_counts_what_was_moved_since():
    c = ByteCounters()
    c.update([r("a", 5_000_000, 9_000_000)], 60)
    assert c.update([r("a", 1_000, 2_000)], 60) == (1_000, 2_000)


def test_reassociation_seen_in_connected_time():
    c = ByteCounters()
    c.update([r("a", 5_000, 9_000, 600)], 60)
    # counters grew, but connected time restarted: the old counters are gone, these are all new
    assert c.update([r("a", 6_000, 9_500, 20)], 60) == (6_000, 9_500)


def test_32_bit_wrap():
    c = ByteCounters()
    c.update([r("a", 2**32 - 1_000, 2**32 - 10)], 60)
    assert c.update([r("a", 500, 20)], 60) == (1_500, 30)


def test_ap_reboot_resets_everyone():
    c = ByteCounters()
    c.update([r("a", 10_000, 90_000, 500), r("b", 20_000, 80_000, 900)], 60)
    assert c.update([], 60) == (0, 0)  # rebooting: nobody associated
    assert c.update([r("a", 300, 400, 10)], 60) == (300, 400)


def test_unknown_gap_drops_the_baseline():
    c = ByteCounters()
    c.update([r("a", 100, 200)], 60)
    c.invalidate()
    assert not c.has_baseline
    assert c.update([r("a", 900, 900)], 60) == (0, 0)
    assert c.update([r("a", 950, 990)], 60) == (50, 90)


def test_missing_counters_and_glitches_count_zero():
    c = ByteCounters()
    c.update([r("a", None, None)], 60)
    assert c.update([r("a", None, 50)], 60) == (0, 50)
    assert counter_delta(0, 2**50) == 0  # 1 PiB in one interval is a glitch, not traffic
    assert counter_delta(10, None) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 2**64 - 1), st.integers(0, 2**33)), max_size=40)
)
def test_never_negative(polls: list[tuple[str, int, int]]):
    c = ByteCounters()
    for key, rx, tx in polls:
        got = c.update([r(key, rx, tx)], 60)
        assert got[0] >= 0 and got[1] >= 0
