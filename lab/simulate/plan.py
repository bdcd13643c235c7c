"""A scenario planned before anything runs: the lights, their faults, the night, the visitors, the ground truth.

Pure and deterministic: ``Plan(scenario, t0_ms)`` decides everything the seed decides, and
``ground_truth(horizon_s)`` says what will have happened by then (outages, light faults as the tracker should
see them, unique Wi-Fi users per local day, the modem's signal), in the form ``ground_truth.json`` holds.
The village runner (``lab/simulate/village.py``) plays exactly this plan.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from edge.sources.lights.config import AstralScheduleConfig, FixedScheduleConfig
from edge.sources.lights.schedule import Schedule
from lab.simulate.lights import Behaviour
from lab.simulate.scenario import FaultKind, LightFault, Scenario

__all__ = ["PlannedFault", "PlannedLight", "Plan", "Visit", "iso"]

_OUIS = ("8c:be:be", "a8:96:75", "00:1c:42", "c4:41:1e", "e8:f4:08", "f4:09:d8")
#: A visit lasts at least this many Wi-Fi polls, so the gateway sees every visitor.
_MIN_POLLS_PER_VISIT = 2.5


def iso(ms: float) -> str:
    """UTC ISO 8601 with milliseconds."""
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@dataclass(frozen=True, slots=True)
class PlannedLight:
    id: str
    device: str
    format: str
    zone: str
    latitude: float
    longitude: float
    rated_w: float


@dataclass(frozen=True, slots=True)
class PlannedFault:
    light: str
    kind: FaultKind
    start_s: float
    end_s: float | None


@dataclass(frozen=True, slots=True)
class Visit:
    """One device on the Wi-Fi from ``arrive_s`` to ``leave_s`` (real seconds after the start)."""

    device: int
    mac: str
    arrive_s: float
    leave_s: float


def _mac(rng: random.Random, randomised: bool) -> str:
    if randomised:  # locally administered, unicast: what phones show with MAC randomisation
        octets = [(rng.randrange(256) | 0x02) & 0xFE] + [rng.randrange(256) for _ in range(5)]
        return ":".join(f"{o:02x}" for o in octets)
    return rng.choice(_OUIS) + ":" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


K = TypeVar("K")


def _split(count: int, shares: Mapping[K, float]) -> list[K]:
    """``count`` labels in the given shares (largest remainder)."""
    total = sum(shares.values())
    exact = {k: count * v / total for k, v in shares.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: count - sum(counts.values())]:
        counts[k] += 1
    return [k for k, n in counts.items() for _ in range(n)]


class Plan:
    """Everything the seed decides about a scenario started at ``t0_ms``."""

    def __init__(self, scenario: Scenario, t0_ms: int) -> None:
        self.scenario = scenario
        self.t0_ms = t0_ms
        self.lights = self._lights()
        self.faults = self._faults()
        self.schedule_config = self._schedule_config()
        site = scenario.site
        self.schedule: Schedule = self.schedule_config.build(site.latitude, site.longitude, site.timezone)

    # -- lights ----------------------------------------------------------------------------------------------

    def _lights(self) -> list[PlannedLight]:
        spec, site = self.scenario.lights, self.scenario.site
        rng = random.Random(f"{self.scenario.seed}/lights")
        formats = _split(spec.count, spec.formats)
        rng.shuffle(formats)
        lights = []
        for i in range(spec.count):
            light_id = spec.light_id(i)
            along = (i - spec.count / 2) * 0.0004  # poles about 45 m apart along the village road
            lights.append(
                PlannedLight(
                    id=light_id,
                    device=f"sl-{light_id}",
                    format=formats[i],
                    zone=spec.zones[i * len(spec.zones) // max(spec.count, 1)],
                    latitude=round(site.latitude + along + rng.uniform(-5e-5, 5e-5), 6),
                    longitude=round(site.longitude + along * 0.8 + rng.uniform(-5e-5, 5e-5), 6),
                    rated_w=rng.choice(spec.rated_w),
                )
            )
        return lights

    def _faults(self) -> list[PlannedFault]:
        spec = self.scenario.lights
        rng = random.Random(f"{self.scenario.seed}/faults")
        named = {f.light for f in spec.faults if f.light}
        free = [light.id for light in self.lights if light.id not in named]
        rng.shuffle(free)
        picks = iter(free)

        def planned(f: LightFault) -> PlannedFault:
            return PlannedFault(f.light or next(picks), f.kind, f.start_s, f.end_s)

        return [planned(f) for f in spec.faults]

    def _schedule_config(self) -> AstralScheduleConfig | FixedScheduleConfig:
        night = self.scenario.lights.night
        if night is None:
            return AstralScheduleConfig()
        tz = ZoneInfo(self.scenario.site.timezone)

        def local(offset_s: float) -> dt.time:
            moment = dt.datetime.fromtimestamp(round(self.t0_ms / 1000 + offset_s), tz)
            return moment.time()

        # a night compressed into seconds, switched to the scheduled second: the 120 s grace real photocells
        # need would swallow a fault the scenario plans right after a switch
        return FixedScheduleConfig(
            mode="fixed", on=local(night.start_s), off=local(night.end_s), switch_grace_s=0
        )

    def behaviour_changes(self, light_id: str) -> list[tuple[float, Behaviour]]:
        """``(offset_s, behaviour)`` of one light, in time order (``normal`` when a fault ends)."""
        changes: list[tuple[float, Behaviour]] = []
        for f in self.faults:
            if f.light == light_id:
                changes.append((f.start_s, f.kind))
                if f.end_s is not None:
                    changes.append((f.end_s, "normal"))
        return sorted(changes)

    # -- Wi-Fi visitors ----------------------------------------------------------------------------------------

    def visits(self) -> Iterator[Visit]:
        """Every visit in arrival order, without end (the runner and the ground truth read the same stream)."""
        ap, speed = self.scenario.ap, self.scenario.speed
        rng = random.Random(f"{self.scenario.seed}/ap")
        randomised = [rng.random() < ap.randomised_share for _ in range(ap.devices)]
        fixed_macs = [_mac(rng, False) for _ in range(ap.devices)]
        shortest = _MIN_POLLS_PER_VISIT * ap.interval_s
        busy_until = [0.0] * ap.devices

        def visit(device: int, t: float) -> Visit:
            stay = max(rng.uniform(ap.stay_min_s, ap.stay_max_s) / speed, shortest)
            busy_until[device] = t + stay
            return Visit(device, _mac(rng, True) if randomised[device] else fixed_macs[device], t, t + stay)

        for device in range(ap.initial_clients):
            yield visit(device, 0.0)
        rate = ap.arrivals_per_hour / 3600 * speed  # per real second
        if rate <= 0 or ap.devices == 0:
            return
        t = 0.0
        while True:
            t += rng.expovariate(rate)
            absent = [d for d in range(ap.devices) if busy_until[d] <= t]
            if absent:
                yield visit(rng.choice(absent), t)

    def visits_until(self, horizon_s: float) -> list[Visit]:
        return list(itertools.takewhile(lambda v: v.arrive_s < horizon_s, self.visits()))

    # -- ground truth ----------------------------------------------------------------------------------------

    def _at(self, offset_s: float) -> str:
        return iso(self.t0_ms + offset_s * 1000)

    def _span(self, start_s: float, end_s: float | None, horizon_s: float) -> dict[str, Any]:
        open_ = end_s is None or end_s >= horizon_s
        end = None if open_ else end_s
        return {
            "start_s": round(start_s, 3),
            "end_s": None if end is None else round(end, 3),
            "start": self._at(start_s),
            "end": None if end is None else self._at(end),
            "open": open_,
        }

    def expected_on(self, start_s: float, end_s: float) -> list[tuple[float, float]]:
        """Offsets of the stretches inside ``[start_s, end_s)`` where the schedule wants the lights on."""
        t0 = self.t0_ms
        windows = self.schedule.windows(int(t0 + start_s * 1000), int(t0 + end_s * 1000))
        return [(max(start_s, (a - t0) / 1000), min(end_s, (b - t0) / 1000)) for a, b in windows]

    def _fault_spans(self, f: PlannedFault, horizon_s: float) -> list[tuple[float, float | None]]:
        """When the tracker should report ``f``: lamp faults only while expected on, day-burning while off."""
        end = horizon_s if f.end_s is None else min(f.end_s, horizon_s)
        if f.start_s >= end:
            return []
        if f.kind == "offline":
            return [(f.start_s, f.end_s)]
        on = self.expected_on(f.start_s, end)
        if f.kind in ("lamp_failure", "dark"):
            spans = on
        else:  # day_burning: the gaps between the on-stretches
            edges = [f.start_s] + [e for span in on for e in span] + [end]
            spans = [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        return [(a, None if b >= end and f.end_s is None else b) for a, b in spans if b > a]

    def _wifi_days(self, horizon_s: float) -> dict[str, dict[str, int]]:
        tz = ZoneInfo(self.scenario.site.timezone)
        macs: dict[str, set[str]] = {}
        devices: dict[str, set[int]] = {}
        sessions: dict[str, int] = {}

        def day(offset_s: float) -> dt.date:
            return dt.datetime.fromtimestamp(self.t0_ms / 1000 + offset_s, tz).date()

        for v in self.visits_until(horizon_s):
            first, last = day(v.arrive_s), day(min(v.leave_s, horizon_s))
            sessions[first.isoformat()] = sessions.get(first.isoformat(), 0) + 1
            d = first
            while d <= last:
                macs.setdefault(d.isoformat(), set()).add(v.mac)
                devices.setdefault(d.isoformat(), set()).add(v.device)
                d += dt.timedelta(days=1)
        return {
            d: {"unique_macs": len(macs[d]), "devices": len(devices[d]), "sessions": sessions.get(d, 0)}
            for d in sorted(macs)
        }

    def ground_truth(self, horizon_s: float) -> dict[str, Any]:
        """What will have happened ``horizon_s`` after the start, as ``ground_truth.json`` holds it."""
        s = self.scenario
        by_format: dict[str, int] = {}
        for light in self.lights:
            by_format[light.format] = by_format.get(light.format, 0) + 1
        faults = [
            {"light": f.light, "fault": f.kind, **self._span(a, b, horizon_s)}
            for f in self.faults
            for a, b in self._fault_spans(f, horizon_s)
        ]
        outages = {
            link.link: [
                self._span(o.start_s, o.end_s, horizon_s) for o in link.outages if o.start_s < horizon_s
            ]
            for link in s.uplinks.links
        }
        signal = (
            [
                {**step.model_dump(), "time": self._at(step.at_s)}
                for step in s.modem.signal
                if step.at_s < horizon_s
            ]
            if s.modem.enabled
            else []
        )
        return {
            "scenario": s.name,
            "seed": s.seed,
            "village": s.site.village,
            "gateway": s.site.gateway,
            "name": s.site.name or s.site.village,
            "timezone": s.site.timezone,
            "t0_ms": self.t0_ms,
            "t0": iso(self.t0_ms),
            "horizon_s": round(horizon_s, 3),
            "expected_on": [self._span(a, b, horizon_s) for a, b in self.expected_on(0, horizon_s)],
            "outages": outages,
            "lights": {"count": len(self.lights), "by_format": by_format},
            "light_faults": sorted(faults, key=lambda f: (f["start_s"], f["light"])),
            "wifi": {
                "ap": s.ap.id,
                "interval_s": s.ap.interval_s,
                "days": self._wifi_days(horizon_s) if s.ap.enabled else {},
                "visits": [
                    {
                        "device": v.device,
                        "mac": v.mac,
                        "arrive_s": round(v.arrive_s, 3),
                        "leave_s": round(v.leave_s, 3),
                    }
                    for v in self.visits_until(horizon_s)
                ]
                if s.ap.enabled
                else [],
            },
            "modem": {"id": s.modem.id, "signal": signal},
            "indicators": dict(s.indicators),
        }
