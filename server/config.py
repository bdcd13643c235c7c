"""``server.toml``: where InfluxDB is, API keys, time rules, rollups and the criteria file.

Loaded with ``thonminh.config.load_config``; secrets come from the environment with the prefix
``THONMINH_SERVER_`` (``THONMINH_SERVER_AUTH__ADMIN_KEYS__HOA=...``), so keys never need to sit in the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from server.timeparse import LONGEST_WINDOW_DAYS
from thonminh.config import InfluxSettings, StrictModel, load_config
from thonminh.contract import DAILY_TZ
from thonminh.criteria import DEFAULT_CRITERIA_FILE

__all__ = [
    "ENV_PREFIX",
    "PlaceLevel",
    "AuthSettings",
    "EvidenceSettings",
    "HttpSettings",
    "PagesSettings",
    "PlaceSettings",
    "RollupSettings",
    "ServerConfig",
    "VillageSettings",
    "load_server_config",
]

ENV_PREFIX = "THONMINH_SERVER_"
#: the places a village lies in, each named by a site tag's slug
PlaceLevel = Literal["village", "commune", "district", "province"]
DEFAULT_CRITERIA = DEFAULT_CRITERIA_FILE

_KEY_NAME = r"^[A-Za-z0-9_.@-]{1,64}$"


class AuthSettings(StrictModel):
    """API keys by name. The name of the admin key that wrote an indicator is stored as its ``source``."""

    read_keys: dict[str, SecretStr] = Field(default_factory=dict)
    admin_keys: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("read_keys", "admin_keys")
    @classmethod
    def _sane(cls, keys: dict[str, SecretStr]) -> dict[str, SecretStr]:
        import re

        for name, key in keys.items():
            if not re.match(_KEY_NAME, name):
                raise ValueError(f"key name {name!r} must match {_KEY_NAME}")
            if len(key.get_secret_value()) < 16:
                raise ValueError(f"key {name!r} is shorter than 16 characters")
        return keys

    @property
    def configured(self) -> bool:
        return bool(self.read_keys or self.admin_keys)


class HttpSettings(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    #: the addresses (or networks) of the TLS proxies whose ``X-Forwarded-Proto`` / ``-For`` are believed: a
    #: session cookie is ``Secure`` when the browser's request was https, which only the proxy knows
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"], max_length=64)
    #: The largest request body taken, in KiB: a body over it is refused (413) as it arrives, never held whole.
    #: The largest the service needs is a form or an entry of about 1 KiB; the sign-in form needs no key.
    max_body_kib: int = Field(64, ge=1, le=1024 * 1024)


class RollupSettings(StrictModel):
    """Hourly rollups written by the service (see docs/api.md, "Rollups")."""

    enabled: bool = True
    #: ``into``: ``SELECT ... INTO`` inside InfluxDB (1.x). ``write``: read hourly aggregates, write them back as
    #: line protocol through ``/write`` (works on 1.x, 2.x and 3.x, which have no ``INTO``).
    mode: Literal["into", "write"] = "into"
    retention_policy: str = Field("thonminh_1h", min_length=1, max_length=64)
    #: Create the retention policy when missing (1.x only; on 2.x/3.x create the bucket and DBRP mapping).
    create_retention_policy: bool = True
    #: Run the maintenance loop in the background (tests and one-shot tools turn this off).
    background: bool = True
    interval_s: float = Field(300.0, ge=1, le=86400)
    #: Closed hours younger than this are rolled again on every pass, for data the gateways forwarded late.
    late_window_h: int = Field(6, ge=1, le=24 * 60)
    #: Older hours are rolled again a day per pass, newest first, over this many days (a slow sweep), each day's
    #: stored rows first compared with its samples (``server.rollup_rows``): rows older are never audited.
    reconcile_days: int = Field(35, ge=1, le=3660)
    #: The share of the time that walk may take: after a day that took t seconds, the next waits
    #: t * (1 / share - 1). A village's day takes a fraction of a second (a day every pass); a province's
    #: about four minutes (bench/rollup_audit.py: a day every 45 minutes, the walk in a day). 1: every pass.
    reconcile_share: float = Field(0.1, gt=0, le=1)
    #: How far back the first catch-up goes.
    backfill_days: int = Field(400, ge=1, le=3660)


class VillageSettings(StrictModel):
    """What the data does not carry about a village (``[villages.<slug>]``)."""

    #: the village's name as people write it ("Khả Lý Thượng"); pages show the slug without it
    name: str | None = Field(None, min_length=1, max_length=120)
    #: opt-in: its status page (verdicts and availability only) is served without a key
    public: bool = False


class PlaceSettings(StrictModel):
    """A commune's, district's or province's name as people write it (``[communes.<slug>]``,
    ``[districts.<slug>]``, ``[provinces.<slug>]``): the data carries only slugs ("an-lac"), which pages and
    dossiers show where no name is set."""

    name: str = Field(min_length=1, max_length=120)


def _relative(value: Path | None, info: ValidationInfo) -> Path | None:
    base = (info.context or {}).get("config_dir")
    if value is not None and base is not None and not value.is_absolute():
        value = Path(base) / value
    return value


class PagesSettings(StrictModel):
    """The HTML pages (docs/pages.md): browser sign-in with a read key, kept in a signed session cookie."""

    #: signs the session cookies; by default derived from the configured keys, so replicas with the same keys
    #: agree and changing the keys signs everyone out
    session_secret: SecretStr | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 90)
    #: Where the sessions signed out are kept until they would have expired, so that a restart does not let a
    #: cookie copied before its sign-out work again (a SQLite file the service creates; relative paths are
    #: relative to the config file). Unset: ``signed-out.sqlite`` beside the key registry; without a registry,
    #: in memory only.
    signed_out: Path | None = None

    @field_validator("signed_out")
    @classmethod
    def _relative_to_config(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _relative(value, info)


class EvidenceSettings(StrictModel):
    """Signed evidence (docs/evidence.md): where the gateways' public keys are registered."""

    #: The key registry, a SQLite file the service creates; relative paths are relative to the config file.
    #: Unset: nothing is verified, every verdict's ``verification.status`` is ``not_configured``.
    registry: Path | None = None
    #: Where the results of settled hours are kept across restarts (a SQLite file the service creates;
    #: relative paths are relative to the config file), so a restart verifies nothing again. Unset:
    #: ``verification.sqlite`` beside the registry.
    results: Path | None = None
    #: How long the result of an hour still running (or of one closed less than 2 hours ago) is reused, in
    #: seconds: a point altered in it shows in the answers after at most this long.
    recent_s: float = Field(300.0, gt=0, le=3600)
    #: After how many seconds the result of a settled hour (closed more than 2 hours ago) is read again by the
    #: background sweep: a point altered in it shows in the answers after about this long. Each read costs
    #: about 60 ms of CPU a village-hour: a week, the default, is 43 CPU-s a week for a village's 30 days and
    #: 3.4 CPU-hours a day (14 % of a core) for 2,000 villages.
    reverify_s: float = Field(7 * 86_400.0, ge=600, le=90 * 86_400)
    #: Processes that verify a long window read cold (a first start over old data, ``thonminh verify`` of a
    #: month): verifying is CPU in Python, one core a process, about 30 CPU-s a village-month. Each peaks at
    #: about 180 MB while it verifies its part. 1: the service's own process only. Unset: the machine's
    #: cores, at most 4.
    workers: int | None = Field(None, ge=1, le=64)

    #: The criteria service's own Ed25519 key, which signs the manual indicators it enters (made on the first
    #: entry, 0600; relative paths are relative to the config file). Unset: ``service.key`` beside the registry.
    service_key: Path | None = None

    @field_validator("registry", "results", "service_key")
    @classmethod
    def _relative_to_config(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return _relative(value, info)

    @property
    def results_file(self) -> Path | None:
        """Where the results are kept: ``results``, else beside the registry; None without a registry."""
        if self.registry is None:
            return None
        return self.results or self.registry.with_name("verification.sqlite")

    @property
    def indicator_heads_file(self) -> Path | None:
        """How many manual indicator entries each village has (``server.evidence.indicator_heads``): beside
        the registry; None without one."""
        return None if self.registry is None else self.registry.with_name("indicator-heads.sqlite")

    @property
    def service_key_file(self) -> Path | None:
        """The service's own key: ``service_key``, else beside the registry; None without a registry."""
        if self.registry is None:
            return None
        return self.service_key or self.registry.with_name("service.key")


class ServerConfig(StrictModel):
    influxdb: InfluxSettings = Field(default_factory=InfluxSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rollups: RollupSettings = Field(default_factory=RollupSettings)
    pages: PagesSettings = Field(default_factory=PagesSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    villages: dict[str, VillageSettings] = Field(default_factory=dict)
    communes: dict[str, PlaceSettings] = Field(default_factory=dict)
    districts: dict[str, PlaceSettings] = Field(default_factory=dict)
    provinces: dict[str, PlaceSettings] = Field(default_factory=dict)
    #: Day boundaries of ``step=1d`` and of Wi-Fi days.
    timezone: str = DAILY_TZ
    default_window_days: int = Field(30, ge=1, le=3660)
    max_window_days: int = Field(400, ge=1, le=LONGEST_WINDOW_DAYS)
    #: Most buckets one ``step`` query may return.
    max_buckets: int = Field(2000, ge=1, le=100_000)
    #: The criteria definitions; relative paths are relative to this file. Default: the shipped criteria.yaml.
    criteria_file: Path = DEFAULT_CRITERIA
    #: The ``gateway`` tag of indicator points officials enter (API or page): they come from no gateway.
    indicator_gateway: str = "manual"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("criteria_file")
    @classmethod
    def _relative_to_config(cls, value: Path, info: ValidationInfo) -> Path:
        return _relative(value, info) or value

    @model_validator(mode="after")
    def _window_limits(self) -> ServerConfig:
        if self.default_window_days > self.max_window_days:
            raise ValueError("default_window_days is larger than max_window_days")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def signed_out_file(self) -> Path | None:
        """Where the sessions signed out are kept: ``[pages] signed_out``, else beside the key registry."""
        registry = self.evidence.registry
        return self.pages.signed_out or (registry and registry.with_name("signed-out.sqlite"))

    def place_name(self, level: PlaceLevel, slug: str) -> str:
        """A village's (commune's, district's, province's) name as people write it, else its slug."""
        tables: dict[PlaceLevel, Mapping[str, VillageSettings | PlaceSettings]] = {
            "village": self.villages,
            "commune": self.communes,
            "district": self.districts,
            "province": self.provinces,
        }
        settings = tables[level].get(slug)
        return settings.name if settings is not None and settings.name else slug

    def where_named(
        self, commune: str | None, district: str | None, province: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """A village's commune, district and province (slugs from its site tags, None where it has none), each
        named as people write it."""
        return (
            commune and self.place_name("commune", commune),
            district and self.place_name("district", district),
            province and self.place_name("province", province),
        )


def load_server_config(
    path: str | os.PathLike[str], *, environ: dict[str, str] | None = None
) -> ServerConfig:
    """Load and validate a server TOML file; ``ConfigError`` names the file and key path."""
    return load_config(path, ServerConfig, environ=environ, env_prefix=ENV_PREFIX)
