"""What a format adapter makes of one MQTT message: an observation of one device, in no firmware's terms.

Adapters are pure: ``parse(match, payload) -> Observation | None``. ``None`` means "a topic of this firmware
that says nothing about the light" (Tasmota ``INFO1``, ESPHome ``debug``, a temperature sensor): ignored,
not rejected. A payload that cannot be what the topic promises raises ``PayloadError``, which the source
counts in ``rejected_total``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

__all__ = [
    "DEVICE_FAULTS",
    "Meter",
    "Observation",
    "Parser",
    "PayloadError",
    "json_object",
    "meter",
    "number",
    "on_off",
    "readings",
    "text",
]

#: Faults a device may report itself, modelled on DALI-2 QUERY STATUS and D4i (IEC 62386-253) diagnostics.
DEVICE_FAULTS: Final = frozenset(
    {
        "lamp_failure",
        "control_gear_failure",
        "supply_voltage_low",
        "supply_voltage_high",
        "thermal_derating",
        "thermal_shutdown",
    }
)


class PayloadError(ValueError):
    """The payload cannot be what its topic says it is. The message says what was wrong."""


#: The empty mapping every observation shares by default: read-only, so sharing it is safe.
_NONE: Final[Mapping[Any, Any]] = MappingProxyType({})


class Meter(NamedTuple):
    """Energy-meter readings; any of them may be missing (ESPHome sends one sensor per message).

    Immutable, like ``Observation``: a named tuple rather than a frozen dataclass, whose ``__init__`` sets each
    field through ``object.__setattr__`` and cost ~1 us per reading (~2 us per observation), on every message.
    """

    power_w: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    energy_kwh: float | None = None

    def __bool__(self) -> bool:
        # not any(<generator>): the generator cost ~1.5 us on every SENSOR (py-spy, 2,000 lights)
        return not (self.power_w is None and self.voltage_v is None and self.current_a is None
                    and self.energy_kwh is None)


class Observation(NamedTuple):
    """What one message says about one device. Channels are strings: Tasmota ``"1"``.., ESPHome object ids.

    ``meters`` keyed by ``None`` concern the whole device. ``faults`` sets or clears device-reported faults
    (``DEVICE_FAULTS``) of ``fault_channel`` (``None``: every light of the device). ``alive`` is False for
    messages a broker publishes on the device's behalf (the LWT), which prove nothing about the device being
    up. ``seq``/``boot`` come from our own JSON and let the tracker drop redelivered duplicates. Immutable
    (the mappings are never changed after construction; the defaults are one shared read-only mapping), so an
    adapter may hand out the same observation for every message of a topic that carries no data.
    """

    device: str
    online: bool | None = None
    alive: bool = True
    relays: Mapping[str, bool] = _NONE
    levels: Mapping[str, int] = _NONE
    meters: Mapping[str | None, Meter] = _NONE
    faults: Mapping[str, bool] = _NONE
    fault_channel: str | None = None
    seq: int | None = None
    boot: str | None = None


_new: Final = tuple.__new__


def readings(device: str, relays: Mapping[str, bool], levels: Mapping[str, int],
             meters: Mapping[str | None, Meter]) -> Observation:
    """``Observation(device, relays=relays, levels=levels, meters=meters)``, built directly: the named tuple's
    keyword handling cost ~0.8 us, on every Tasmota STATE and SENSOR."""
    return _new(Observation, (device, None, True, relays, levels, meters, _NONE, None, None, None))


def meter(values: list[float | None]) -> Meter | None:
    """The ``Meter`` of these four readings (in ``Meter``'s order), or None when all are missing."""
    # tuple.__new__ rather than Meter(*values), and no __bool__ call: ~0.5 us a SENSOR
    return None if values.count(None) == 4 else _new(Meter, values)


#: One topic's payload parser: what an adapter binds to a topic (``formats.BINDERS``).
Parser = Callable[[bytes], "Observation | None"]


# -- helpers shared by the adapters ---------------------------------------------------------------------------

try:
    from msgspec.json import Decoder as _FastDecoder
except ImportError:  # the stdlib alone decodes the same payloads the same way, only slower
    _fast_decode = None
else:
    _fast_decode = _FastDecoder().decode
_DECODER: Final = json.JSONDecoder()  # what json.loads uses when given no options
_scan_once: Final = _DECODER.scan_once
_space: Final = json.decoder.WHITESPACE.match
_ON: Final = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}


def on_off(value: Any, what: str) -> bool:
    """``ON``/``OFF`` in any case, ``1``/``0``, ``true``/``false`` (Tasmota ``StateText`` may be changed)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        found = _ON.get(value.strip().lower())
        if found is not None:
            return found
    raise PayloadError(f"{what}: expected ON or OFF, got {_short(value)}")


def number(value: Any, what: str, *, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """A finite number in ``lo..hi``; ``None`` for ESPHome's ``nan`` (a sensor without a reading)."""
    kind = type(value)
    if kind is float or kind is int:  # the common case first (bool is not int here): 4 meter readings a message
        result = float(value)
        if result != result:  # NaN
            return None
        if lo <= result <= hi:
            return result
        raise PayloadError(f"{what}: {result!r} outside {lo:g}..{hi:g}")
    if isinstance(value, bool):
        raise PayloadError(f"{what}: expected a number, got {_short(value)}")
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("nan", "-nan"):
            return None
        try:
            value = float(text)
        except ValueError:
            raise PayloadError(f"{what}: expected a number, got {_short(value)}") from None
    if not isinstance(value, int | float):
        raise PayloadError(f"{what}: expected a number, got {_short(value)}")
    result = float(value)
    if math.isnan(result):
        return None
    if not (lo <= result <= hi):
        raise PayloadError(f"{what}: {result!r} outside {lo:g}..{hi:g}")
    return result


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    """Decode a JSON object, or raise ``PayloadError`` saying why not. The values are ``json.loads``'s."""
    if _fast_decode is not None:
        # msgspec: ~1-1.5 us where the stdlib took ~4 (a Tasmota STATE or SENSOR, the commonest payloads). It is
        # used only where it gives what json.loads gives: whatever it refuses (NaN, 1e400, lone surrogates, a
        # UTF-16 or BOM-prefixed payload, invalid JSON) goes to the stdlib below, which decodes or rejects it
        # exactly as before, errors included. Integers stay exact at any size (orjson's turn to floats).
        try:
            data = _fast_decode(payload)
        except Exception:  # msgspec's errors are not reported: the stdlib below says why, in its words
            pass
        else:
            if data.__class__ is dict:
                return data
    try:
        if payload[:1] == b"{" and payload[1:2] != b"\x00":
            # What json.loads does for bytes it detects as UTF-8 (a "{" first, no NUL after it), without its
            # encoding detection and two layers of wrappers: ~3 us of the ~10 us a Tasmota payload cost.
            doc = payload.decode("utf-8", "surrogatepass")
            try:
                data, end = _scan_once(doc, 0)
            except StopIteration as err:
                raise json.JSONDecodeError("Expecting value", doc, err.value) from None
            if end != len(doc) and (end := _space(doc, end).end()) != len(doc):
                raise json.JSONDecodeError("Extra data", doc, end)
        else:
            data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise PayloadError(f"{what}: not JSON ({_first_line(err)})") from err
    if not isinstance(data, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def text(payload: bytes, what: str, *, limit: int = 64) -> str:
    """A short UTF-8 text payload such as ``ON`` or ``Online``."""
    if len(payload) > limit:
        raise PayloadError(f"{what}: {len(payload)} bytes where a short word was expected")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise PayloadError(f"{what}: not UTF-8 text") from err


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
