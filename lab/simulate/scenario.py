"""The scenario file of a simulated village: what exists, what breaks and when (``thonminh simulate``).

A scenario is TOML, validated here with the same rules as every other config: unknown keys are errors and
every error names its key path (``demo.toml: lights.faults[1].kind: ...``). Times are seconds after the
simulation starts. Everything random (which light fails when no id is given, the format mix, the visitors of
the Wi-Fi, the modem's jitter) comes from ``seed``, so the same file always plans the same village.

Only the access point's comings and goings are accelerated (``speed``): the gateway counts distinct visitors,
which does not depend on how long a visit lasts. Probes, the modem and the lights run in real time, because
the gateway measures them with its own clock; a night is compressed instead by ``lights.night``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge.config import SiteConfig, Slug
from thonminh.config import StrictModel, load_config

__all__ = [
    "ApSpec",
    "FaultKind",
    "LightFault",
    "LightsSpec",
    "LinkSpec",
    "ModemSpec",
    "Night",
    "OutageSpec",
    "Scenario",
    "SignalStep",
    "UplinksSpec",
    "load_scenario",
]

FaultKind = Literal["lamp_failure", "day_burning", "dark", "offline"]
LightFormat = Literal["tasmota", "esphome", "json"]
TargetKind = Literal["tcp", "dns", "http"]


def _default_formats() -> dict[LightFormat, float]:
    return {"tasmota": 0.6, "esphome": 0.4}


def _all_target_kinds() -> list[TargetKind]:
    return ["tcp", "dns", "http"]


_INDICATOR = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # the API's indicator ids


class Night(StrictModel):
    """A compressed night: the lights are expected on from ``start_s`` to ``end_s`` (may start before 0)."""

    start_s: float = Field(-3600.0, description="dusk, seconds after the start (negative: before it)")
    end_s: float = Field(description="dawn, seconds after the start")

    @model_validator(mode="after")
    def _order(self) -> Night:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if self.end_s - self.start_s >= 86_400:
            raise ValueError("a night is shorter than a day")
        return self


class LightFault(StrictModel):
    """One light misbehaving from ``start_s`` to ``end_s`` (to the end of the run when left out)."""

    kind: FaultKind
    light: str | None = Field(None, description="light id, e.g. 'klt-007'; left out: picked by the seed")
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> LightFault:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class LightsSpec(StrictModel):
    """Street lights: how many, which firmware, how often they report, when it is night, what fails."""

    count: int = Field(40, ge=0, le=5000)
    id_prefix: Slug = Field("klt", description="light ids are '<prefix>-001', devices 'sl-<prefix>-001'")
    formats: dict[LightFormat, float] = Field(
        default_factory=_default_formats, description="share of each firmware"
    )
    zones: list[Slug] = Field(
        default_factory=lambda: ["nha-van-hoa", "xom-dinh", "xom-chua", "duong-lien-xa"], min_length=1
    )
    rated_w: list[float] = Field(default_factory=lambda: [40.0, 60.0, 80.0, 100.0], min_length=1)
    report_period_s: float = Field(5.0, ge=0.5, le=3600, description="Tasmota TelePeriod / ESPHome update")
    interval_s: float = Field(5.0, ge=1, le=3600, description="the gateway tracker's cadence")
    night: Night | None = Field(None, description="compressed night; left out: the real dusk and dawn")
    faults: list[LightFault] = Field(default_factory=list)

    @field_validator("formats")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        if any(share < 0 for share in value.values()) or sum(value.values()) <= 0:
            raise ValueError("shares must be >= 0 and not all 0")
        return value

    @field_validator("rated_w")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(w <= 0 for w in value):
            raise ValueError("rated powers must be > 0")
        return value

    def light_id(self, i: int) -> str:
        return f"{self.id_prefix}-{i + 1:03d}"

    @model_validator(mode="after")
    def _faults_fit(self) -> LightsSpec:
        ids = {self.light_id(i) for i in range(self.count)}
        named = [f.light for f in self.faults if f.light is not None]
        for i, fault in enumerate(self.faults):
            if fault.light is not None and fault.light not in ids:
                raise ValueError(
                    f"faults[{i}].light: no light {fault.light!r} (ids run "
                    f"{self.light_id(0)}..{self.light_id(self.count - 1)})"
                )
            if fault.light is not None and named.count(fault.light) > 1:
                raise ValueError(f"faults[{i}].light: {fault.light!r} has more than one fault")
        if len(self.faults) > self.count:
            raise ValueError(f"{len(self.faults)} faults but only {self.count} lights")
        return self


class OutageSpec(StrictModel):
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> OutageSpec:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class LinkSpec(StrictModel):
    """One uplink: its probe targets on a loopback address, and when they stop answering."""

    link: Slug
    host: str = Field(description="loopback address the targets listen on, e.g. 127.0.0.2")
    targets: list[TargetKind] = Field(default_factory=_all_target_kinds, min_length=1)
    min_ok: int = Field(2, ge=1)
    outages: list[OutageSpec] = Field(default_factory=list)

    @field_validator("host")
    @classmethod
    def _loopback(cls, value: str) -> str:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        if not address.is_loopback or address.version != 4:
            raise ValueError(f"{value} is not in 127.0.0.0/8: the simulator never leaves loopback")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> LinkSpec:
        if self.min_ok > len(self.targets):
            raise ValueError(f"min_ok ({self.min_ok}) is more than the {len(self.targets)} target(s)")
        spans = sorted((o.start_s, o.end_s) for o in self.outages)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start <= end:
                raise ValueError("outages overlap")
        return self


def _default_links() -> list[LinkSpec]:
    return [LinkSpec(link="fiber", host="127.0.0.2"), LinkSpec(link="4g", host="127.0.0.3")]


class UplinksSpec(StrictModel):
    interval_s: float = Field(2.0, gt=0, le=60, description="probe cycle of the gateway")
    timeout_s: float = Field(0.6, gt=0, le=30)
    down_after: int = Field(2, ge=1, le=100)
    up_after: int = Field(2, ge=1, le=100)
    links: list[LinkSpec] = Field(default_factory=_default_links)

    @model_validator(mode="after")
    def _distinct(self) -> UplinksSpec:
        names = [link.link for link in self.links]
        if len(set(names)) != len(names):
            raise ValueError(f"links: a link name is used twice: {names}")
        if self.timeout_s >= self.interval_s:
            raise ValueError(f"timeout_s ({self.timeout_s}) must be below interval_s ({self.interval_s})")
        return self


class SignalStep(StrictModel):
    """The radio from ``at_s`` on (until the next step)."""

    at_s: float = Field(ge=0)
    rsrp_dbm: float = Field(-95.0, ge=-140, le=-44)
    rsrq_db: float = Field(-10.0, ge=-20, le=-3)
    sinr_db: float = Field(12.0, ge=-20, le=30)
    rssi_dbm: float = Field(-65.0, ge=-113, le=-51)
    registered: bool = True


class ModemSpec(StrictModel):
    """A 4G modem on a pseudo-terminal whose signal follows ``signal``."""

    enabled: bool = True
    personality: Literal["quectel", "simcom", "generic"] = "quectel"
    id: Slug = "ec25"
    link: Slug = "4g"
    operator: str = Field("Viettel", min_length=1, max_length=32)
    interval_s: float = Field(5.0, ge=0.5, le=3600, description="the gateway's poll interval")
    jitter_db: float = Field(1.0, ge=0, le=20, description="random wobble around the profile, by the seed")
    signal: list[SignalStep] = Field(default_factory=lambda: [SignalStep(at_s=0)], min_length=1)

    @field_validator("signal")
    @classmethod
    def _from_zero(cls, steps: list[SignalStep]) -> list[SignalStep]:
        if steps[0].at_s != 0:
            raise ValueError("the first step must be at_s = 0")
        if any(b.at_s <= a.at_s for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("steps must be in increasing at_s")
        return steps


class ApSpec(StrictModel):
    """The cultural house's access point and its visitors (visit lengths in village time, see ``speed``)."""

    enabled: bool = True
    id: Slug = "cultural-house"
    ssid: str = Field("ThonMinh-Free", min_length=1, max_length=32)
    interval_s: float = Field(3.0, gt=0, le=3600, description="the gateway's poll interval")
    timeout_s: float = Field(2.5, gt=0, le=60)
    devices: int = Field(30, ge=0, le=10_000, description="phones and laptops that may visit")
    randomised_share: float = Field(
        0.3, ge=0, le=1, description="share of devices that show a new random MAC address on every visit"
    )
    initial_clients: int = Field(3, ge=0, description="devices already connected at the start")
    arrivals_per_hour: float = Field(120.0, ge=0, le=1e6, description="visits per village hour")
    stay_min_s: float = Field(600.0, gt=0, description="shortest visit, village seconds")
    stay_max_s: float = Field(3600.0, gt=0, description="longest visit, village seconds")

    @model_validator(mode="after")
    def _consistent(self) -> ApSpec:
        if self.stay_max_s < self.stay_min_s:
            raise ValueError(f"stay_max_s ({self.stay_max_s}) is below stay_min_s ({self.stay_min_s})")
        if self.initial_clients > self.devices:
            raise ValueError(
                f"initial_clients ({self.initial_clients}) is more than devices ({self.devices})"
            )
        if self.timeout_s >= self.interval_s:
            raise ValueError(f"timeout_s ({self.timeout_s}) must be below interval_s ({self.interval_s})")
        return self


