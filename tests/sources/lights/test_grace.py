"""The grace around each scheduled switch, on a fake clock: faults start and end where they should.

Schedule 18:00 .. 06:00 with a 90 s grace, so the windows are [17:58:30, 18:01:30) and [05:58:30, 06:01:30):
inside them a light is expected in whatever state its relay is in. Samples every 60 s; reports keep the
light fresh (``report_period_s`` one hour), so only the schedule decides.
"""

from __future__ import annotations

import datetime as dt

import pytest

from edge.sources.lights.config import AstralScheduleConfig, FixedScheduleConfig
from edge.sources.lights.schedule import DEFAULT_SWITCH_GRACE_S, FixedSchedule

from .test_schedule import TZ
from .test_tracker import Harness, T, secs

GRACE = 90.0


def light(start: int, state: str, *, grace_s: float = GRACE) -> Harness:
    """Light ``a`` online and reporting ``state`` (ON/OFF) from ``start``."""
    h = Harness(start, grace_s=grace_s, report_period_s=3600)
    h.send(start, "tele/sl-a/LWT", "Online")
    h.send(start, "stat/sl-a/POWER", state)
    return h


def switch(h: Harness, at: int, state: str) -> None:
    h.send(at, "stat/sl-a/RESULT", f'{{"POWER":"{state}"}}')


def faults(h: Harness) -> dict[int, str]:
    return {s["t"]: s["fault"] for s in h.samples["a"]}


def test_schedule_grace_windows_around_dusk_and_dawn() -> None:
    schedule = FixedSchedule(dt.time(18), dt.time(6), TZ, switch_grace_s=GRACE)
    assert [schedule.lenient(t) for t in (T(17, 58, 29), T(17, 58, 30), T(18, 1, 29), T(18, 1, 30))] == [
        False,
        True,
        True,
        False,
    ]
    assert schedule.lenient(T(5, 58, 30, day=22)) and not schedule.lenient(T(6, 1, 30, day=22))
    assert schedule.cuts(T(17, 0), T(19, 0)) == [T(17, 58, 30), T(18, 0), T(18, 1, 30)]
    assert schedule.stretch(T(18, 1)) == (T(18, 0), T(18, 1, 30), True, True)
    assert schedule.stretch(T(12, 0))[1:] == (T(17, 58, 30), False, False)
    exact = FixedSchedule(dt.time(18), dt.time(6), TZ, switch_grace_s=0)
    assert not exact.lenient(T(18, 0)) and exact.cuts(T(17, 0), T(19, 0)) == [T(18, 0)]
    assert exact.stretch(T(18, 1)) == (*exact.span(T(18, 1)), False)
    with pytest.raises(ValueError, match="switch_grace_s"):
        FixedSchedule(dt.time(18), dt.time(6), TZ, switch_grace_s=-1)


def test_dark_at_dusk_starts_when_the_grace_ends() -> None:
    h = light(T(17, 57), "OFF")
    h.tick(T(18, 5))
    assert faults(h) == {
        T(17, 58): "",
        T(17, 59): "",
        T(18, 0): "",
        T(18, 1): "",
        T(18, 2): "dark",
        T(18, 3): "dark",
        T(18, 4): "dark",
        T(18, 5): "dark",
    }
    # off while either state is as scheduled: neither expected on nor faulted, and ok
    assert secs(h.at("a", T(18, 1))) == (60.0, 0.0, 0.0, 60.0)
    assert secs(h.at("a", T(18, 2))) == (60.0, 30.0, 0.0, 30.0)  # dark from 18:01:30
    switch(h, T(18, 5, 15), "ON")
    h.tick(T(18, 7))
    assert secs(h.at("a", T(18, 6))) == (60.0, 60.0, 45.0, 45.0)
    assert faults(h)[T(18, 6)] == faults(h)[T(18, 7)] == ""


def test_a_light_switching_on_inside_the_grace_is_never_faulted() -> None:
    late = light(T(17, 57), "OFF")
    switch(late, T(18, 1), "ON")  # one minute after dusk
    late.tick(T(18, 3))
    assert set(faults(late).values()) == {""}
    assert secs(late.at("a", T(18, 1))) == (60.0, 0.0, 0.0, 60.0)
    assert secs(late.at("a", T(18, 2))) == (60.0, 60.0, 60.0, 60.0)
    early = light(T(17, 57), "OFF")
    switch(early, T(17, 58), "ON")  # two minutes early: day-burning until the grace begins at 17:58:30
    early.tick(T(18, 1))
    assert set(faults(early).values()) == {""}
    # lit inside the grace before dusk counts as expected and lit, so availability stays lit/expected
    assert secs(early.at("a", T(17, 59))) == (60.0, 30.0, 30.0, 30.0)
    assert secs(early.at("a", T(18, 0))) == (60.0, 60.0, 60.0, 60.0)


def test_day_burning_at_dawn_starts_when_the_grace_ends_and_ends_at_switch_off() -> None:
    h = light(T(5, 57, day=22), "ON")
    h.tick(T(6, 3, day=22))
    assert [faults(h)[T(6, m, day=22)] for m in range(4)] == ["", "", "day_burning", "day_burning"]
    # still on inside the grace after dawn: expected on and lit; day-burning from 06:01:30
    assert secs(h.at("a", T(6, 1, day=22))) == (60.0, 60.0, 60.0, 60.0)
    assert secs(h.at("a", T(6, 2, day=22))) == (60.0, 30.0, 30.0, 30.0)
    switch(h, T(6, 3, 20, day=22), "OFF")
    h.tick(T(6, 5, day=22))
    assert faults(h)[T(6, 4, day=22)] == faults(h)[T(6, 5, day=22)] == ""
    assert secs(h.at("a", T(6, 4, day=22))) == (60.0, 0.0, 0.0, 40.0)


@pytest.mark.parametrize(("grace_s", "at_dawn"), [(0.0, "day_burning"), (GRACE, "")])
def test_switching_off_on_the_sample_at_dawn(grace_s: float, at_dawn: str) -> None:
    # The sample at 06:00 is closed before the message of the same millisecond is applied: exact switching
    # (grace 0) shows one sample of day_burning, the grace does not.
    h = light(T(5, 58, day=22), "ON", grace_s=grace_s)
    switch(h, T(6, 0, day=22), "OFF")
    h.tick(T(6, 2, day=22))
    assert [faults(h)[T(6, m, day=22)] for m in range(3)] == [at_dawn, "", ""]
    assert secs(h.at("a", T(6, 0, day=22))) == (60.0, 60.0, 60.0, 60.0)


def test_switching_off_early_inside_the_grace_before_dawn_is_not_dark() -> None:
    h = light(T(5, 57, day=22), "ON")
    switch(h, T(5, 59, day=22), "OFF")
    h.tick(T(6, 1, day=22))
    assert set(faults(h).values()) == {""}
    assert secs(h.at("a", T(6, 0, day=22))) == (60.0, 0.0, 0.0, 60.0)


def test_switch_grace_s_in_config() -> None:
    assert AstralScheduleConfig().switch_grace_s == DEFAULT_SWITCH_GRACE_S == 120.0
    fixed = FixedScheduleConfig(mode="fixed", on=dt.time(18), off=dt.time(6), switch_grace_s=0)
    assert fixed.build(21.38, 106.57, TZ).grace_ms == 0
    assert AstralScheduleConfig(switch_grace_s=30).build(21.38, 106.57, TZ).grace_ms == 30_000
    with pytest.raises(ValueError, match="switch_grace_s"):
        FixedScheduleConfig(mode="fixed", on=dt.time(18), off=dt.time(6), switch_grace_s=-5)
