"""Tasmota: ``tele/<topic>/STATE|SENSOR|LWT``, ``stat/<topic>/POWER[n]|RESULT|STATUS8|STATUS10|STATUS11``.

Relays are ``POWER`` (one relay, channel ``"1"``) or ``POWER1``..``POWERn``. Energy comes in ``ENERGY`` with
``Power``, ``Voltage``, ``Current``, ``Total`` (kWh); boards with several channels send lists, one entry per
channel. Tasmota up to 5.x sent energy on its own ``tele/<topic>/ENERGY`` topic. Key order, spacing
(9.x padded ``"Power": 0``) and optional keys vary by version; nothing here depends on them.

``bind(match)`` works out once per topic what the topic alone decides (which message it is, the device, the
wording of errors) and returns the parser for that topic's payloads; the router keeps it with the topic.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from edge.sources.lights.observation import (
    Meter,
    Observation,
    Parser,
    PayloadError,
    json_object,
    meter,
    number,
    on_off,
    readings,
    text,
)
from edge.sources.lights.topics import TopicMatch

__all__ = ["bind", "parse"]

#: ``POWER``, ``POWER1``..``POWER99``: relay keys and topics. A set, not a regex: looking the keys of a STATE up
#: in it in one C call replaced a ``startswith`` per key (~1 us a STATE).
_POWER_KEYS: Final = frozenset({"POWER", *(f"POWER{n}" for n in range(1, 100))})
_STATUS_SNS: Final = ("STATUS8", "STATUS10")
_JSON_SUFFIXES: Final = frozenset({"STATE", "RESULT", "SENSOR", "ENERGY", "STATUS11", *_STATUS_SNS})
_METER_KEYS: Final = (
    ("Power", "power_w", -1e6, 1e6),
    ("Voltage", "voltage_v", 0.0, 1e4),
    ("Current", "current_a", -1e4, 1e4),
    ("Total", "energy_kwh", -1e9, 1e9),
)
_MISSING: Final = object()


def parse(match: TopicMatch, payload: bytes) -> Observation | None:
    """One Tasmota message as an observation; ``None`` for topics that are not the device's own."""
    return bind(match)(payload)


def bind(match: TopicMatch) -> Parser:
    """The parser of this topic's payloads."""
    if len(match.rest) != 1 or match.captures.get("prefix", "") == "cmnd":
        return _nothing  # not the device's own topic, or a command to it rather than a report from it
    suffix = match.rest[0].upper()
    device = match.device
    if suffix in _JSON_SUFFIXES:
        return functools.partial(_json, device, _kind(suffix))
    what = f"tasmota {suffix}"
    if suffix == "LWT":
        return functools.partial(_lwt, device, what)
    if suffix in _POWER_KEYS:
        return functools.partial(_power, device, _channel(suffix), what)
    alive = Observation(device)  # INFO1, UPTIME, MARGINS, ...: the device is alive, nothing more
    return lambda payload: alive


class _Kind:
    """What a JSON topic's parser needs to know of its kind of message (``STATE``, ``SENSOR``, ...), worked
    out once per kind: an f-string per reading per message cost ~0.3 us each."""

    __slots__ = ("energy", "meter_keys", "suffix", "what")

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self.what = what = f"tasmota {suffix}"
        self.energy = f"{what}.ENERGY"
        #: (key, position in Meter, lo, hi, what) per meter reading
        self.meter_keys = tuple((key, i, lo, hi, f"{what}.ENERGY.{key}")
                                for i, (key, _, lo, hi) in enumerate(_METER_KEYS))


@functools.cache
def _kind(suffix: str) -> _Kind:
    return _Kind(suffix)  # one per suffix in _JSON_SUFFIXES: shared by every device's topic


def _nothing(payload: bytes) -> None:
    return None


def _lwt(device: str, what: str, payload: bytes) -> Observation:
    word = text(payload, what).lower()
    if word not in ("online", "offline"):
        raise PayloadError(f"{what}: expected Online or Offline, got {word[:20]!r}")
    online = word == "online"
    return Observation(device, online=online, alive=online)


def _power(device: str, channel: str, what: str, payload: bytes) -> Observation:
    return Observation(device, relays={channel: on_off(text(payload, what), what)})


def _json(device: str, kind: _Kind, payload: bytes) -> Observation:
    suffix, what = kind.suffix, kind.what
    data: dict[str, Any] = json_object(payload, what)
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
    keys = _POWER_KEYS.intersection(data)
    if keys:
        # in the payload's order (a later key of the same light wins), which the set does not keep
        for key in keys if len(keys) == 1 else [k for k in data if k in keys]:
            relays[_channel(key)] = on_off(data[key], f"{what}.{key}")
    levels = {}
    if "Dimmer" in data:
        level = number(data["Dimmer"], f"{what}.Dimmer", lo=0, hi=100)
        if level is not None:
            levels["1"] = round(level)
    energy = data if suffix == "ENERGY" else data.get("ENERGY")
    meters = _meters(energy, kind) if energy is not None else {}
    return readings(device, relays, levels, meters)


def _nested(data: dict[str, Any], key: str, what: str, *, missing_ok: bool = False) -> dict[str, Any]:
    inner = data.get(key)
    if inner is None and missing_ok:
        return {}
    if not isinstance(inner, dict):
        raise PayloadError(f"{what}: expected an object under {key!r}")
    return inner


def _meters(energy: Any, kind: _Kind) -> dict[str | None, Meter]:
    """Scalars are the device's meter; lists give one meter per channel (scalars then shared by all)."""
    if not isinstance(energy, dict):
        raise PayloadError(f"{kind.energy}: expected an object, got {type(energy).__name__}")
    scalars: list[float | None] = [None, None, None, None]  # Meter's fields, in order
    lists: dict[int, list[float | None]] = {}
    for key, field, lo, hi, where in kind.meter_keys:
        value = energy.get(key, _MISSING)
        if value is _MISSING:
            continue
        if isinstance(value, list):
            if not 1 <= len(value) <= 32:
                raise PayloadError(f"{where}: {len(value)} channels")
            lists[field] = [number(v, f"{where}[{i}]", lo=lo, hi=hi) for i, v in enumerate(value)]
        else:
            scalars[field] = number(value, where, lo=lo, hi=hi)
    if not lists:
        found = meter(scalars)
        return {None: found} if found is not None else {}
    channels = max(len(v) for v in lists.values())
    meters: dict[str | None, Meter] = {}
    for i in range(channels):
        values = list(scalars)
        for field, items in lists.items():
            if i < len(items):
                values[field] = items[i]
        found = meter(values)
        if found is not None:
            meters[str(i + 1)] = found
    return meters


def _channel(key: str) -> str:
    digits = key[len("POWER"):]
    return digits or "1"
