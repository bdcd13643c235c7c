"""What a format adapter makes of one MQTT message: an observation of one device, in no firmware's terms.

Adapters are pure: ``parse(match, payload) -> Observation | None``. ``None`` means "a topic of this firmware
that says nothing about the light" (an ESPHome command, a topic no firmware of ours publishes): ignored, and
counted as such. A payload that cannot be what the topic promises raises ``PayloadError``, which the source
counts in ``rejected_total``.

The helpers below accept what the firmware really sends and nothing more lenient (a number is a JSON number,
a switch state is the word ON or OFF, JSON is strict UTF-8 JSON without NaN): anything else is an error that
names the field and what it held, never a guess taken as data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from edge.rejects import shown

__all__ = [
    "DEVICE_FAULTS",
    "Meter",
    "Observation",
    "PayloadError",
    "json_object",
    "json_number",
    "on_off",
    "text",
    "text_number",
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
    """Energy-meter readings; any of them may be missing (ESPHome sends one sensor per message)."""

    power_w: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    energy_kwh: float | None = None

    def __bool__(self) -> bool:
        return any(value is not None for value in self)


class Observation(NamedTuple):
    """What one message says about one device. Channels are strings: Tasmota ``"1"``.., ESPHome object ids.

    ``meters`` keyed by ``None`` concern the whole device. ``faults`` sets or clears device-reported faults
    (``DEVICE_FAULTS``) of ``fault_channel`` (``None``: every light of the device). ``alive`` is False for
    messages a broker publishes on the device's behalf (the LWT), which prove nothing about the device being
    up. ``seq``/``boot`` come from our own JSON and let the tracker drop redelivered duplicates.
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


# -- helpers shared by the adapters ---------------------------------------------------------------------------

#: What ESPHome's ``value_accuracy_to_string`` prints: an optional minus, digits, optional decimals.
_DECIMAL: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?")
#: ESPHome's words for a sensor without a reading: printf's NaN, or ``None`` with ``publish_nan_as_none``.
_NO_READING: Final = frozenset({"nan", "-nan", "None"})


def on_off(value: Any, what: str) -> bool:
    """The word ``ON`` or ``OFF`` (any case): what Tasmota's StateText and ESPHome's switches send."""
    if isinstance(value, str):
        word = value.upper()
        if word == "ON":
            return True
        if word == "OFF":
            return False
    raise PayloadError(f"{what}: expected ON or OFF, got {shown(value)}")


def json_number(
    value: Any, what: str, *, lo: float = -math.inf, hi: float = math.inf, null_ok: bool = False
) -> float | None:
    """A JSON number in ``lo..hi``; ``None`` for JSON ``null`` where ``null_ok`` (Tasmota writes a meter without
    a reading as null). Strings and booleans are refused: no firmware of ours quotes its numbers."""
    if value is None and null_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{what}: expected a number, got {shown(value)}")
    return _in_range(value, what, lo, hi)


def text_number(payload: bytes, what: str, *, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    """A decimal number as ESPHome publishes a sensor state (``229.10``); ``None`` for ``nan``/``None``."""
    word = text(payload, what)
    if word in _NO_READING:
        return None
    if not _DECIMAL.fullmatch(word):
        raise PayloadError(f"{what}: expected a decimal number, got {shown(word)}")
    return _in_range(float(word), what, lo, hi)


def _in_range(value: int | float, what: str, lo: float, hi: float) -> float:
    """``value`` as a finite float in ``lo..hi``. JSON integers have no size limit: one past the largest float
    is refused like the infinity an over-long literal such as 1e400 becomes, not met as an OverflowError."""
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if not lo <= number <= hi:
        raise PayloadError(f"{what}: {shown(value)} outside {lo:g}..{hi:g}")
    if not math.isfinite(number):  # within an open-ended range
        raise PayloadError(f"{what}: {shown(value)} is too large")
    return number


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    """A JSON object in UTF-8 (RFC 8259: no byte-order mark, no NaN or Infinity), or ``PayloadError`` saying
    why not."""
    try:
        doc = payload.decode("utf-8")
        data = json.loads(doc, parse_constant=_no_constant)
    except UnicodeDecodeError as err:
        raise PayloadError(f"{what}: not UTF-8 (byte {err.start})") from err
    except (ValueError, RecursionError) as err:
        raise PayloadError(f"{what}: not JSON ({_first_line(err)})") from err
    if not isinstance(data, dict):
        raise PayloadError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def text(payload: bytes, what: str, *, limit: int = 64) -> str:
    """A short UTF-8 text payload such as ``ON`` or ``Online``, without surrounding white space."""
    if len(payload) > limit:
        raise PayloadError(f"{what}: {len(payload)} bytes where a short word was expected")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError as err:
        raise PayloadError(f"{what}: not UTF-8 text") from err


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__
