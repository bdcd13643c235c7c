"""The gateway's configuration: pydantic models of ``gateway.toml``.

Shared sections (site, mqtt, influxdb, buffer, forwarder, clock, log) are declared here; each source's
section is declared beside the source (``edge/sources/<kind>/``) and found by the registry, so
``[sources.<kind>]`` (one instance) or ``[[sources.<kind>]]`` (several) validates against the source's
own model with full key paths in errors. Secrets may come from the environment:
``THONMINH_INFLUXDB__PASSWORD``, ``THONMINH_INFLUXDB__TOKEN``, ``THONMINH_MQTT__PASSWORD``, set in the
environment or in ``gateway.env`` beside ``gateway.toml`` (the unit's ``EnvironmentFile``).
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    PrivateAttr,
    create_model,
    field_validator,
    model_validator,
)

from edge.bufferschema import intake_path
from edge.mqttsettings import MqttSettings, TlsSettings
from edge.sources.base import Source, SourceConfig, SourceContext
from edge.sources.registry import load_source_class, source_kinds
from thonminh.config import (
    InfluxSettings,
    Slug,
    StrictModel,
    environ_with_file,
    environment_overrides,
    load_config,
)
from thonminh.contract import DAILY_TZ, site_tags
from thonminh.errors import ConfigError
from thonminh.evidence import IN_FLIGHT_S
from thonminh.tomlsections import misnamed_sections

#: the secrets beside gateway.toml, the systemd unit's ``EnvironmentFile`` (deploy/thonminh-gateway.service)
ENV_FILE = "gateway.env"

__all__ = [
    "ENV_FILE",
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
        return site_tags(
            self.village, self.gateway, commune=self.commune, district=self.district, province=self.province
        )


class BufferSettings(StrictModel):
    """The durable SQLite store every point is committed to before anything else happens to it."""

    path: Path = Path("/var/lib/thonminh/buffer.sqlite")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024 * 1024, description="disk budget; oldest dropped first")
    commit_interval_ms: int = Field(200, ge=0, le=10_000, description="group commits within this latency")
    dead_letters_max: int = Field(
        10_000, ge=1, description="dead letters kept for inspection (oldest pruned)"
    )
    row_points: int = Field(
        64,
        ge=1,
        le=1000,
        description=(
            "points stored per row: fewer rows, less work per point; batches, drops and the live share move whole rows"
        ),
    )
    # 600 s: each store costs about ten SD card pages however little it holds (docs/pipeline.md, "Flash writes");
    # with InfluxDB up the forwarder has sent the points long before, so only an outage makes this window matter.
    sync_interval_s: float = Field(
        600.0,
        ge=0.1,
        le=600,
        description=(
            "what the intake (RAM) holds is stored on the SD card this often: the most a power cut can lose"
        ),
    )
    intake_dir: Path | None = Field(
        None,
        description=(
            "tmpfs directory of the intake every commit goes to first; default /dev/shm/thonminh-<uid>"
        ),
    )

    def intake_path(self) -> Path:
        """The intake of this buffer: on tmpfs, named after the buffer's path (several agents never share one)."""
        return intake_path(self.path, self.intake_dir)


class ForwarderSettings(StrictModel):
    """How the buffer drains to InfluxDB."""

    batch_points: int = Field(
        1000,
        ge=1,
        le=100_000,
        description=(
            "points per batch at most: a batch is held two or three times while it is signed and sent, and the"
            " agent stays under 60 MB while draining (bench/agent_rss.py); a village-day still drains in seconds"
        ),
    )
    batch_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    live_share: float = Field(
        0.25, ge=0, le=1, description="share of each drain cycle given to the newest data"
    )
    # bounded: an infinite wait would leave the buffer undrained for good, and a batch retried after a later one
    # landed must land while verification still takes the gap for one in flight (thonminh.evidence.IN_FLIGHT_S)
    backoff_initial_s: float = Field(1.0, gt=0, le=60)
    backoff_max_s: float = Field(60.0, gt=0, le=IN_FLIGHT_S / 2)
    flush_deadline_s: float = Field(10.0, ge=0, le=3600, description="how long SIGTERM may spend flushing")
    concurrency: int = Field(2, ge=1, le=8, description="batches in flight at once (hides uplink latency)")
    live_interval_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        description=(
            "live points wait up to this long to go as one signed batch (and go before each store of the intake);"
            " a backlog of batch_points goes at once"
        ),
    )

    @model_validator(mode="after")
    def _backoff_range(self) -> ForwarderSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s}) must be at least backoff_initial_s "
                f"({self.backoff_initial_s})"
            )
        return self


