"""Pure parsers of what access points print: ubus ``get_clients``, ``hostapd_cli``, ``iw`` and dnsmasq leases.

Every parser takes the raw text and returns plain data, or raises ``ParseError`` naming what was wrong.
MAC addresses are normalised (``aa:bb:cc:dd:ee:ff``) only so the source can hash them; ``Station`` never
shows its address in ``repr``, and ``redact`` scrubs addresses in every notation from text that could end up
in a log or a rejected-input sample.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApStatus",
    "LeaseCount",
    "ParseError",
    "Station",
    "is_locally_administered",
    "normalize_mac",
    "parse_dnsmasq_leases",
    "parse_hostapd_all_sta",
    "parse_hostapd_status",
    "parse_iw_info",
    "parse_iw_station_dump",
    "parse_ubus_clients",
    "redact",
]


class ParseError(ValueError):
    """The output is not what the tool prints: garbage, cut short or of another format."""


@dataclass(frozen=True, slots=True)
class Station:
    """One associated station. ``mac`` is kept out of ``repr`` so that it never lands in a log by accident."""

    mac: str = field(repr=False)
    rx_bytes: int | None = None
    tx_bytes: int | None = None
    #: Seconds since the station associated, where the back end says (hostapd_cli, iw; not ubus).
    connected_s: int | None = None


@dataclass(frozen=True, slots=True)
class ApStatus:
    """What a status query says about the BSS: enabled, and with an SSID."""

    up: bool
    reason: str


@dataclass(frozen=True, slots=True)
class LeaseCount:
    active: int
    total: int


# -- MAC addresses ---------------------------------------------------------------------------------------------

_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$")
_HEX = "0-9A-Fa-f"
# Every notation we know, plus runs of five or more hex pairs (client ids like 01:aa:bb:cc:dd:ee:ff).
_REDACT_RES = (
    re.compile(rf"(?<![{_HEX}])(?:[{_HEX}]{{1,2}}[:-]){{5,}}[{_HEX}]{{1,2}}(?![{_HEX}])"),
    re.compile(rf"(?<![{_HEX}])[{_HEX}]{{4}}\.[{_HEX}]{{4}}\.[{_HEX}]{{4}}(?![{_HEX}])"),
    re.compile(rf"(?<![{_HEX}])[{_HEX}]{{12}}(?![{_HEX}])"),
)


def normalize_mac(text: str) -> str:
    """``AA-BB-CC-DD-EE-FF`` or ``aa:bb:...`` -> ``aa:bb:cc:dd:ee:ff``; ``ParseError`` for anything else."""
    text = text.strip()
    if not _MAC_RE.match(text):
        raise ParseError("a station key is not a MAC address")
    return text.lower().replace("-", ":")


def is_locally_administered(mac: str) -> bool:
    """True for randomised ("private") addresses: bit 1 of the first octet is set."""
    return bool(int(mac[:2], 16) & 0x02)


def redact(text: str, *, limit: int = 2048) -> str:
    """``text`` with every MAC-like string replaced by ``<mac>``, cut to ``limit`` characters."""
    for pattern in _REDACT_RES:
        text = pattern.sub("<mac>", text)
    return text if len(text) <= limit else text[:limit] + "...(cut)"


#: A counter or a time as the tools print it: ASCII digits, at most a 64-bit number's 20. ``int()`` would also
#: take ``'²'`` (where ``str.isdigit`` is true and ``int`` then fails), ``'٣'``, ``'1_0'`` or 5,000 digits.
_DIGITS = re.compile(r"[0-9]{1,20}")
_MAX_COUNTER = 2**64 - 1


def _unsigned(value: Any) -> int | None:
    """``value`` as a counter (a JSON integer or ASCII digits in 0..2^64-1), or None: the one number reader."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNTER:
        return value
    return None


def _int(value: Any, what: str) -> int:
    number = _unsigned(value)
    if number is None:
        raise ParseError(f"{what} is not an integer in 0..2^64-1")
    return number


# -- ubus call hostapd.<iface> get_clients -------------------------------------------------------------------