#: what a village lies in, each named by a slug of its site
PlaceLevel = Literal["commune", "district", "province"]


class Scenario(StrictModel):
    """A whole simulated village."""

    name: str = Field(min_length=1, max_length=200)
    seed: int = 1
    duration_s: float = Field(60.0, ge=0, description="how long to run; 0 = until stopped")
    speed: float = Field(1.0, ge=1, le=86_400, description="village seconds per real second (Wi-Fi visits)")
    site: SiteConfig
    #: the site's commune, district and province as people write them ("Bắc Giang"), for the demo's criteria
    #: service (its pages and dossier); the site holds only their slugs
    places: dict[
        Literal["commune", "district", "province"], Annotated[str, Field(min_length=1, max_length=120)]
    ] = Field(default_factory=dict)
    lights: LightsSpec = Field(default_factory=LightsSpec)
    uplinks: UplinksSpec = Field(default_factory=UplinksSpec)
    modem: ModemSpec = Field(default_factory=ModemSpec)
    ap: ApSpec = Field(default_factory=ApSpec)
    indicators: dict[str, float] = Field(
        default_factory=dict, description="manual indicators the demo enters, e.g. eid_adoption_pct = 31.5"
    )

    @field_validator("indicators")
    @classmethod
    def _indicator_ids(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            if not _INDICATOR.match(key):
                raise ValueError(f"{key!r} is not an indicator id (lower-case letters, digits and '_')")
        return value


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario; ``ConfigError`` names the file and the key path of every problem."""
    return load_config(path, Scenario, environ={})
