"""``[sources.lights]``: topics and formats, the inventory, the tracker's cadence, faults and schedule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from edge.sources.base import SourceConfig
from edge.sources.lights.formats import DEFAULT_PATTERNS
from edge.sources.lights.schedule import DEFAULT_SWITCH_GRACE_S, AstralSchedule, FixedSchedule, Schedule
from edge.sources.lights.topics import TopicPattern
from thonminh.config import StrictModel

__all__ = ["AstralScheduleConfig", "FixedScheduleConfig", "LightsConfig", "TopicRoute"]


class TopicRoute(StrictModel):
    """Messages on topics matching ``pattern`` are read with the ``format`` adapter."""

    pattern: str = Field(description="topic pattern with {device}; see edge/sources/lights/topics.py")
    format: Literal["tasmota", "esphome", "json"]

    @field_validator("pattern")
    @classmethod
    def _valid(cls, value: str) -> str:
        TopicPattern(value)  # raises ValueError naming the problem
        return value


def _default_routes() -> list[TopicRoute]:
    return [TopicRoute(pattern=p, format=f) for f, p in DEFAULT_PATTERNS.items()]  # type: ignore[arg-type]


class _SwitchGrace(StrictModel):
    switch_grace_s: float = Field(
        DEFAULT_SWITCH_GRACE_S,
        ge=0,
        le=3600,
        description="seconds either side of each scheduled switch in which on and off are both as scheduled "
        "(photocells and timers never switch on the second); 0 = exact",
    )


class AstralScheduleConfig(_SwitchGrace):
    """On from the village's dusk to dawn (site latitude/longitude/timezone), with offsets."""

    mode: Literal["astral"] = "astral"
    twilight: Literal["sunset", "civil", "nautical", "astronomical"] = Field(
        "sunset", description="'sunset' = sunset/sunrise; else dusk/dawn at 6, 12 or 18 degrees"
    )
    dusk_offset_min: float = Field(
        10.0, ge=-180, le=180, description="minutes after dusk the lights should be on"
    )
    dawn_offset_min: float = Field(-10.0, ge=-180, le=180, description="minutes after dawn they may be off")

    def build(self, latitude: float, longitude: float, tz: str) -> Schedule:
        return AstralSchedule(
            latitude,
            longitude,
            tz,
            twilight=self.twilight,
            dusk_offset_s=self.dusk_offset_min * 60,
            dawn_offset_s=self.dawn_offset_min * 60,
            switch_grace_s=self.switch_grace_s,
        )


class FixedScheduleConfig(_SwitchGrace):
    """On and off at fixed local times (``off`` earlier than ``on`` means the next morning)."""

    mode: Literal["fixed"]
    on: dt.time = Field(description="local time, e.g. '18:00'")
    off: dt.time = Field(description="local time, e.g. '05:30'")

    @model_validator(mode="after")
    def _differ(self) -> FixedScheduleConfig:
        if self.on == self.off:
            raise ValueError("on and off must differ")
        return self

    def build(self, latitude: float, longitude: float, tz: str) -> Schedule:
        return FixedSchedule(self.on, self.off, tz, switch_grace_s=self.switch_grace_s)


ScheduleConfig = Annotated[AstralScheduleConfig | FixedScheduleConfig, Field(discriminator="mode")]


class LightsConfig(SourceConfig):
    """Street lights reporting to the broker in ``[mqtt]``."""

    interval_s: float = Field(
        60.0, ge=1, le=3600, description="tracker cadence: one sample per light per interval"
    )
    inventory: Path = Field(description="light inventory, CSV or TOML (relative to the config file)")
    topics: list[TopicRoute] = Field(default_factory=_default_routes, min_length=1)
    client_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="MQTT client id; default [mqtt].client_id (plus '-<name>' for a named instance)",
    )
    qos: Literal[0, 1] = Field(1, description="subscription QoS; 1 = nothing lost across agent crashes")
    report_period_s: float = Field(
        60.0, gt=0, le=86_400, description="devices' report period unless the inventory says"
    )
    stale_multiple: float = Field(
        3.0, ge=1, le=100, description="stale after this many report periods without a report"
    )
    lamp_failure_share: float = Field(
        0.3, ge=0, le=1, description="lamp failure: switched on but drawing under this share of rated power"
    )
    lamp_failure_settle_s: float = Field(
        10.0, ge=0, le=3600, description="ignore meter readings this soon after switch-on"
    )
    schedule: ScheduleConfig = Field(default_factory=AstralScheduleConfig)
    max_payload_bytes: int = Field(16_384, ge=256, le=1_048_576, description="larger payloads are rejected")
    # 60 s: each journal commit is an fdatasync'd page on the SD card, and one per message group was most of the
    # gateway's flash writes (docs/pipeline.md); under load groups fill (64 messages) long before.
    commit_interval_ms: int = Field(
        60_000,
        ge=0,
        le=600_000,
        description="gather messages this long before committing and acknowledging them",
    )
    reconnect_initial_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)

    def environment_problems(self, where: str) -> list[str]:
        """The inventory must exist and be valid here: the source cannot start without it."""
        from edge.sources.lights.inventory import load_inventory
        from thonminh.errors import ConfigError

        if not self.inventory.is_file():
            return [
                f"{where}.inventory: {self.inventory} does not exist (the light inventory, see lights.example.csv)"
            ]
        try:
            load_inventory(self.inventory)
        except ConfigError as err:
            return [f"{where}.inventory: {line}" for line in str(err).splitlines()]
        return []

    @model_validator(mode="after")
    def _patterns_distinct(self) -> LightsConfig:
        seen = set()
        for i, route in enumerate(self.topics):
            if route.pattern in seen:
                raise ValueError(f"topics[{i}].pattern {route.pattern!r} is listed twice")
            seen.add(route.pattern)
        return self
