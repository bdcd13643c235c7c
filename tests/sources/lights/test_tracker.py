"""The tracker on a fake clock: exact interval seconds, and each fault starting and ending where it should."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from edge.sources.lights.inventory import parse_inventory
from edge.sources.lights.router import Outcome, Route, Router
from edge.sources.lights.schedule import FixedSchedule
from edge.sources.lights.tracker import LightState, LightTracker, TrackerSettings
from thonminh.contract import STREETLIGHT, Point
from thonminh.lineprotocol import encode_line

from .test_schedule import TZ, ms

INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
a,sl-a,,tasmota,z1,21.38,106.57,60,
b,sl-b,,esphome,z1,21.38,106.57,80,
c1,sl-c,1,tasmota,z2,21.38,106.57,40,
c2,sl-c,2,tasmota,z2,21.38,106.57,40,
d,sl-d,,json,z2,21.38,106.57,100,30
"""
ROUTES = [
    Route.of("{prefix:tele|stat}/{device}/#", "tasmota"),
    Route.of("esphome/{device}/#", "esphome"),
    Route.of("thonminh/light/{device}/#", "json"),
]


class Harness:
    """A tracker and router driven by an explicit clock, collecting samples by light."""

    def __init__(
        self,
        start: int,
        *,
        on: dt.time = dt.time(18),
        off: dt.time = dt.time(6),
        states: dict[str, LightState] | None = None,
        grace_s: float = 0.0,
        **settings: Any,
    ) -> None:
        # grace 0 unless a test is about the grace: the others switch lights on the very second of the schedule
        self.inventory = parse_inventory(INVENTORY, kind="csv")
        self.tracker = LightTracker(
            self.inventory,
            FixedSchedule(on, off, TZ, switch_grace_s=grace_s),
            TrackerSettings(**settings),
            start_ms=start,
            states=states,
        )
        self.rejected: list[str] = []
        self.router = Router(ROUTES, self.tracker, reject=lambda reason, sample: self.rejected.append(reason))
        self.samples: dict[str, list[dict[str, Any]]] = {}

    def send(self, at: int, topic: str, payload: str, *, retained: bool = False) -> Outcome:
        outcome = self.router.handle(topic, payload.encode(), at, retained=retained)
        self._collect()
        return outcome

    def tick(self, at: int) -> None:
        self.tracker.tick(at)
        self._collect()

    def _collect(self) -> None:
        for s in self.tracker.take_samples():
            # every sample must be a valid contract point
            encode_line(
                Point(STREETLIGHT.name, {"village": "v", "gateway": "g", **s.tags}, s.fields, s.time_ms)
            )
            self.samples.setdefault(s.light, []).append({"t": s.time_ms, **s.fields})

    def at(self, light: str, t: int) -> dict[str, Any]:
        found = [s for s in self.samples[light] if s["t"] == t]
        assert len(found) == 1, f"no single sample of {light} at {t}"
        return found[0]


def T(hour: int, minute: int, second: int = 0, day: int = 21) -> int:
    return ms(2024, 6, day, hour, minute, second)


def secs(sample: dict[str, Any]) -> tuple[float, float, float, float]:
    return sample["observed_s"], sample["expected_on_s"], sample["lit_when_expected_s"], sample["ok_s"]


