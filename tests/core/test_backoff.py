"""The one retry policy: exponential, capped, jittered, reset after a success, never under a server's minimum."""

from __future__ import annotations

import pytest

from thonminh.backoff import Backoff


def test_grows_exponentially_up_to_the_cap_with_equal_jitter():
    low = Backoff(1.0, 8.0, random_fn=lambda: 0.0)
    high = Backoff(1.0, 8.0, random_fn=lambda: 1.0)
    # half of each step is fixed, half random: never zero, never above the step
    assert [low.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [high.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_reset_starts_over_and_attempts_are_counted():
    backoff = Backoff(2.0, 100.0, random_fn=lambda: 1.0)
    assert (backoff.next(), backoff.next(), backoff.attempts) == (2.0, 4.0, 2)
    backoff.reset()
    assert (backoff.attempts, backoff.next()) == (0, 2.0)


def test_a_server_minimum_is_honoured_and_does_not_advance_past_the_cap():
    backoff = Backoff(1.0, 8.0, random_fn=lambda: 0.0)
    assert backoff.next(at_least=30.0) == 30.0  # Retry-After above the cap still wins: the server said so
    assert backoff.next(at_least=0.1) == 1.0  # a small minimum changes nothing
    assert backoff.next(at_least=None) == 2.0


def test_many_attempts_do_not_overflow():
    backoff = Backoff(1.0, 60.0, random_fn=lambda: 1.0)
    for _ in range(5000):
        delay = backoff.next()
    assert delay == 60.0


def test_jitter_spreads_real_random_delays_within_the_step():
    delays = [Backoff(4.0, 4.0).next() for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 100  # really random, not one fixed value


@pytest.mark.parametrize(("initial", "cap", "jitter"), [(0.0, 1.0, 0.5), (2.0, 1.0, 0.5), (1.0, 2.0, 1.5)])
def test_bad_parameters_are_refused(initial: float, cap: float, jitter: float):
    with pytest.raises(ValueError):
        Backoff(initial, cap, jitter=jitter)
