"""``[[sources.uplink]]``: one instance per uplink (fiber, 4G, ...), each probed through that uplink only.

Validation here is static (it holds on any machine, so a config can be checked before it is deployed);
what depends on this machine (does the interface exist, is the source address ours) is checked by
``environment_problems`` at ``init``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

from edge.sources.base import SourceConfig
from thonminh.config import Slug, StrictModel, validate_http_url

__all__ = ["TargetConfig", "UplinkConfig", "interface_exists"]

# Linux interface names: at most 15 bytes, no '/', no whitespace (dev_valid_name in net/core/dev.c)
_IFNAME = re.compile(r"^[^/\s:]{1,15}$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:_]+$")

ProbeKind = Literal["tcp", "http", "dns", "icmp"]


def _missing(field: str, message: str) -> ValidationError:
    # An error located at the missing key itself, so the message names e.g. sources.uplink[0].targets[1].port
    return ValidationError.from_exception_data(
        "TargetConfig",
        [InitErrorDetails(type="value_error", loc=(field,), input=None, ctx={"error": ValueError(message)})],
    )


class TargetConfig(StrictModel):
    """One probe target. ``kind`` decides which keys it needs:

    - ``tcp``: ``host`` and ``port`` (a TCP connect; the SYN/ACK is the answer);
    - ``http``: ``url`` (http or https), optional ``expect_status`` (default: any status below 400);
    - ``dns``: ``host`` (the resolver), optional ``port`` (53) and ``query`` (the name asked for);
    - ``icmp``: ``host`` (an echo request; needs CAP_NET_RAW or a ``net.ipv4.ping_group_range`` that
      includes the agent's group).
    """

    kind: ProbeKind
    name: str | None = Field(None, description="label in event reasons; defaults to kind + address")
    host: str | None = Field(None, description="IP address (best) or host name")
    port: int | None = Field(None, ge=1, le=65535)
    url: str | None = None
    expect_status: int | None = Field(None, ge=100, le=599)
    query: str = Field(
        "example.com", min_length=1, max_length=253, description="DNS name to ask for (type A)"
    )
    ca_file: Path | None = Field(None, description="https: trust this CA bundle instead of the system's")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.match(value):
            raise ValueError(f"{value!r} is not an IP address or host name")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else validate_http_url(value, strip_slash=False)

    @model_validator(mode="after")
    def _keys_for_kind(self) -> TargetConfig:
        if self.kind in ("tcp", "dns", "icmp") and not self.host:
            raise _missing("host", f"a {self.kind} target needs 'host'")
        if self.kind == "tcp" and self.port is None:
            raise _missing("port", "a tcp target needs 'port' (host:port to connect to)")
        if self.kind == "http" and not self.url:
            raise _missing("url", "an http target needs 'url'")
        if self.kind == "icmp" and self.port is not None:
            raise _missing("port", "an icmp target has no port")
        if self.kind != "http" and (self.url or self.expect_status or self.ca_file):
            key = "url" if self.url else "expect_status" if self.expect_status else "ca_file"
            raise _missing(key, f"a {self.kind} target takes no url, expect_status or ca_file")
        return self

    @property
    def address_host(self) -> str:
        """The host to resolve and connect to."""
        if self.kind == "http":
            assert self.url is not None
            return urlsplit(self.url).hostname or ""
        assert self.host is not None
        return self.host

    @property
    def address_port(self) -> int | None:
        if self.kind == "http":
            parts = urlsplit(self.url or "")
            return parts.port or (443 if parts.scheme == "https" else 80)
        if self.kind == "dns":
            return self.port or 53
        return self.port

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "http":
            return f"http {self.url}"
        host = self.host or ""
        shown = f"[{host}]" if ":" in host else host
        port = self.address_port
        return f"{self.kind} {shown}:{port}" if port else f"{self.kind} {shown}"


class UplinkConfig(SourceConfig):
    """One uplink: how to bind the probes to it, its targets, and its up/down hysteresis."""

    link: Slug = Field(description="the 'link' tag, e.g. 'fiber' or '4g'")
    interface: str | None = Field(None, description="bind probes to this interface (SO_BINDTODEVICE)")
    source_address: str | None = Field(None, description="bind probes to this local address")
    allow_missing_interface: bool = Field(
        False,
        description="start even if the interface is absent (a USB modem's wwan0): the link is then down",
    )
    timeout_s: float = Field(3.0, gt=0, le=60, description="per-target answer timeout, below interval_s")
    min_ok: int = Field(1, ge=1, description="targets that must answer for the link to be up in a cycle")
    down_after: int = Field(3, ge=1, le=100, description="failed cycles before the link is declared down")
    up_after: int = Field(2, ge=1, le=100, description="good cycles before the link is declared up again")
    resolver: str | None = Field(None, description="DNS server asked through this link for target host names")
    resolver_port: int = Field(53, ge=1, le=65535)
    route_table: Path = Field(Path("/proc/net/route"), description="IPv4 routing table read for 'active'")
    route_table_v6: Path = Field(
        Path("/proc/net/ipv6_route"), description="IPv6 routing table read for 'active'"
    )
    targets: list[TargetConfig] = Field(min_length=1, max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_link(cls, data: object) -> object:
        # each link gets its own instance name, hence its own state directory and logger
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("link"), str):
            data = {**data, "name": data["link"]}
        return data

    @field_validator("interface")
    @classmethod
    def _ifname(cls, value: str | None) -> str | None:
        if value is not None and not _IFNAME.match(value):
            raise ValueError(f"{value!r} is not a valid interface name")
        return value

    @field_validator("source_address", "resolver")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None

    @model_validator(mode="after")
    def _consistent(self) -> UplinkConfig:
        if self.interface is None and self.source_address is None:
            raise ValueError(
                "set 'interface' or 'source_address': a probe not bound to the uplink proves nothing"
            )
        if self.timeout_s >= self.interval_s:
            raise ValueError(f"timeout_s ({self.timeout_s}) must be below interval_s ({self.interval_s})")
        if self.min_ok > len(self.targets):
            raise ValueError(f"min_ok ({self.min_ok}) is more than the {len(self.targets)} target(s)")
        return self

    def environment_problems(self, where: str) -> list[str]:
        """What cannot work on this machine, each naming its key under ``where`` (e.g. ``sources.uplink[0]``)."""
        problems = []
        if (
            self.interface is not None
            and not self.allow_missing_interface
            and not interface_exists(self.interface)
        ):
            known = ", ".join(sorted(n for _, n in socket.if_nameindex()))
            problems.append(
                f"{where}.interface: no network interface {self.interface!r} on this machine "
                f"(have: {known}); set allow_missing_interface = true if it comes and goes"
            )
        if self.source_address is not None and not _is_local_address(self.source_address):
            problems.append(
                f"{where}.source_address: {self.source_address} is not an address of this machine"
            )
        return problems


def interface_exists(name: str) -> bool:
    """Whether a network interface of that name exists now."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return os.path.exists(f"/sys/class/net/{name}")
    return True


def _is_local_address(address: str) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind((address, 0))
    except OSError:
        return False
    return True