class ClockSettings(StrictModel):
    check: Literal["adjtimex", "always", "file"] = Field(
        "adjtimex", description="how to tell whether the system clock is synchronised"
    )
    sync_file: Path | None = Field(None, description="for check='file': synchronised while this file exists")
    jump_threshold_s: float = Field(
        2.0, gt=0, le=86_400, description="wall-clock jumps larger than this are logged"
    )
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
    # the bound of every source's interval_s (edge/sources/base.py): this is the gateway source's default one
    gateway_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="cadence of the gateway self-metrics"
    )
    sources: Any = None
    #: key path -> the environment variable that set it (``load_gateway_config`` fills it), and the file's name
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _file: str = PrivateAttr("gateway.toml")

    @model_validator(mode="after")
    def _clock_file(self) -> GatewayConfig:
        if self.clock.check == "file" and self.clock.sync_file is None:
            raise ValueError("clock.check = 'file' needs clock.sync_file")
        return self

    def environment_problems(self) -> list[str]:
        """What this machine says is wrong with the enabled sources (a missing interface, ...), by key path."""
        return [
            problem for _, where, cfg in self.source_entries() for problem in cfg.environment_problems(where)
        ]

    def environment_warnings(self) -> list[str]:
        """What this machine lacks that the gateway survives (a Wi-Fi tool or leases file), by key path."""
        return [
            problem for _, where, cfg in self.source_entries() for problem in cfg.environment_warnings(where)
        ]

    def static_warnings(self) -> list[str]:
        """What the file leaves to defaults that are rarely right on a real gateway, by key path."""
        if "url" not in self.influxdb.model_fields_set:
            where = "influxdb.url" if "influxdb" in self.model_fields_set else "influxdb"
            return [
                f"{where}: not set: points go to the default {self.influxdb.url} (database "
                f"{self.influxdb.database!r}); set [influxdb] url (or THONMINH_INFLUXDB__URL)"
            ]
        return []

    def origin(self, problem: str) -> str:
        """Where the value a ``key.path: ...`` problem is about came from: its environment variable, or the file."""
        path = problem.split(":", 1)[0]
        for key, variable in self._origins.items():
            if path == key or path.startswith((key + ".", key + "[")):
                return variable
        return self._file

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

    def health_path(self) -> Path:
        """The agent's health file (``thonminh edge status`` reads it): in the intake's tmpfs directory, by the
        intake's rule, so its rewrites every few seconds never reach the SD card; named after the intake (one per
        buffer, as the agent is). It survives the agent, not a reboot."""
        intake = self.buffer.intake_path()
        return intake.with_name(
            "health-" + intake.name.removeprefix("intake-").removesuffix(".sqlite") + ".json"
        )

    @property
    def evidence_key_path(self) -> Path:
        """The gateway's private signing key (0600, in a 0700 directory): ``thonminh edge init`` or the first
        run creates it."""
        return self.state_dir / "evidence" / "gateway.key"

    def evidence_runtime(self) -> Path:
        """The prefix of the signing chain's files on tmpfs (the chain, batches not yet acknowledged), beside
        the intake by its rule: rewritten with every batch, so never on the SD card."""
        intake = self.buffer.intake_path()
        return intake.with_name("evidence-" + intake.name.removeprefix("intake-").removesuffix(".sqlite"))

    def source_context(self, source: type[Source], key_path: str, **parts: Any) -> SourceContext:
        """The context of a ``source`` configured at ``key_path``: this site, and the broker if it uses one.

        ``parts`` are the rest of ``SourceContext`` (``emit``, ``logger``, ``state_dir``, the clock, ...).
        """
        site = self.site
        return SourceContext(
            site_tags=site.tags(),
            timezone=site.timezone,
            location=(site.latitude, site.longitude),
            mqtt=self.mqtt if source.uses_mqtt else None,
            key_path=key_path,
            **parts,
        )


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


def _env_key_path(keys: tuple[str, ...]) -> str:
    """``("sources", "uplink", "interface")`` -> ``sources.uplink[0].interface`` (one instance needs no index)."""
    out = ""
    for i, key in enumerate(keys):
        if key.isdigit():
            out += f"[{key}]"
            continue
        if i == 2 and keys[0] == "sources":
            out += "[0]"
        out += f".{key}" if out else key
    return out


def load_gateway_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Load and validate ``gateway.toml``; ``ConfigError`` names the file (or the environment variable) and the
    key path of every problem, and a misspelt section by its line."""
    model = gateway_config_model()
    # the unit's EnvironmentFile: a command run by hand gets the secrets the agent gets
    environ = environ_with_file(Path(path).with_name(ENV_FILE)) if environ is None else environ
    try:
        config = load_config(path, model, environ=environ)
    except ConfigError as err:
        if not isinstance(err.__cause__, tomllib.TOMLDecodeError | ValueError):
            raise
        name = Path(path).name
        sections = misnamed_sections(Path(path).read_text(encoding="utf-8"), model)
        if not sections:
            raise
        # the section first: what the parser or the model said follows, it is about the same table
        raise ConfigError("\n".join([f"{name}: {s}" for s in sections] + [str(err)])) from err
    _resolve_paths(config, Path(path).resolve().parent)
    config._file = Path(path).name
    config._origins = {
        _env_key_path(keys): variable for keys, _, variable in environment_overrides(model, environ)
    }
    return config
