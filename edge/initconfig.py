"""The ``gateway.toml`` that ``thonminh edge init`` writes: its answers, checked, and their rendering as TOML."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import TypeAdapter, ValidationError

from edge.config import SiteConfig
from thonminh.config import validate_http_url
from thonminh.contract import check_slug

__all__ = ["Answers", "check_coordinate", "render_config"]

Coordinate = Literal["latitude", "longitude"]


@cache
def _coordinate_rule(key: Coordinate) -> TypeAdapter[float]:
    # the field of the file's [site] table itself: init can never accept what check-config then refuses
    return TypeAdapter(Annotated[float, SiteConfig.model_fields[key]])


def check_coordinate(key: Coordinate, value: str | float) -> float:
    """``value`` as the site's ``latitude`` or ``longitude``; ``ValueError`` naming it and the range, by
    ``SiteConfig``'s rule (NaN and infinity are out of every range). A decimal comma (``21,38``, as Vietnamese
    writes it) is read as the point."""
    if isinstance(value, str) and value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        return _coordinate_rule(key).validate_python(value)
    except ValidationError:
        bounds = {
            n: getattr(m, n)
            for m in SiteConfig.model_fields[key].metadata
            for n in ("ge", "le")
            if hasattr(m, n)
        }
        raise ValueError(
            f"{value!r} is not a {key} (a number from {bounds['ge']} to {bounds['le']})"
        ) from None


@dataclass(frozen=True, slots=True)
class Answers:
    """What ``init`` asks; every value already checked."""

    name: str
    village: str
    gateway: str
    latitude: float
    longitude: float
    influx_url: str
    database: str = "thonminh"
    username: str | None = None
    password: str | None = None
    commune: str | None = None
    district: str | None = None
    province: str | None = None
    fiber_interface: str | None = None
    cellular_interface: str | None = None
    modem_port: str | None = None
    lights_inventory: str | None = None
    state_dir: str = "/var/lib/thonminh"

    def __post_init__(self) -> None:
        for key in ("village", "gateway", "commune", "district", "province"):
            value = getattr(self, key)
            if value is not None:
                check_slug(value)
        validate_http_url(self.influx_url)
        check_coordinate("latitude", self.latitude)
        check_coordinate("longitude", self.longitude)


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


_TARGETS = """
[[sources.uplink.targets]]
kind = "tcp"
host = "1.1.1.1"
port = 443

[[sources.uplink.targets]]
kind = "dns"
host = "8.8.8.8"
query = "vnexpress.net"

[[sources.uplink.targets]]
kind = "icmp"
host = "9.9.9.9"
"""


def _uplink(link: str, interface: str, *, may_vanish: bool) -> str:
    missing = (
        "allow_missing_interface = true   # a USB modem's interface comes and goes\n" if may_vanish else ""
    )
    return (
        f"\n[[sources.uplink]]\nlink = {_s(link)}\ninterface = {_s(interface)}\n{missing}"
        f"interval_s = 10\ntimeout_s = 3\nmin_ok = 2\n" + _TARGETS
    )


def _site(a: Answers) -> str:
    lines = ["[site]", f"name = {_s(a.name)}", f"village = {_s(a.village)}", f"gateway = {_s(a.gateway)}"]
    lines += [
        f"{key} = {_s(value)}"
        for key in ("commune", "district", "province")
        if (value := getattr(a, key)) is not None
    ]
    lines += [f"latitude = {a.latitude}", f"longitude = {a.longitude}", 'timezone = "Asia/Ho_Chi_Minh"']
    return "\n".join(lines) + "\n"


def _influxdb(a: Answers) -> str:
    lines = ["[influxdb]", 'api = "v1"', f"url = {_s(a.influx_url)}", f"database = {_s(a.database)}"]
    if a.username:
        lines.append(f"username = {_s(a.username)}")
    if a.password:
        lines.append(f"password = {_s(a.password)}   # or THONMINH_INFLUXDB__PASSWORD in gateway.env")
    return "\n".join(lines) + "\n"


def _sources(a: Answers) -> str:
    parts = []
    if a.fiber_interface:
        parts.append(_uplink("fiber", a.fiber_interface, may_vanish=False))
    if a.cellular_interface:
        parts.append(_uplink("4g", a.cellular_interface, may_vanish=True))
    if a.modem_port:
        parts.append(
            f'\n[sources.modem]\nport = {_s(a.modem_port)}\nvendor = "auto"\nlink = "4g"\nid = "modem"\n'
        )
    else:
        parts.append(
            "\n# No modem found under /dev/serial/by-id: add [sources.modem] once it is plugged in.\n"
        )
    if a.lights_inventory:
        parts.append(f"\n[sources.lights]\ninventory = {_s(a.lights_inventory)}\n")
    parts.append("\n# The public Wi-Fi access point: see [sources.wifi] in edge/gateway.example.toml.\n")
    return "".join(parts)


def render_config(a: Answers) -> str:
    """The text of ``gateway.toml`` for these answers."""
    return (
        "# Written by `thonminh edge init`; every key is described in edge/gateway.example.toml.\n"
        "# Check with: thonminh edge check-config --config <this file>\n\n"
        f"state_dir = {_s(a.state_dir)}\n\n{_site(a)}\n{_influxdb(a)}\n"
        '[mqtt]\nhost = "127.0.0.1"\nport = 1883\nclient_id = "thonminh-gateway"\nusername = "thonminh-gateway"'
        "   # password: THONMINH_MQTT__PASSWORD in gateway.env\n\n"
        f"[buffer]\npath = {_s(str(Path(a.state_dir) / 'buffer.sqlite'))}\n" + _sources(a)
    )