def test_dark_lamp_failure_stale_and_offline_start_and_end_on_time() -> None:
    h = Harness(T(17, 58))
    h.send(T(17, 58, 10), "tele/sl-a/LWT", "Online")
    h.send(T(17, 58, 10), "stat/sl-a/POWER", "OFF")
    h.tick(T(17, 59))
    # 10 s before the first report are unknown, not counted either way
    assert secs(h.at("a", T(17, 59))) == (50.0, 0.0, 0.0, 50.0)
    assert h.at("a", T(17, 59))["fault"] == ""
    h.send(T(17, 59, 40), "tele/sl-a/STATE", '{"POWER":"OFF"}')
    h.tick(T(18, 0))
    s = h.at("a", T(18, 0))
    assert secs(s) == (60.0, 0.0, 0.0, 60.0)
    assert (s["fault"], s["expected_on"], s["on"]) == ("dark", 1, 0)  # 18:00 itself is already night
    h.send(T(18, 0, 30), "stat/sl-a/RESULT", '{"POWER":"ON"}')
    h.tick(T(18, 1))
    s = h.at("a", T(18, 1))
    assert secs(s) == (60.0, 60.0, 30.0, 30.0)
    assert (s["fault"], s["on"]) == ("", 1)
    # a meter reading 50 s after switch-on, drawing 1 W of 60: lamp failure from that moment
    h.send(
        T(18, 1, 20), "tele/sl-a/SENSOR", '{"ENERGY":{"Total":1.5,"Power":1,"Voltage":230,"Current":0.01}}'
    )
    h.tick(T(18, 2))
    s = h.at("a", T(18, 2))
    assert secs(s) == (60.0, 60.0, 20.0, 20.0)
    assert (s["fault"], s["on"], s["power_w"], s["energy_kwh"]) == ("lamp_failure", 0, 1.0, 1.5)
    h.send(
        T(18, 2, 30), "tele/sl-a/SENSOR", '{"ENERGY":{"Total":1.5,"Power":58,"Voltage":230,"Current":0.25}}'
    )
    h.tick(T(18, 3))
    assert secs(h.at("a", T(18, 3))) == (60.0, 60.0, 30.0, 30.0)
    assert h.at("a", T(18, 3))["fault"] == ""
    # silence: stale 3 x 60 s after the last report (18:02:30), i.e. at 18:05:30
    h.tick(T(18, 6))
    s = h.at("a", T(18, 6))
    assert secs(s) == (60.0, 60.0, 30.0, 30.0)
    assert (s["fault"], s["online"], s["on"]) == ("stale", 0, 0)
    assert h.at("a", T(18, 5))["fault"] == ""
    # the broker publishes the will
    h.send(T(18, 6, 10), "tele/sl-a/LWT", "Offline")
    h.tick(T(18, 7))
    s = h.at("a", T(18, 7))
    assert secs(s) == (60.0, 60.0, 0.0, 0.0)
    assert (s["fault"], s["online"]) == ("offline", 0)
    # back online and lit
    h.send(T(18, 7, 15), "tele/sl-a/LWT", "Online")
    h.send(T(18, 7, 15), "tele/sl-a/STATE", '{"POWER":"ON"}')
    h.tick(T(18, 8))
    s = h.at("a", T(18, 8))
    assert (s["fault"], s["online"], s["on"]) == ("", 1, 1)
    assert secs(s) == (60.0, 60.0, 45.0, 45.0)


def test_day_burning_across_midnight_and_dawn() -> None:
    # lights on 18:00 .. 00:00:30 (the next day): a lamp left on turns day-burning at 00:00:30
    h = Harness(T(23, 59), on=dt.time(18), off=dt.time(0, 0, 30))
    h.send(T(23, 59, 0), "esphome/sl-b/status", "online")
    h.send(
        T(23, 59, 0),
        "esphome/sl-b/light/street_light/state",
        '{"color_mode":"onoff","state":"ON","color":{}}',
    )
    h.tick(T(0, 0, day=22))
    s = h.at("b", T(0, 0, day=22))
    assert secs(s) == (60.0, 60.0, 60.0, 60.0) and s["fault"] == ""
    h.send(T(0, 0, 20, day=22), "esphome/sl-b/sensor/power/state", "79.5")
    h.tick(T(0, 1, day=22))
    s = h.at("b", T(0, 1, day=22))
    assert secs(s) == (60.0, 30.0, 30.0, 30.0)
    assert (s["fault"], s["expected_on"], s["on"], s["power_w"]) == ("day_burning", 0, 1, 79.5)
    h.send(
        T(0, 1, 45, day=22),
        "esphome/sl-b/light/street_light/state",
        '{"color_mode":"onoff","state":"OFF","color":{}}',
    )
    h.tick(T(0, 2, day=22))
    s = h.at("b", T(0, 2, day=22))
    assert secs(s) == (60.0, 0.0, 0.0, 15.0) and s["fault"] == ""


