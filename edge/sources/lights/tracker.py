"""Per-light state, faults and the ``streetlight`` interval samples.

Messages change a light's state; time passes between them. Every state change first closes the stretch
since the previous one, split at dusk/dawn and at the moment the light would go stale, so the interval seconds
are exact sums over constant stretches, never a guess from the state at the end. At every cadence boundary
``T`` (a multiple of the interval in UTC) each light gets one sample for ``(T - observed_s, T]``.

Per stretch a light is one of:

- unobserved: never heard from since the tracker started and still within the grace period, or online with
  its relay state unknown. Not counted in ``observed_s``: the contract says unknown time is neither up nor down;
- offline (the LWT says so) or stale (no report for ``stale_multiple`` report periods): observed, expected
  as usual, never lit, never ok: a light nobody can vouch for is not a working light;
- known: ``lit`` = switched on and not ``lamp_failure``; ok when lit exactly while expected on. Within the
  schedule's grace around a switch (``Schedule.lenient``) a known light is expected to be in the state its relay
  is in: switched off it is neither ``dark`` nor counted in ``expected_on_s``; switched on it is not
  ``day_burning`` and counts in ``expected_on_s`` (and, unless its lamp failed, ``lit_when_expected_s``);
  either way the seconds are ok. ``expected_on`` stays the schedule's own value.

``fault`` and ``on``/``online``/``expected_on`` describe the end of the interval. Priority when several apply:
offline, stale, lamp_failure, dark, day_burning.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from edge.sources.lights.inventory import Inventory, LightSpec
from edge.sources.lights.observation import Meter, Observation
from edge.sources.lights.schedule import Schedule
from edge.sources.lights.state import (
    DARK,
    DAY_BURNING,
    EXPECTED_ON,
    EXPECTED_ON_S,
    FAULT,
    KNOWN_STATUS,
    LAMP_FAILURE,
    LIT_WHEN_EXPECTED_S,
    METER_FIELDS,
    OBSERVED_S,
    OFFLINE_STATUS,
    OK_S,
    ON,
    ONLINE,
    STALE_STATUS,
    UNOBSERVED,
    LightState,
    Sample,
    Status,
    TrackedDevice,
    TrackedLight,
)

__all__ = ["Applied", "LightState", "Sample", "Status", "TrackerSettings", "LightTracker"]


#: Device-reported faults that mean the lamp cannot light.
_LAMP_DOWN: Final = frozenset({"lamp_failure", "control_gear_failure"})
_BACKWARD_TOLERANCE_MS: Final = 2_000


class Applied(Enum):
    """What an observation did."""

    APPLIED = "applied"
    UNKNOWN_DEVICE = "unknown_device"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    interval_s: float = 60.0
    report_period_s: float = 60.0
    stale_multiple: float = 3.0
    lamp_failure_share: float = 0.3
    lamp_failure_settle_s: float = 10.0
    #: A wall-clock jump (or stall) longer than this restarts the interval instead of being accounted.
    max_gap_s: float = 600.0


class LightTracker:
    """Keeps every light's state and turns time into interval samples. Not thread-safe; pure given times."""

    def __init__(
        self,
        inventory: Inventory,
        schedule: Schedule,
        settings: TrackerSettings,
        *,
        start_ms: int,
        states: Mapping[str, LightState] | None = None,
    ) -> None:
        self.inventory = inventory
        self.schedule = schedule
        self.settings = settings
        self.interval_ms = round(settings.interval_s * 1000)
        self._max_gap_ms = settings.max_gap_s * 1000
        self.states = {light.id: (states or {}).get(light.id) or LightState() for light in inventory}
        self._lights = [
            TrackedLight(
                light,
                self.states[light.id],
                round((light.report_s or settings.report_period_s) * settings.stale_multiple * 1000),
                start_ms,
            )
            for light in inventory
        ]
        self._by_id = {light.spec.id: light for light in self._lights}
        self._devices = {
            device: TrackedDevice.of(tuple(self._by_id[s.id] for s in specs))
            for device, specs in inventory.devices().items()
        }
        self._ready: list[Sample] = []
        self._dirty: set[str] = set()
        self._span = (0, 0, False, False)
        self.discontinuities = 0
        self._restart(start_ms)

    # -- time ------------------------------------------------------------------------------------------------

    def _restart(self, t_ms: int) -> None:
        self.start_ms = t_ms
        self._last_ms = t_ms
        self._next_ms = (t_ms // self.interval_ms + 1) * self.interval_ms
        for light in self._lights:
            light.reset(t_ms)

    def tick(self, t_ms: int) -> None:
        """Let time pass: closes every interval whose boundary is at or before ``t_ms``."""
        if t_ms < self._last_ms - _BACKWARD_TOLERANCE_MS or t_ms - self._last_ms > self._max_gap_ms:
            # The wall clock jumped (first NTP sync after boot) or the agent stalled: start afresh rather than
            # account hours nobody watched.
            self.discontinuities += 1
            self._restart(t_ms)
            return
        while t_ms >= self._next_ms:
            boundary = self._next_ms
            for light in self._lights:
                self._advance(light, boundary)
                self._ready.append(self._sample(light, boundary))
                light.reset(boundary)
            self._next_ms += self.interval_ms
        self._last_ms = max(self._last_ms, t_ms)

    def flush(self, t_ms: int) -> None:
        """Close the running interval early at ``t_ms`` (graceful stop), so its part is not lost."""
        self.tick(t_ms)
        if t_ms <= self.start_ms or any(light.since_ms >= t_ms for light in self._lights):
            return
        for light in self._lights:
            self._advance(light, t_ms)
            self._ready.append(self._sample(light, t_ms))
            light.reset(t_ms)

    @property
    def next_boundary_ms(self) -> int:
        return self._next_ms

    def take_samples(self) -> list[Sample]:
        """Samples of the intervals closed so far, oldest first; each is handed out once."""
        ready, self._ready = self._ready, []
        return ready

    def current_faults(self, samples: Iterable[Sample]) -> dict[str, str]:
        """Each light's fault as the API lists it (``/lighting``'s ``by_fault``, docs/api.md), after
        ``samples``: its newest sample's, else that of its newest sample taken in the dark. A lamp failure shows
        only in the dark: by day a failed lamp is switched off on schedule and its samples say nothing is wrong,
        so the failure stands until a sample in the dark shows the lamp working. Every light is sampled every
        interval, so that sample is last night's, within the API's look-back
        (``thonminh.figures.LIGHT_FAULT_LOOKBACK_S``)."""
        return {s.light: str(s.fields.get(FAULT) or "") or self.states[s.light].dark_fault for s in samples}

    def take_dirty(self) -> dict[str, dict[str, Any]]:
        """The journal rows of lights changed since the last call."""
        dirty = {light_id: self.states[light_id].to_json() for light_id in sorted(self._dirty)}
        self._dirty.clear()
        return dirty

    # -- messages --------------------------------------------------------------------------------------------

    def apply(self, obs: Observation, t_ms: int, *, retained: bool = False) -> Applied:
        """Apply one observation received at ``t_ms``. ``retained``: replayed by the broker, age unknown."""
        self.tick(t_ms)
        device = self._devices.get(obs.device)
        if device is None:
            return Applied.UNKNOWN_DEVICE
        first = device.lights[0].state
        if (
            obs.seq is not None
            and obs.boot is not None
            and first.boot == obs.boot
            and first.seq is not None
            and obs.seq <= first.seq
        ):
            return Applied.DUPLICATE  # redelivered after a crash between commit and acknowledgement
        alive = obs.alive and not retained
        for light in device.lights:
            self._advance(light, t_ms)
            _note_report(light.state, obs, t_ms, alive)
        for channel, on in obs.relays.items():
            target = device.resolve(channel)
            if target is not None:
                if on and target.state.on is not True:
                    target.state.on_since_ms = t_ms
                target.state.on = on
        for channel, level in obs.levels.items():
            target = device.resolve(channel)
            if target is not None:
                target.state.level = level
        for meter_channel, meter in obs.meters.items():
            shared = meter_channel is None and len(device.lights) > 1
            for target in device.targets(meter_channel):
                _read_meter(target.state, meter, t_ms, shared)
        if obs.faults:
            for target in device.targets(obs.fault_channel):
                present = set(target.state.faults) | {k for k, v in obs.faults.items() if v}
                target.state.faults = sorted(present - {k for k, v in obs.faults.items() if not v})
        self._dirty.update(device.ids)
        return Applied.APPLIED

    # -- accounting ------------------------------------------------------------------------------------------

    def _expected(self, t_ms: int) -> bool:
        """The schedule's expectation at ``t_ms``; leaves ``self._span`` on the stretch holding it."""
        lo, hi, expected, _ = self._span
        if not lo <= t_ms < hi:
            self._span = lo, hi, expected, _ = self.schedule.stretch(t_ms)
        return expected

    def _advance(self, light: TrackedLight, t_ms: int) -> None:
        """Account the light's time from where it was up to ``t_ms``, stretch by stretch of constant state."""
        start = light.since_ms
        if t_ms <= start:
            return
        st = light.state
        deadline = (st.last_report_ms if st.last_report_ms is not None else self.start_ms) + light.stale_ms
        lo, hi, _, _ = self._span
        cuts = [] if lo <= start < t_ms <= hi else self.schedule.cuts(start, t_ms)
        if start < deadline < t_ms:
            cuts = sorted([*cuts, deadline])
        for a, b in itertools.pairwise([start, *cuts, t_ms]):
            _account(light, *self._judge(light, a), b - a)
        light.since_ms = t_ms

    def status(self, light: LightSpec, t_ms: int) -> Status:
        """The light's status at ``t_ms`` given what is known now."""
        return self._judge(self._by_id[light.id], t_ms)[0]

    def _judge(self, light: TrackedLight, t_ms: int) -> tuple[Status, bool]:
        """The light's status at ``t_ms`` and whether it was expected on then (see the module's docstring)."""
        lo, hi, expected, grace = self._span
        if not lo <= t_ms < hi:
            expected = self._expected(t_ms)
            grace = self._span[3]
        st = light.state
        if st.online is False:
            return OFFLINE_STATUS, expected
        stale_ms = light.stale_ms
        if st.last_report_ms is None:
            return (UNOBSERVED if t_ms < self.start_ms + stale_ms else STALE_STATUS), expected
        if t_ms >= st.last_report_ms + stale_ms:
            return STALE_STATUS, expected
        if st.on is None:
            return UNOBSERVED, expected
        if grace:
            expected = (
                st.on
            )  # within the grace around a switch: whichever state the relay is in is as scheduled
        failed = st.on and self._lamp_failed(light, st)
        lit = st.on and not failed
        if failed:
            fault = LAMP_FAILURE
        elif expected and not st.on:
            fault = DARK
        elif lit and not expected:
            fault = DAY_BURNING
        else:
            fault = ""
        return KNOWN_STATUS[lit, fault], expected

    def _lamp_failed(self, light: TrackedLight, st: LightState) -> bool:
        if not _LAMP_DOWN.isdisjoint(st.faults):
            return True
        if st.power_w is None or st.power_ms is None:
            return False
        if st.shared_meter:
            # One meter for several lights: compare with what all the lit ones should draw together.
            lit = [x for x in self._devices[light.spec.device].lights if x.state.on]
            rated = sum(_rated(x.spec, x.state) for x in lit)
            switched_on = max(x.state.on_since_ms or 0 for x in lit)
        else:
            rated, switched_on = _rated(light.spec, st), st.on_since_ms or 0
        if st.power_ms < switched_on + self.settings.lamp_failure_settle_s * 1000:
            return False  # the reading predates the switch-on (or the lamp is still warming up)
        return st.power_w < self.settings.lamp_failure_share * rated

    def _sample(self, light: TrackedLight, boundary: int) -> Sample:
        st = light.state
        status = self._judge(light, boundary)[0]
        if self._expected(boundary) and st.dark_fault != status.fault:
            st.dark_fault = status.fault  # journaled when it changes, not every night's interval
            self._dirty.add(light.spec.id)
        values: dict[str, int | float | str] = {
            ON: int(status.lit),
            ONLINE: int(status.online),
            EXPECTED_ON: int(self._expected(boundary)),
            OBSERVED_S: light.observed / 1000,
            EXPECTED_ON_S: light.expected / 1000,
            LIT_WHEN_EXPECTED_S: light.lit_expected / 1000,
            OK_S: light.ok / 1000,
            FAULT: status.fault,
        }
        spec = light.spec
        # A meter shared by several lights is written once, on the device's first light, so sums stay right.
        if not st.shared_meter or self._devices[spec.device].lights[0] is light:
            for name in METER_FIELDS:
                value = getattr(st, name)
                if value is not None:
                    values[name] = float(value)
        return Sample(spec.id, spec.zone, boundary, values)


def _account(light: TrackedLight, status: Status, expected: bool, d: int) -> None:
    if status.observed:
        light.observed += d
        if expected:
            light.expected += d
            if status.lit:
                light.lit_expected += d
        if status.known and status.lit == expected:
            light.ok += d


def _rated(light: LightSpec, st: LightState) -> float:
    """What the lamp should draw: rated power, scaled by the dimming level when it is dimmed."""
    if st.level is not None and 0 < st.level < 100:
        return light.rated_w * st.level / 100
    return light.rated_w


def _note_report(st: LightState, obs: Observation, t_ms: int, alive: bool) -> None:
    """What every message of a device says about each of its lights: reachable, reporting, its sequence."""
    st.reports += 1
    if obs.online is not None:
        st.online = obs.online
    if alive:
        st.last_report_ms = t_ms
        if obs.online is None:
            st.online = True
    if obs.seq is not None:
        if obs.boot is not None and st.boot == obs.boot and st.seq is not None and obs.seq > st.seq + 1:
            st.seq_gaps += obs.seq - st.seq - 1
        st.seq, st.boot = obs.seq, obs.boot


def _read_meter(st: LightState, meter: Meter, t_ms: int, shared: bool) -> None:
    if meter.power_w is not None:
        st.power_w = meter.power_w
        st.power_ms = t_ms
    if meter.voltage_v is not None:
        st.voltage_v = meter.voltage_v
    if meter.current_a is not None:
        st.current_a = meter.current_a
    if meter.energy_kwh is not None:
        st.energy_kwh = meter.energy_kwh
    st.shared_meter = shared
