"""Tasmota: ``tele/<topic>/STATE|SENSOR|LWT``, ``stat/<topic>/POWER[n]|RESULT|STATUS8|STATUS10|STATUS11``.

Relays are ``POWER`` (one relay, channel ``"1"``) or ``POWER1``..``POWERn``. Energy comes in ``ENERGY`` with
``Power``, ``Voltage``, ``Current``, ``Total`` (kWh); boards with several channels send lists, one entry per
channel. Tasmota up to 5.x sent energy on its own ``tele/<topic>/ENERGY`` topic. Key order, spacing
(9.x padded ``"Power": 0``) and optional keys vary by version; nothing here depends on them.
"""

from __future__ import annotations

import re
from typing import Any, Final

from edge.sources.lights.observation import (
    Meter,
    Observation,
    PayloadError,
    json_object,
    number,
    on_off,
    text,
)
from edge.sources.lights.topics import TopicMatch

__all__ = ["parse"]

_POWER_KEY: Final = re.compile(r"^POWER([1-9][0-9]?)?$")
_STATUS_SNS: Final = ("STATUS8", "STATUS10")
_JSON_SUFFIXES: Final = frozenset({"STATE", "RESULT", "SENSOR", "ENERGY", "STATUS11", *_STATUS_SNS})
_METER_KEYS: Final = (
    ("Power", "power_w", -1e6, 1e6),
    ("Voltage", "voltage_v", 0.0, 1e4),
    ("Current", "current_a", -1e4, 1e4),
    ("Total", "energy_kwh", -1e9, 1e9),
)


def parse(match: TopicMatch, payload: bytes) -> Observation | None:
    """One Tasmota message as an observation; ``None`` for topics that are not the device's own."""
    if len(match.rest) != 1:
        return None
    suffix = match.rest[0].upper()
    prefix = match.captures.get("prefix", "")
    device = match.device
    if prefix == "cmnd":
        return None  # commands to the device, not reports from it
    what = f"tasmota {suffix}"
    if suffix == "LWT":
        word = text(payload, what).lower()
        if word not in ("online", "offline"):
            raise PayloadError(f"{what}: expected Online or Offline, got {word[:20]!r}")
        online = word == "online"
        return Observation(device, online=online, alive=online)
    # The JSON topics first (nearly every message; the sets are disjoint): the POWER regex and a tuple built
    # per call cost ~1 us a message.
    if suffix in _JSON_SUFFIXES:
        return _from_json(device, suffix, json_object(payload, what))
    if _POWER_KEY.match(suffix):
        return Observation(device, relays={_channel(suffix): on_off(text(payload, what), what)})
    return Observation(device)  # INFO1, UPTIME, MARGINS, ...: the device is alive, nothing more


def _from_json(device: str, suffix: str, data: dict[str, Any]) -> Observation:
    what = f"tasmota {suffix}"
    if suffix == "STATUS11":
        data = _nested(data, "StatusSTS", what)
    elif suffix in _STATUS_SNS:
        if "StatusPWR" in data:  # Tasmota 5.10 and older: energy straight under StatusPWR
            data = {"ENERGY": _nested(data, "StatusPWR", what)}
        else:
            data = _nested(data, "StatusSNS", what)
    elif "StatusSNS" in data or "StatusSTS" in data:  # a STATUS reply on RESULT (SetOption4 0)
        data = {**_nested(data, "StatusSNS", what, missing_ok=True), **_nested(data, "StatusSTS", what, missing_ok=True)}
    relays = {}
    for key, value in data.items():
        if key.startswith("POWER") and _POWER_KEY.match(key):
            relays[_channel(key)] = on_off(value, f"{what}.{key}")
    levels = {}
    if "Dimmer" in data:
        level = number(data["Dimmer"], f"{what}.Dimmer", lo=0, hi=100)
        if level is not None:
            levels["1"] = round(level)
    energy = data if suffix == "ENERGY" else data.get("ENERGY")
    meters = _meters(energy, what) if energy is not None else {}
    return Observation(device, relays=relays, levels=levels, meters=meters)


def _nested(data: dict[str, Any], key: str, what: str, *, missing_ok: bool = False) -> dict[str, Any]:
    inner = data.get(key)
    if inner is None and missing_ok:
        return {}
    if not isinstance(inner, dict):
        raise PayloadError(f"{what}: expected an object under {key!r}")
    return inner


def _meters(energy: Any, what: str) -> dict[str | None, Meter]:
    """Scalars are the device's meter; lists give one meter per channel (scalars then shared by all)."""
    if not isinstance(energy, dict):
        raise PayloadError(f"{what}.ENERGY: expected an object, got {type(energy).__name__}")
    scalars: dict[str, float | None] = {}
    lists: dict[str, list[float | None]] = {}
    for key, name, lo, hi in _METER_KEYS:
        if key not in energy:
            continue
        value = energy[key]
        where = f"{what}.ENERGY.{key}"
        if isinstance(value, list):
            if not 1 <= len(value) <= 32:
                raise PayloadError(f"{where}: {len(value)} channels")
            lists[name] = [number(v, f"{where}[{i}]", lo=lo, hi=hi) for i, v in enumerate(value)]
        else:
            scalars[name] = number(value, where, lo=lo, hi=hi)
    if not lists:
        meter = Meter(**scalars)
        return {None: meter} if meter else {}
    channels = max(len(v) for v in lists.values())
    meters: dict[str | None, Meter] = {}
    for i in range(channels):
        values = dict(scalars)
        for name, items in lists.items():
            if i < len(items):
                values[name] = items[i]
        meter = Meter(**values)
        if meter:
            meters[str(i + 1)] = meter
    return meters


def _channel(key: str) -> str:
    digits = key[len("POWER"):]
    return digits or "1"