def test_shared_meter_multi_relay() -> None:
    h = Harness(T(19, 0))
    h.send(T(19, 0, 0), "tele/sl-c/STATE", '{"POWER1":"ON","POWER2":"ON"}')
    h.send(
        T(19, 0, 20), "tele/sl-c/SENSOR", '{"ENERGY":{"Total":7.5,"Power":79,"Voltage":229,"Current":0.35}}'
    )
    h.tick(T(19, 1))
    c1, c2 = h.at("c1", T(19, 1)), h.at("c2", T(19, 1))
    assert c1["fault"] == c2["fault"] == ""
    assert c1["power_w"] == 79.0 and "power_w" not in c2  # one meter, written once
    h.send(
        T(19, 1, 10), "tele/sl-c/SENSOR", '{"ENERGY":{"Total":7.5,"Power":10,"Voltage":229,"Current":0.05}}'
    )
    h.tick(T(19, 2))
    assert h.at("c1", T(19, 2))["fault"] == h.at("c2", T(19, 2))["fault"] == "lamp_failure"
    # per-channel meters (Shelly 2.5): each lamp judged on its own
    h.send(
        T(19, 2, 10),
        "tele/sl-c/SENSOR",
        '{"ENERGY":{"Total":7.5,"Power":[39,2],"Voltage":229,"Current":[0.17,0.01]}}',
    )
    h.tick(T(19, 3))
    assert (h.at("c1", T(19, 3))["fault"], h.at("c2", T(19, 3))["fault"]) == ("", "lamp_failure")
    assert h.at("c2", T(19, 3))["power_w"] == 2.0


def test_dimmed_lamp_is_judged_against_its_level() -> None:
    h = Harness(T(20, 0))
    h.send(T(20, 0, 0), "stat/sl-a/RESULT", '{"POWER":"ON","Dimmer":25}')
    h.send(T(20, 0, 30), "tele/sl-a/SENSOR", '{"ENERGY":{"Power":14}}')  # 14 W of 15 expected at 25 %
    h.tick(T(20, 1))
    assert h.at("a", T(20, 1))["fault"] == ""


def test_device_reported_faults_and_seq() -> None:
    h = Harness(T(19, 0))
    state = '{{"seq":{seq},"boot":7,"on":true,"faults":{faults}}}'
    assert (
        h.send(T(19, 0, 0), "thonminh/light/sl-d/state", state.format(seq=1, faults="[]")) is Outcome.APPLIED
    )
    assert (
        h.send(T(19, 0, 5), "thonminh/light/sl-d/state", state.format(seq=2, faults='["lamp_failure"]'))
        is Outcome.APPLIED
    )
    # redelivered after a crash: dropped, and nothing counted twice
    assert (
        h.send(T(19, 0, 6), "thonminh/light/sl-d/state", state.format(seq=2, faults='["lamp_failure"]'))
        is Outcome.DUPLICATE
    )
    h.tick(T(19, 1))
    assert h.at("d", T(19, 1))["fault"] == "lamp_failure"
    assert secs(h.at("d", T(19, 1))) == (60.0, 60.0, 5.0, 5.0)
    h.send(T(19, 1, 0), "thonminh/light/sl-d/state", state.format(seq=5, faults="[]"))
    st = h.tracker.states["d"]
    assert (st.seq, st.seq_gaps, st.reports) == (5, 2, 3)
    # a new boot restarts the counter without a gap
    h.send(T(19, 1, 1), "thonminh/light/sl-d/state", '{"seq":0,"boot":8,"on":true}')
    assert (st.seq, st.boot, st.seq_gaps) == (0, "8", 2)


