"""The link state machine: hysteresis, and transitions dated at the first cycle of the run that caused them."""

from __future__ import annotations

import pytest

from edge.sources.uplink.state import LinkState


def feed(machine: LinkState, results: str, *, interval: float = 10.0, t0_ms: int = 0):
    """Feed 'u'/'d' cycle results every ``interval`` s; return the transitions with their cycle index."""
    out = []
    for i, r in enumerate(results):
        t = machine.observe(
            r == "u", at_ms=t0_ms + int(i * interval * 1000), at_mono=i * interval, reason=f"cycle {i}"
        )
        if t is not None:
            out.append((i, t))
    return out


def test_start_is_reported_once_established_and_dated_at_its_first_cycle():
    machine = LinkState(down_after=3, up_after=2)
    [(i, t)] = feed(machine, "uuuu")
    assert (i, t.state, t.reason, t.at_ms, t.previous_state_s) == (1, "up", "start", 0, None)


def test_down_after_n_failures_dated_at_the_first_failure():
    machine = LinkState(down_after=3, up_after=2)
    events = feed(machine, "uuuddduuu")
    assert [(i, t.state) for i, t in events] == [(1, "up"), (5, "down"), (7, "up")]
    down, up = events[1][1], events[2][1]
    assert down.at_ms == 30_000 and down.reason == "cycle 3"  # the first failed cycle, not the third
    assert down.previous_state_s == 30.0  # up from 0 s to 30 s
    assert up.at_ms == 60_000 and up.previous_state_s == 30.0  # down from 30 s to 60 s: exact to a cycle


def test_short_blips_below_the_thresholds_make_no_event():
    machine = LinkState(down_after=3, up_after=2)
    events = feed(machine, "uuduudduuu")
    assert [t.state for _, t in events] == ["up"]


def test_recovery_needs_up_after_consecutive_good_cycles():
    machine = LinkState(down_after=1, up_after=3)
    events = feed(machine, "ududuudduuu")
    assert [(i, t.state) for i, t in events] == [(1, "down"), (10, "up")]
    assert events[1][1].at_ms == 80_000


def test_a_link_down_at_start_is_reported_down():
    machine = LinkState(down_after=2, up_after=2)
    [(i, t)] = feed(machine, "dd")
    assert (i, t.state, t.reason, t.previous_state_s) == (1, "down", "start", None)


@pytest.mark.parametrize(("down_after", "up_after"), [(0, 1), (1, 0)])
def test_thresholds_must_be_positive(down_after: int, up_after: int):
    with pytest.raises(ValueError):
        LinkState(down_after=down_after, up_after=up_after)