def parse_ubus_clients(text: str) -> list[Station]:
    """Associated stations from ``ubus call hostapd.<iface> get_clients`` (JSON, any indentation)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the JSON decoder goes
        raise ParseError("get_clients: not JSON (cut short, nested too deep or garbage)") from None
    if not isinstance(data, dict) or not isinstance(data.get("clients"), dict):
        raise ParseError("get_clients: no 'clients' object")
    stations = []
    for key, info in data["clients"].items():
        mac = normalize_mac(key)
        if not isinstance(info, dict):
            raise ParseError("get_clients: a client entry is not an object")
        if info.get("assoc") is False:
            continue  # authenticated only: not (yet) using the network
        counters = info.get("bytes")
        rx = tx = None
        if isinstance(counters, dict):
            rx = _int(counters.get("rx"), "get_clients: bytes.rx") if "rx" in counters else None
            tx = _int(counters.get("tx"), "get_clients: bytes.tx") if "tx" in counters else None
        stations.append(Station(mac, rx, tx, None))
    return stations


# -- hostapd_cli ---------------------------------------------------------------------------------------------

_CLI_FAILURE = re.compile(r"^'[A-Z_-]+' command (timed out|failed)", re.MULTILINE)


def _cli_lines(text: str, command: str) -> list[str]:
    if _CLI_FAILURE.search(text):
        raise ParseError(f"hostapd_cli {command}: the command timed out or failed")
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        # Printed when hostapd_cli picks the interface itself (no -i).
        if not line or line.startswith("Selected interface"):
            continue
        lines.append(line)
    if lines and lines[0] == "FAIL":
        raise ParseError(f"hostapd_cli {command}: FAIL")
    return lines


def parse_hostapd_status(text: str) -> ApStatus:
    """``hostapd_cli -i <iface> status``: up when ``state=ENABLED`` and an SSID is configured."""
    values = {}
    for line in _cli_lines(text, "status"):
        key, sep, value = line.partition("=")
        if not sep:
            raise ParseError("hostapd_cli status: a line is not key=value")
        values[key] = value
    state = values.get("state")
    if state is None:
        raise ParseError("hostapd_cli status: no state= line")
    if state != "ENABLED":
        return ApStatus(False, f"hostapd state {state}")
    # hostapd prints bss[i], bssid[i], ssid[i] for every BSS; without them the output was cut short.
    if not any(k == "ssid" or k.startswith("ssid[") for k in values):
        raise ParseError("hostapd_cli status: ENABLED but no ssid line (cut short?)")
    return ApStatus(True, "enabled")


def parse_hostapd_all_sta(text: str) -> list[Station]:
    """``hostapd_cli -i <iface> all_sta``: a MAC line opens each station, ``key=value`` lines follow."""
    stations: list[Station] = []
    current: dict[str, str] | None = None
    mac = ""

    def close() -> None:
        if current is None:
            return
        flags = current.get("flags", "")
        if flags and "[ASSOC]" not in flags:
            return
        rx = _int(current["rx_bytes"], "all_sta: rx_bytes") if "rx_bytes" in current else None
        tx = _int(current["tx_bytes"], "all_sta: tx_bytes") if "tx_bytes" in current else None
        conn = (
            _int(current["connected_time"], "all_sta: connected_time")
            if "connected_time" in current
            else None
        )
        stations.append(Station(mac, rx, tx, conn))

    for line in _cli_lines(text, "all_sta"):
        key, sep, value = line.partition("=")
        if not sep:
            close()
            mac = normalize_mac(line)
            current = {}
            continue
        if current is None:
            raise ParseError("hostapd_cli all_sta: key=value before any station address")
        current[key] = value
    close()
    return stations


# -- iw ------------------------------------------------------------------------------------------------------

_IW_STATION = re.compile(r"^Station\s+(\S+)\s+\(on\s+\S+\)\s*$")
_IW_LINK = re.compile(r"^Link\s+\d+:\s*$")


def parse_iw_info(text: str) -> ApStatus:
    """``iw dev <iface> info``: up when the interface is of type AP and carries an SSID."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Interface "):
        raise ParseError("iw info: does not start with 'Interface <name>'")
    kind = ssid = None
    for line in lines[1:]:
        if line.startswith("type "):
            kind = line[5:].strip()
        elif line.startswith("ssid "):
            ssid = line[5:].strip()
    if kind is None:
        raise ParseError("iw info: no 'type' line")
    if kind != "AP":
        return ApStatus(False, f"interface type {kind}")
    if not ssid:
        return ApStatus(False, "no SSID")
    return ApStatus(True, "AP with SSID")


def _iw_field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def _iw_number(value: str, what: str) -> int:
    head = value.split()[0] if value.split() else ""
    return _int(head, f"station dump: {what}")


def parse_iw_station_dump(text: str) -> list[Station]:
    """``iw dev <iface> station dump``, tabs or spaces, with or without signal lines, MLO links summed."""
    stations: list[Station] = []
    block: dict[str, str] | None = None
    links: list[dict[str, str]] = []
    mac = ""

    def close() -> None:
        if block is None:
            return
        if block.get("associated", "yes") != "yes":
            return
        totals: list[int | None] = []
        for key in ("rx bytes", "tx bytes"):
            if key in block:
                totals.append(_iw_number(block[key], key))
            elif any(key in link for link in links):
                totals.append(sum(_iw_number(link[key], key) for link in links if key in link))
            else:
                totals.append(None)  # some drivers report no byte counters at all
        conn = _iw_number(block["connected time"], "connected time") if "connected time" in block else None
        stations.append(Station(mac, totals[0], totals[1], conn))

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _IW_STATION.match(line)
        if match:
            close()
            mac = normalize_mac(match.group(1))
            block, links = {}, []
            continue
        if block is None:
            raise ParseError("iw station dump: a line before any 'Station <mac>' line")
        if _IW_LINK.match(line):
            links.append({})
            continue
        key, value = _iw_field(line)
        (links[-1] if links else block)[key] = value
    close()
    return stations


# -- dnsmasq leases ------------------------------------------------------------------------------------------

#: A first field below this is a lease length (dnsmasq built with HAVE_BROKEN_RTC), not an expiry time.
_EPOCH_2001 = 978_307_200


def parse_dnsmasq_leases(text: str, now_s: float) -> LeaseCount:
    """Count IPv4 leases in a dnsmasq lease file; active = infinite (0), unexpired or of unknown expiry.

    Lines are ``<expiry> <mac> <ip> <hostname|*> <client-id|*>``; the ``duid`` line and the DHCPv6 leases
    after it are skipped. Addresses are never returned.
    """
    active = total = bad = 0
    for raw in text.splitlines():
        parts = raw.split()
        if not parts or parts[0] == "duid":
            continue
        expiry = _unsigned(parts[0])
        if len(parts) < 4 or expiry is None:
            bad += 1
            continue
        if ":" in parts[2]:
            continue  # DHCPv6 lease of a device already counted by its IPv4 lease
        total += 1
        if expiry == 0 or expiry < _EPOCH_2001 or expiry > now_s:
            active += 1
    if bad and not total:
        raise ParseError(f"dnsmasq leases: {bad} line(s) not in the lease-file format")
    return LeaseCount(active, total)