def test_unknown_devices_rejects_and_ignored_are_counted_and_refused_with_their_reason() -> None:
    h = Harness(T(19, 0))
    assert h.send(T(19, 0, 1), "tele/stranger/STATE", '{"POWER":"ON"}') is Outcome.UNKNOWN_DEVICE
    assert h.send(T(19, 0, 2), "tele/stranger/STATE", '{"POWER":"ON"}') is Outcome.UNKNOWN_DEVICE
    assert h.send(T(19, 0, 3), "tele/sl-a/STATE", "{not json") is Outcome.REJECTED
    assert h.send(T(19, 0, 4), "somewhere/else", "x") is Outcome.IGNORED
    stats = h.router.stats
    assert (stats.messages, stats.unknown_device, stats.rejected, stats.ignored) == (4, 2, 1, 1)
    assert list(stats.recent_unknown) == ["stranger"]
    assert h.rejected == [
        "unknown_device: 'stranger' is not in the light inventory (topic tele/stranger/STATE)",
        "unknown_device: 'stranger' is not in the light inventory (topic tele/stranger/STATE)",
        "bad_payload: tasmota tele/sl-a/STATE: tasmota STATE: not JSON (Expecting property name enclosed in "
        "double quotes: line 1 column 2 (char 1))",
        "ignored_topic: somewhere/else: no route",
    ]


def test_retained_messages_do_not_prove_the_device_alive() -> None:
    h = Harness(T(19, 0), report_period_s=10, stale_multiple=2)
    h.send(T(19, 0, 0), "tele/sl-a/STATE", '{"POWER":"ON"}', retained=True)
    h.tick(T(19, 1))
    s = h.at("a", T(19, 1))
    # never heard live: unknown during the 20 s grace, then stale
    assert s["fault"] == "stale" and secs(s) == (40.0, 40.0, 0.0, 0.0)


def test_restart_from_journal_and_graceful_flush() -> None:
    h = Harness(T(19, 0))
    h.send(T(19, 0, 10), "stat/sl-a/POWER", "ON")
    journal = {k: LightState.from_json(v) for k, v in h.tracker.take_dirty().items()}
    assert set(journal) == {"a"}
    # the agent restarts 20 s later: the light's state is known at once, the gap is not counted
    h2 = Harness(T(19, 0, 30), states=journal)
    h2.tracker.flush(T(19, 0, 45))
    (s,) = [x for x in h2.tracker.take_samples() if x.light == "a"]
    assert s.time_ms == T(19, 0, 45) and s.fields["observed_s"] == 15.0 and s.fields["on"] == 1
    h2.tick(T(19, 1))
    h2.tick(T(19, 2))
    assert secs(h2.at("a", T(19, 1))) == (15.0, 15.0, 15.0, 15.0)
    assert secs(h2.at("a", T(19, 2))) == (60.0, 60.0, 60.0, 60.0)


def test_clock_jump_restarts_instead_of_accounting_hours() -> None:
    h = Harness(T(19, 0), max_gap_s=600)
    h.send(T(19, 0, 10), "stat/sl-a/POWER", "ON")
    h.tick(T(19, 1))
    h.tick(T(23, 0))  # the wall clock jumped four hours (first NTP sync after a cold boot)
    assert h.tracker.discontinuities == 1
    assert len(h.samples["a"]) == 1
    h.tick(T(23, 1))
    assert h.at("a", T(23, 1))["observed_s"] == 60.0


@pytest.mark.parametrize("light", ["a", "b", "c1", "c2", "d"])
def test_every_light_gets_one_sample_per_interval(light: str) -> None:
    h = Harness(T(19, 0, 30))
    for minute in range(1, 6):
        h.tick(T(19, minute))
    assert [s["t"] for s in h.samples[light]] == [T(19, m) for m in range(1, 6)]
    assert h.samples[light][0]["observed_s"] == 0.0  # nothing heard yet: unknown, not down
