"""Our own JSON for custom controllers: ``<base>/<device>/state`` and ``<base>/<device>/status``.

The payload is specified by ``docs/streetlight-json.schema.json``; this adapter checks the same rules by hand
(the gateway does not depend on a JSON Schema library) and the tests check that both agree. Unknown keys
are allowed, so newer firmware can add some without breaking older gateways.
"""

from __future__ import annotations

import math
from typing import Any, Final

from edge.rejects import shown
from edge.sources.lights.observation import (
    DEVICE_FAULTS,
    Meter,
    Observation,
    PayloadError,
    json_number,
    json_object,
    text,
)
from edge.sources.lights.topics import TopicMatch

__all__ = ["SCHEMA_VERSION", "parse"]

SCHEMA_VERSION: Final = 1
_SEQ_MAX: Final = 2**32 - 1
_INFORMATIONAL: Final = (("uptime_s", 0.0), ("rssi_dbm", -math.inf))
_METER: Final = (
    ("power_w", -1e6, 1e6),
    ("voltage_v", 0.0, 1e4),
    ("current_a", -1e4, 1e4),
    ("energy_kwh", -1e9, 1e9),
)


def parse(match: TopicMatch, payload: bytes) -> Observation | None:
    """One message of our format; ``None`` for topics other than ``state`` and ``status``."""
    if match.rest == ("status",):
        word = text(payload, "json status").lower()
        if word not in ("online", "offline"):
            raise PayloadError(f"json status: expected online or offline, got {shown(word)}")
        return Observation(match.device, online=word == "online", alive=word == "online")
    if match.rest != ("state",):
        return None
    return _state(match.device, json_object(payload, "json state"))


def _state(device: str, data: dict[str, Any]) -> Observation:
    what = "json state"
    version = data.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise PayloadError(f"{what}.v: version {shown(version)} is not {SCHEMA_VERSION}")
    if "on" not in data:
        raise PayloadError(f"{what}: required key 'on' is missing")
    if not isinstance(data["on"], bool):
        raise PayloadError(f"{what}.on: expected true or false, got {type(data['on']).__name__}")
    channel = _channel(data.get("channel", 1))
    levels = {}
    if "level" in data:
        levels[channel] = _int(data["level"], f"{what}.level", 0, 100)
    meter = Meter(
        **{
            key: json_number(data[key], f"{what}.{key}", lo=lo, hi=hi, null_ok=True)
            for key, lo, hi in _METER
            if key in data
        }
    )
    faults = _faults(data.get("faults", []), f"{what}.faults")
    seq = _int(data["seq"], f"{what}.seq", 0, _SEQ_MAX) if "seq" in data else None
    boot = _boot(data["boot"], f"{what}.boot") if "boot" in data else None
    for key, lo in _INFORMATIONAL:
        if key in data:
            json_number(data[key], f"{what}.{key}", lo=lo)
    return Observation(
        device,
        relays={channel: data["on"]},
        levels=levels,
        meters={channel: meter} if meter else {},
        faults=faults,
        fault_channel=channel,
        seq=seq,
        boot=boot,
    )


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadError(f"{what}: expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise PayloadError(f"{what}: {shown(value)} outside {lo}..{hi}")
    return value


def _channel(value: Any) -> str:
    if isinstance(value, str):
        if not 1 <= len(value) <= 32 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in value):
            raise PayloadError(f"json state.channel: {shown(value)} is not 1-32 letters, digits, '_' or '-'")
        return value
    return str(_int(value, "json state.channel", 1, 32))


def _boot(value: Any, what: str) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and 1 <= len(value) <= 64:
        return value
    raise PayloadError(f"{what}: expected an integer or a string of 1-64 characters")


def _faults(value: Any, what: str) -> dict[str, bool]:
    """The list is complete: a fault not listed is cleared."""
    if not isinstance(value, list):
        raise PayloadError(f"{what}: expected a list, got {type(value).__name__}")
    listed = set()
    for item in value:
        if not isinstance(item, str) or item not in DEVICE_FAULTS:
            raise PayloadError(
                f"{what}: unknown fault {shown(item)}; known: {', '.join(sorted(DEVICE_FAULTS))}"
            )
        if item in listed:
            raise PayloadError(f"{what}: {item!r} listed twice")
        listed.add(item)
    return {name: name in listed for name in DEVICE_FAULTS}
