"""ESPHome's MQTT layout under a node's ``topic_prefix``.

- ``<prefix>/status``: ``online`` (birth) / ``offline`` (will, published by the broker);
- ``<prefix>/light/<id>/state``: JSON; ``state`` ``ON``/``OFF`` and ``brightness`` 0..255. Since 2021.8 with
  ``color_mode`` and ``color``; 2021.8.0-2 left ``state`` out for brightness lights (esphome/issues#2345), in
  which case only the level is taken;
- ``<prefix>/switch/<id>/state``: ``ON``/``OFF`` (not the restart/safe-mode/factory-reset switches);
- ``<prefix>/sensor/<id>/state``: a decimal number as ``value_accuracy_to_string`` prints it (``229.10``),
  ``nan`` when the sensor has no reading (``None`` with ``publish_nan_as_none``). Sensors whose
  object id ends in ``power``, ``voltage``, ``current`` or ``energy`` (kWh, see firmware_config/esphome) are
  the meter;
- ``<prefix>/binary_sensor/<fault>/state``: a device fault (``lamp_failure``, ...) when the id names one.

Commands (``.../command``) are not the device's reports and are ignored.
"""

from __future__ import annotations

from typing import Final

from edge.rejects import shown
from edge.sources.lights.observation import (
    DEVICE_FAULTS,
    Meter,
    Observation,
    PayloadError,
    json_number,
    json_object,
    on_off,
    text,
    text_number,
)
from edge.sources.lights.topics import TopicMatch

__all__ = ["meter_role", "parse"]

_ROLES: Final = {"power": "power_w", "voltage": "voltage_v", "current": "current_a", "energy": "energy_kwh"}
_LIMITS: Final = {
    "power_w": (-1e6, 1e6),
    "voltage_v": (0.0, 1e4),
    "current_a": (-1e4, 1e4),
    "energy_kwh": (-1e9, 1e9),
}
#: Counters that reset every day are not the energy counter the contract means.
_NOT_TOTAL: Final = frozenset({"daily", "today", "yesterday", "week", "month"})
#: Switches ESPHome nodes commonly carry besides the relay (``platform: restart`` and friends): not the lamp.
_SYSTEM_SWITCH: Final = frozenset({"restart", "reboot", "shutdown", "safe", "factory", "reset"})
#: ESPHome's dashboard discovery answers on ``esphome/discover/<node>``; not a device under our prefix.
_RESERVED_NODES: Final = frozenset({"discover"})


def meter_role(object_id: str) -> str | None:
    """The meter field an ESPHome sensor feeds, judged by its object id, or ``None``."""
    tokens = object_id.lower().split("_")
    if _NOT_TOTAL & set(tokens):
        return None
    return _ROLES.get(tokens[-1])


def parse(match: TopicMatch, payload: bytes) -> Observation | None:
    """One ESPHome message as an observation; ``None`` for topics that are not the node's own reports."""
    device, rest = match.device, match.rest
    if device in _RESERVED_NODES or not rest or rest[-1] == "command":
        return None
    if rest == ("status",):
        word = text(payload, "esphome status").lower()
        if word not in ("online", "offline"):
            raise PayloadError(f"esphome status: expected online or offline, got {shown(word)}")
        return Observation(device, online=word == "online", alive=word == "online")
    if len(rest) != 3 or rest[2] != "state":
        return Observation(device)  # debug log lines and the like: alive, nothing more
    component, object_id = rest[0], rest[1]
    what = f"esphome {component}/{object_id}"
    if component == "light":
        return _light(device, object_id, payload, what)
    if component == "switch":
        if _SYSTEM_SWITCH & set(object_id.lower().replace("-", "_").split("_")):
            return Observation(device)
        return Observation(device, relays={object_id: on_off(text(payload, what), what)})
    if component == "sensor":
        role = meter_role(object_id)
        if role is None:
            return Observation(device)
        lo, hi = _LIMITS[role]
        value = text_number(payload, what, lo=lo, hi=hi)
        if value is None:  # "nan": the meter has no reading now
            return Observation(device)
        return Observation(device, meters={None: Meter(**{role: value})})
    if component == "binary_sensor" and object_id in DEVICE_FAULTS:
        return Observation(device, faults={object_id: on_off(text(payload, what), what)})
    return Observation(device)


def _light(device: str, object_id: str, payload: bytes, what: str) -> Observation:
    data = json_object(payload, what)
    relays = {}
    if "state" in data:
        relays[object_id] = on_off(data["state"], f"{what}.state")
    levels = {}
    if "brightness" in data:
        brightness = json_number(data["brightness"], f"{what}.brightness", lo=0, hi=255) or 0.0
        levels[object_id] = round(brightness * 100 / 255)
    return Observation(device, relays=relays, levels=levels)
