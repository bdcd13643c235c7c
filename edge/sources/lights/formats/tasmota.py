"""Tasmota: ``tele/<topic>/STATE|SENSOR|LWT``, ``stat/<topic>/POWER[n]|RESULT|STATUS8|STATUS10|STATUS11``.

Relays are ``POWER`` (one relay, channel ``"1"``) or ``POWER1``..``POWERn``, valued with the StateText words
(``"ON"``/``"OFF"``: Tasmota always writes them as strings). Energy comes in ``ENERGY`` with ``Power``,
``Voltage``, ``Current``, ``Total`` (kWh), JSON numbers, or ``null`` for a reading the meter does not have
(Tasmota's ``ext_snprintf`` writes NaN so); boards with several channels send lists, one entry per channel.
Tasmota up to 5.x sent energy on its own ``tele/<topic>/ENERGY`` topic. Key order, spacing (9.x padded
``"Power": 0``) and optional keys vary by version; nothing here depends on them.
"""

from __future__ import annotations

from typing import Any, Final

from edge.rejects import shown
from edge.sources.lights.observation import (
    Meter,
    Observation,
    PayloadError,
    json_number,
    json_object,
    on_off,
    text,
)
from edge.sources.lights.topics import TopicMatch

__all__ = ["parse"]

#: ``POWER``, ``POWER1``..``POWER99``: relay keys and topics.
_POWER_KEYS: Final = frozenset({"POWER", *(f"POWER{n}" for n in range(1, 100))})
_STATUS_SNS: Final = ("STATUS8", "STATUS10")
_JSON_SUFFIXES: Final = frozenset({"STATE", "RESULT", "SENSOR", "ENERGY", "STATUS11", *_STATUS_SNS})
_METER_KEYS: Final = (
    ("Power", "power_w", -1e6, 1e6),
    ("Voltage", "voltage_v", 0.0, 1e4),
    ("Current", "current_a", -1e4, 1e4),
    ("Total", "energy_kwh", -1e9, 1e9),
)


def parse(match: TopicMatch, payload: bytes) -> Observation | None:
    """One Tasmota message as an observation; ``None`` for topics that are not the device's own reports."""
    if len(match.rest) != 1 or match.captures.get("prefix", "") == "cmnd":
        return None  # not the device's own topic, or a command to it rather than a report from it
    suffix = match.rest[0].upper()
    device = match.device
    what = f"tasmota {suffix}"
    if suffix in _JSON_SUFFIXES:
        return _json(device, suffix, json_object(payload, what))
    if suffix == "LWT":
        word = text(payload, what).lower()
        if word not in ("online", "offline"):
            raise PayloadError(f"{what}: expected Online or Offline, got {shown(word)}")
        return Observation(device, online=word == "online", alive=word == "online")
    if suffix in _POWER_KEYS:
        return Observation(device, relays={_channel(suffix): on_off(text(payload, what), what)})
    return Observation(device)  # INFO1, UPTIME, MARGINS, ...: the device is alive, nothing more


def _json(device: str, suffix: str, data: dict[str, Any]) -> Observation:
    what = f"tasmota {suffix}"
    if suffix == "STATUS11":
        data = _nested(data, "StatusSTS", what)
    elif suffix in _STATUS_SNS:
        if "StatusPWR" in data:  # Tasmota 5.10 and older: energy straight under StatusPWR
            data = {"ENERGY": _nested(data, "StatusPWR", what)}
        else:
            data = _nested(data, "StatusSNS", what)
    elif "StatusSNS" in data or "StatusSTS" in data:  # a STATUS reply on RESULT (SetOption4 0)
        data = {
            **_nested(data, "StatusSNS", what, missing_ok=True),
            **_nested(data, "StatusSTS", what, missing_ok=True),
        }
    # in the payload's order: a later key of the same light wins
    relays = {
        _channel(key): on_off(value, f"{what}.{key}") for key, value in data.items() if key in _POWER_KEYS
    }
    levels = {}
    if "Dimmer" in data:
        levels["1"] = round(json_number(data["Dimmer"], f"{what}.Dimmer", lo=0, hi=100) or 0)
    energy = data if suffix == "ENERGY" else data.get("ENERGY")
    meters = _meters(energy, f"{what}.ENERGY") if energy is not None else {}
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
        raise PayloadError(f"{what}: expected an object, got {type(energy).__name__}")
    scalars: dict[str, float | None] = {}
    lists: dict[str, list[float | None]] = {}
    for key, field, lo, hi in _METER_KEYS:
        if key not in energy:
            continue
        value = energy[key]
        if isinstance(value, list):
            if not 1 <= len(value) <= 32:
                raise PayloadError(f"{what}.{key}: {len(value)} channels")
            lists[field] = [
                json_number(v, f"{what}.{key}[{i}]", lo=lo, hi=hi, null_ok=True) for i, v in enumerate(value)
            ]
        else:
            scalars[field] = json_number(value, f"{what}.{key}", lo=lo, hi=hi, null_ok=True)
    if not lists:
        found = Meter(**scalars)
        return {None: found} if found else {}
    meters: dict[str | None, Meter] = {}
    for i in range(max(len(v) for v in lists.values())):
        channel = Meter(
            **{**scalars, **{field: items[i] for field, items in lists.items() if i < len(items)}}
        )
        if channel:
            meters[str(i + 1)] = channel
    return meters


def _channel(key: str) -> str:
    digits = key[len("POWER") :]
    return digits or "1"
