"""A light's journaled state, the tracker's per-light records, a status over a stretch, and a ``streetlight`` sample.

Split from ``tracker.py`` to keep that module about the accounting alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from edge.sources.lights.inventory import LightSpec
from thonminh.contract import STREETLIGHT

__all__ = [
    "KNOWN_STATUS",
    "OFFLINE_STATUS",
    "STALE_STATUS",
    "UNOBSERVED",
    "LightState",
    "Sample",
    "Status",
    "TrackedDevice",
    "TrackedLight",
]


def _name(field_name: str) -> str:
    """A contract field name; fails at import if the contract ever drops it."""
    return STREETLIGHT.field(field_name).name


ON, ONLINE, EXPECTED_ON = _name("on"), _name("online"), _name("expected_on")
OBSERVED_S, EXPECTED_ON_S = _name("observed_s"), _name("expected_on_s")
LIT_WHEN_EXPECTED_S, OK_S, FAULT = _name("lit_when_expected_s"), _name("ok_s"), _name("fault")
METER_FIELDS: Final = tuple(_name(f) for f in ("power_w", "voltage_v", "current_a", "energy_kwh"))
LIGHT_TAG, ZONE_TAG = STREETLIGHT.tags

#: Fault values of the contract, in priority order.
OFFLINE, STALE, LAMP_FAILURE, DARK, DAY_BURNING = "offline", "stale", "lamp_failure", "dark", "day_burning"


@dataclass(slots=True)
class LightState:
    """What is known about one light; journaled, so it survives restarts."""

    on: bool | None = None
    level: int | None = None
    online: bool | None = None
    last_report_ms: int | None = None
    on_since_ms: int | None = None
    power_w: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    energy_kwh: float | None = None
    power_ms: int | None = None
    shared_meter: bool = False
    faults: list[str] = field(default_factory=list)
    seq: int | None = None
    boot: str | None = None
    seq_gaps: int = 0
    reports: int = 0
    #: the fault of its newest sample taken while the schedule wants it lit (``LightTracker.current_faults``):
    #: journaled, so a lamp failure seen in the night still counts after a restart by day
    dark_fault: str = ""

    def to_json(self) -> dict[str, Any]:
        """The journal row, JSON-ready."""
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"faults": list(self.faults)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LightState:
        """Tolerant: unknown keys are dropped, so an older journal still loads."""
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known})
        state.faults = list(state.faults)
        return state


@dataclass(frozen=True, slots=True)
class Status:
    observed: bool
    known: bool
    online: bool
    lit: bool
    fault: str


UNOBSERVED = Status(False, False, False, False, "")
OFFLINE_STATUS = Status(True, False, False, False, OFFLINE)
STALE_STATUS = Status(True, False, False, False, STALE)
#: The statuses of a known light, one per combination.
KNOWN_STATUS: Final = {
    (lit, fault): Status(True, True, True, lit, fault)
    for lit in (False, True)
    for fault in ("", LAMP_FAILURE, DARK, DAY_BURNING)
}


@dataclass(slots=True, eq=False)
class TrackedLight:
    """One inventory light as the tracker keeps it: spec, state, stale period, and the running interval's sums (ms)."""

    spec: LightSpec
    state: LightState
    stale_ms: int
    since_ms: int
    observed: int = 0
    expected: int = 0
    lit_expected: int = 0
    ok: int = 0

    def reset(self, t_ms: int) -> None:
        self.since_ms, self.observed, self.expected, self.lit_expected, self.ok = t_ms, 0, 0, 0, 0


@dataclass(frozen=True, slots=True, eq=False)
class TrackedDevice:
    """A device's lights in inventory order, and its channels as ``Inventory.resolve`` resolves them."""

    lights: tuple[TrackedLight, ...]
    ids: tuple[str, ...]
    channels: Mapping[str, TrackedLight]  # the first row naming each channel
    catch_all: TrackedLight | None  # the device's (last) row without a channel

    @classmethod
    def of(cls, lights: tuple[TrackedLight, ...]) -> TrackedDevice:
        channels: dict[str, TrackedLight] = {}
        catch_all = None
        for light in lights:
            if light.spec.channel is None:
                catch_all = light
            else:
                channels.setdefault(light.spec.channel, light)
        return cls(lights, tuple(light.spec.id for light in lights), channels, catch_all)

    def resolve(self, channel: str) -> TrackedLight | None:
        return self.channels.get(channel, self.catch_all)

    def targets(self, channel: str | None) -> tuple[TrackedLight, ...]:
        """Every light for ``None``, else the channel's light (if any)."""
        if channel is None:
            return self.lights
        light = self.channels.get(channel, self.catch_all)
        return (light,) if light is not None else ()


@dataclass(frozen=True, slots=True)
class Sample:
    """One ``streetlight`` sample before it becomes a point."""

    light: str
    zone: str
    time_ms: int
    fields: dict[str, int | float | str]

    @property
    def tags(self) -> dict[str, str]:
        return {LIGHT_TAG: self.light, ZONE_TAG: self.zone}
