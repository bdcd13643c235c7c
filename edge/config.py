"""The gateway's configuration: pydantic models of ``gateway.toml``.

Shared sections (site, mqtt, influxdb, buffer, forwarder, clock, log) are declared here; each source's
section is declared beside the source (``edge/sources/<kind>/``) and found by the registry, so
``[sources.<kind>]`` (one instance) or ``[[sources.<kind>]]`` (several) validates against the source's
own model with full key paths in errors. Secrets may come from the environment:
``THONMINH_INFLUXDB__PASSWORD``, ``THONMINH_INFLUXDB__TOKEN``, ``THONMINH_MQTT__PASSWORD``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, create_model, field_validator, model_validator

from edge.mqttsettings import MqttSettings, TlsSettings
from edge.sources.base import Source, SourceConfig, SourceContext
from edge.sources.registry import load_source_class, source_kinds
from thonminh.config import InfluxSettings, Slug, StrictModel, load_config
from thonminh.contract import DAILY_TZ, site_tags

__all__ = [
    "BufferSettings",
    "ClockSettings",
    "ForwarderSettings",
    "GatewayConfig",
    "LogSettings",
    "MqttSettings",
    "SiteConfig",
    "Slug",
    "TlsSettings",
    "gateway_config_model",
    "load_gateway_config",
]

class SiteConfig(StrictModel):
    """Where this gateway is: its tags on every point, and where the sun sets for the lights."""

    village: Slug
    gateway: Slug
    commune: Slug | None = None
    district: Slug | None = None
    province: Slug | None = None
    name: str | None = Field(None, description="display name, e.g. 'Khả Lý Thượng'")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str = DAILY_TZ

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def tags(self) -> dict[str, str]:
        """The site tags of every point."""
        return site_tags(self.village, self.gateway, commune=self.commune, district=self.district,
                         province=self.province)


class BufferSettings(StrictModel):
    """The durable SQLite store every point is committed to before anything else happens to it."""

    path: Path = Path("/var/lib/thonminh/buffer.sqlite")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024, description="disk budget; oldest dropped first")
    commit_interval_ms: int = Field(200, ge=0, le=10_000, description="group commits within this latency")
    dead_letters_max: int = Field(10_000, ge=1, description="dead letters kept for inspection (oldest pruned)")
    row_points: int = Field(64, ge=1, le=1000, description=(
        "points stored per row: fewer rows, less work per point; batches, drops and the live share move whole rows"))


class ForwarderSettings(StrictModel):
    """How the buffer drains to InfluxDB."""

    batch_points: int = Field(5000, ge=1, le=100_000)
    batch_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    live_share: float = Field(0.25, ge=0, le=1, description="share of each drain cycle given to the newest data")
    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    flush_deadline_s: float = Field(10.0, ge=0, description="how long SIGTERM may spend flushing")
    concurrency: int = Field(2, ge=1, le=8, description="batches in flight at once (hides uplink latency)")

    @model_validator(mode="after")
    def _backoff_range(self) -> ForwarderSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(f"backoff_max_s ({self.backoff_max_s}) must be at least backoff_initial_s "
                             f"({self.backoff_initial_s})")
        return self


class ClockSettings(StrictModel):
    check: Literal["adjtimex", "always", "file"] = Field(
        "adjtimex", description="how to tell whether the system clock is synchronised"
    )
    sync_file: Path | None = Field(None, description="for check='file': synchronised while this file exists")
    jump_threshold_s: float = Field(2.0, gt=0, description="wall-clock jumps larger than this are logged")
    check_interval_s: float = Field(1.0, gt=0, le=60, description="how often the clock state is checked")


class LogSettings(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["kv", "json"] = "kv"


class GatewayConfig(StrictModel):
    """A whole ``gateway.toml``. ``sources`` is replaced by a model built from the registry."""

    site: SiteConfig
    influxdb: InfluxSettings = InfluxSettings()
    mqtt: MqttSettings = MqttSettings()
    buffer: BufferSettings = BufferSettings()
    forwarder: ForwarderSettings = ForwarderSettings()
    clock: ClockSettings = ClockSettings()
    log: LogSettings = LogSettings()
    state_dir: Path = Field(Path("/var/lib/thonminh"), description="where sources keep state (salts, ...)")
    gateway_interval_s: float = Field(60.0, gt=0, description="cadence of the gateway self-metrics")
    sources: Any = None

    @model_validator(mode="after")
    def _clock_file(self) -> GatewayConfig:
        if self.clock.check == "file" and self.clock.sync_file is None:
            raise ValueError("clock.check = 'file' needs clock.sync_file")
        return self

    def environment_problems(self) -> list[str]:
        """What this machine says is wrong with the enabled sources (a missing interface, ...), by key path."""
        return [problem for _, where, cfg in self.source_entries() for problem in cfg.environment_problems(where)]

    def source_entries(self) -> list[tuple[str, str, SourceConfig]]:
        """(kind, key path, config) of every enabled source instance, in kind order."""
        out = []
        for kind in source_kinds():
            for i, cfg in enumerate(getattr(self.sources, kind, None) or []):
                if cfg.enabled:
                    out.append((kind, f"sources.{kind}[{i}]", cfg))
        return out

    def source_instances(self) -> list[tuple[str, SourceConfig]]:
        """(kind, config) of every enabled source instance, in kind order."""
        return [(kind, cfg) for kind, _, cfg in self.source_entries()]

    def source_context(self, source: type[Source], key_path: str, **parts: Any) -> SourceContext:
        """The context of a ``source`` configured at ``key_path``: this site, and the broker if it uses one.

        ``parts`` are the rest of ``SourceContext`` (``emit``, ``logger``, ``state_dir``, the clock, ...).
        """
        site = self.site
        return SourceContext(site_tags=site.tags(), timezone=site.timezone, location=(site.latitude, site.longitude),
                             mqtt=self.mqtt if source.uses_mqtt else None, key_path=key_path, **parts)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, Mapping) else value


def _resolve_paths(model: Any, base: Path) -> None:
    """Relative paths in the file are relative to the file, not to wherever the agent was started."""
    for name, value in model:
        if isinstance(value, Path) and not value.is_absolute():
            object.__setattr__(model, name, (base / value).resolve())
        elif isinstance(value, StrictModel):
            _resolve_paths(value, base)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, StrictModel):
                    _resolve_paths(item, base)


@functools.cache
def gateway_config_model() -> type[GatewayConfig]:
    """``GatewayConfig`` with ``sources`` typed from every source folder present."""
    fields: dict[str, Any] = {}
    for kind in source_kinds():
        cls = load_source_class(kind)
        item = Annotated[list[cls.Config], BeforeValidator(_as_list)]  # type: ignore[name-defined]
        fields[kind] = (item, Field(default_factory=list))
    sources = create_model("SourcesConfig", __base__=StrictModel, **fields)
    return create_model(
        "GatewayConfig", __base__=GatewayConfig, sources=(sources, Field(default_factory=sources))
    )


def load_gateway_config(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load and validate ``gateway.toml``; ``ConfigError`` names the file and key path of every problem."""
    config = load_config(path, gateway_config_model(), environ=environ)
    _resolve_paths(config, Path(path).resolve().parent)
    return config
