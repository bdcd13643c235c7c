"""``[sources.wifi]``: which access point, through which back end, and the cultural house's opening hours."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from edge.sources.base import SourceConfig
from edge.sources.wifi.hours import OpeningHours
from thonminh.config import Slug, StrictModel, validate_http_url

__all__ = ["Backend", "SshSettings", "UbusHttpSettings", "WifiConfig"]

Backend = Literal["ubus", "ubus_ssh", "ubus_http", "hostapd_cli", "iw"]

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_REMOTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,200}$")


def _ifname(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not an interface name (letters, digits, '.', '_', '-')")
    return value


IfName = Annotated[str, AfterValidator(_ifname)]


class SshSettings(StrictModel):
    """Run ``ubus`` on the access point over SSH (key authentication only; never a password)."""

    host: str = Field(min_length=1, description="the access point, e.g. 192.168.1.1")
    user: str = Field("thonminh", min_length=1)
    port: int = Field(22, ge=1, le=65535)
    identity_file: Path | None = Field(None, description="private key of the gateway")
    known_hosts_file: Path | None = Field(None, description="pins the access point's host key")
    command: str = Field("ssh", description="the ssh client")

    @field_validator("host", "user")
    @classmethod
    def _no_options(cls, value: str) -> str:
        if value.startswith("-") or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} must not start with '-' or contain spaces")
        return value


class UbusHttpSettings(StrictModel):
    """Call ubus through uhttpd's JSON-RPC endpoint with an rpcd login (see firmware_config/openwrt)."""

    url: str = Field(description="e.g. http://192.168.1.1/ubus")
    username: str = Field("thonminh", min_length=1)
    password: SecretStr = Field(description="rpcd password; or set THONMINH_SOURCES__WIFI__HTTP__PASSWORD")
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        return validate_http_url(value)


class WifiConfig(SourceConfig):
    """The public Wi-Fi access point at the cultural house."""

    interval_s: float = Field(60.0, gt=0, le=86_400, description="polling interval")
    ap: Slug = Field("cultural-house", description="the `ap` tag of every point")
    backend: Backend = Field("ubus", description="ubus | ubus_ssh | ubus_http | hostapd_cli | iw")
    interfaces: list[IfName] = Field(
        default_factory=lambda: ["phy0-ap0", "wlan0"],
        min_length=1,
        description="AP interface names, tried in order (OpenWrt 23.05+ says phy0-ap0, older wlan0)",
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="per command or request")
    command: str | None = Field(None, description="the ubus / hostapd_cli / iw executable; default by name")
    hostapd_ctrl_dir: Path | None = Field(None, description="hostapd_cli -p: hostapd's ctrl_interface")
    ssh: SshSettings | None = None
    http: UbusHttpSettings | None = None
    leases_file: str | None = Field(
        None,
        description="dnsmasq lease file where the back end runs, e.g. /tmp/dhcp.leases (OpenWrt)",
    )
    opening_hours: list[OpeningHours] = Field(default_factory=list, description="local opening hours")
    unreachable_as_down: bool = Field(
        False,
        description="count a poll the AP did not answer as down instead of unknown",
    )

    @field_validator("leases_file")
    @classmethod
    def _valid_leases_file(cls, value: str | None) -> str | None:
        if value is not None and not _REMOTE_PATH.match(value):
            raise ValueError(f"{value!r} is not an absolute path of letters, digits, '.', '_', '-' and '/'")
        return value

    def environment_warnings(self, where: str) -> list[str]:
        """A back-end tool or leases file missing on this machine: the source reports unknown until it appears."""
        if self.backend == "ubus_http":
            return []
        warnings = []
        key, tool = (
            ("ssh.command", self.ssh.command)
            if self.ssh is not None and self.backend == "ubus_ssh"
            else ("command", self.command or ("ubus" if self.backend == "ubus" else self.backend))
        )
        if shutil.which(tool) is None:
            warnings.append(
                f"{where}.{key}: {tool!r} not found on this machine (not installed, or not on PATH); "
                f"the Wi-Fi source reports unknown until it is"
            )
        # over SSH the leases file is on the access point, not here
        if (
            self.leases_file is not None
            and self.backend != "ubus_ssh"
            and not Path(self.leases_file).is_file()
        ):
            warnings.append(
                f"{where}.leases_file: {self.leases_file} does not exist (dnsmasq not running here, or "
                f"another path?); DHCP leases are left out until it does"
            )
        return warnings

    @model_validator(mode="after")
    def _backend_settings(self) -> WifiConfig:
        if self.backend == "ubus_ssh" and self.ssh is None:
            raise ValueError("backend = 'ubus_ssh' needs a [sources.wifi.ssh] table with host")
        if self.backend == "ubus_http" and self.http is None:
            raise ValueError("backend = 'ubus_http' needs a [sources.wifi.http] table with url and password")
        if self.interval_s <= self.timeout_s:
            raise ValueError(f"interval_s ({self.interval_s}) must exceed timeout_s ({self.timeout_s})")
        return self
