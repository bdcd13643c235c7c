"""Which interface carries the default route: pure parsers of the kernel's routing tables.

``/proc/net/route`` (IPv4) and ``/proc/net/ipv6_route`` (IPv6) are read without spawning a process; the
``ip route`` text form is parsed too, for tables captured from a gateway. The kernel sends traffic through
the usable default route with the lowest metric, so that route's interface is the *active* uplink. Failover
(dhcpcd or NetworkManager removing the fiber route, mwan3 or a script changing metrics) shows up as the
lowest-metric default route moving to the 4G interface.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DefaultRoute",
    "active_interface",
    "interface_of_address",
    "parse_ip_route",
    "parse_proc_ipv6_route",
    "parse_proc_route",
    "read_default_routes",
]

_RTF_UP = 0x0001
_RTF_REJECT = 0x0200


@dataclass(frozen=True, slots=True)
class DefaultRoute:
    interface: str
    metric: int
    gateway: str | None = None


def _hex_ipv4(value: str) -> str:
    # /proc/net/route prints addresses as host-order (little-endian on every Pi) 32-bit hex
    raw = int(value, 16).to_bytes(4, "little")
    return ".".join(str(b) for b in raw)


def parse_proc_route(text: str) -> list[DefaultRoute]:
    """Default routes in ``/proc/net/route`` text (header line, then one route per line)."""
    routes = []
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) < 8:
            continue
        iface, dest, gateway, flags, _refcnt, _use, metric, mask = cols[:8]
        try:
            if int(dest, 16) != 0 or int(mask, 16) != 0:
                continue
            flag_bits = int(flags, 16)
            if not flag_bits & _RTF_UP or flag_bits & _RTF_REJECT:
                continue
            gw = _hex_ipv4(gateway) if int(gateway, 16) else None
            routes.append(DefaultRoute(iface, int(metric), gw))
        except ValueError:
            continue
    return routes


def parse_proc_ipv6_route(text: str) -> list[DefaultRoute]:
    """Default routes (``::/0``) in ``/proc/net/ipv6_route`` text, leaving out reject routes (``lo``)."""
    routes = []
    for line in text.splitlines():
        cols = line.split()
        if len(cols) != 10:
            continue
        dest, plen, _src, _splen, nexthop, metric, _ref, _use, flags, iface = cols
        try:
            if int(dest, 16) != 0 or int(plen, 16) != 0:
                continue
            flag_bits = int(flags, 16)
            if not flag_bits & _RTF_UP or flag_bits & _RTF_REJECT or iface == "lo":
                continue
            gw = None
            if int(nexthop, 16):
                gw = ":".join(nexthop[i : i + 4] for i in range(0, 32, 4))
            routes.append(DefaultRoute(iface, int(metric, 16), gw))
        except ValueError:
            continue
    return routes


def parse_ip_route(text: str) -> list[DefaultRoute]:
    """Default routes in ``ip route`` / ``ip -6 route`` output; ``linkdown`` and ``unreachable`` left out."""
    routes = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] != "default" or "linkdown" in words or "dead" in words:
            continue
        fields = dict(zip(words[1::2], words[2::2], strict=False))
        iface = fields.get("dev")
        if not iface:
            continue
        try:
            metric = int(fields.get("metric", "0"))
        except ValueError:
            metric = 0
        routes.append(DefaultRoute(iface, metric, fields.get("via")))
    return routes


def active_interface(routes: Iterable[DefaultRoute]) -> str | None:
    """The interface of the lowest-metric default route, or None when there is no default route."""
    best = min(routes, key=lambda r: r.metric, default=None)
    return best.interface if best else None


def _read(path: Path | None, parse: Callable[[str], list[DefaultRoute]]) -> list[DefaultRoute]:
    if path is None:
        return []
    try:
        return parse(path.read_text())
    except OSError:
        return []


def read_default_routes(
    ipv4: Path, ipv6: Path | None = None
) -> tuple[list[DefaultRoute], list[DefaultRoute]]:
    """Read both tables; a table that cannot be read counts as having no default route."""
    return _read(ipv4, parse_proc_route), _read(ipv6, parse_proc_ipv6_route)


def interface_of_address(address: str, *, if_inet6: Path = Path("/proc/net/if_inet6")) -> str | None:
    """The interface that holds ``address`` (IPv4 primary addresses via ioctl, IPv6 via ``if_inet6``)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        try:
            lines = if_inet6.read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            cols = line.split()
            if len(cols) == 6 and cols[0] == ip.exploded.replace(":", ""):
                return cols[5]
        return None
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(sock.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            if socket.inet_ntoa(raw[20:24]) == address:
                return name
    return None
