"""The data contract: measurements, tags, fields, units and their line-protocol encoding.

This is the one place the names live. The gateway writes them, the criteria service and the dashboards read
them; everything imports from here. See ``docs/data-model.md`` for the prose version.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from thonminh.errors import EncodeError

__all__ = [
    "DAILY_TZ",
    "MEASUREMENTS",
    "SITE_TAGS",
    "Field",
    "FieldType",
    "Measurement",
    "Point",
    "encode_line",
    "encode_lines",
    "measurement",
]

#: Day boundaries of daily figures (``wifi_daily``) and of the criteria service's per-day steps.
DAILY_TZ: Final = "Asia/Ho_Chi_Minh"

#: Tags every point carries. ``village`` and ``gateway`` are required; the rest are set when configured.
SITE_TAGS: Final = ("village", "gateway", "commune", "district", "province")
REQUIRED_SITE_TAGS: Final = ("village", "gateway")

#: InfluxDB refuses string field values above 64 KiB.
MAX_STRING_BYTES: Final = 64 * 1024
_INT64 = (-(2**63), 2**63 - 1)


class FieldType(StrEnum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a measurement: its type, unit and meaning."""

    name: str
    type: FieldType
    unit: str = ""
    description: str = ""
    #: Interval seconds: summed over a window by the readers; must lie in ``0..observed_s``.
    interval_seconds: bool = False


@dataclass(frozen=True, slots=True)
class Measurement:
    """A measurement: its extra tags and fields. ``interval`` marks interval samples (see the contract)."""

    name: str
    tags: tuple[str, ...]
    fields: Mapping[str, Field]
    description: str
    interval: bool = False

    @property
    def all_tags(self) -> tuple[str, ...]:
        return SITE_TAGS + self.tags

    def field(self, name: str) -> Field:
        return self.fields[name]


def _m(name: str, tags: tuple[str, ...], description: str, *fields: Field, interval: bool = False) -> Measurement:
    return Measurement(
        name=name,
        tags=tags,
        fields=MappingProxyType({f.name: f for f in fields}),
        description=description,
        interval=interval,
    )


INT, FLT, STR = FieldType.INT, FieldType.FLOAT, FieldType.STRING


def _secs(name: str, description: str) -> Field:
    return Field(name, FLT, "s", description, interval_seconds=True)


_OBSERVED = Field("observed_s", FLT, "s", "length of the interval this sample stands for")

UPLINK = _m(
    "uplink",
    ("link",),
    "one probe cycle of one uplink",
    Field("up", INT, "", "1 when at least min_ok targets answered in this cycle"),
    _secs("up_s", "seconds of the interval the link was up"),
    _OBSERVED,
    Field("rtt_ms", FLT, "ms", "median round-trip time of the answering targets; omitted when down"),
    Field("loss_pct", FLT, "%", "share of targets that did not answer, 0..100"),
    Field("targets_ok", INT, "", "targets that answered"),
    Field("targets_total", INT, "", "targets probed"),
    Field("active", INT, "", "1 when this link carries the default route now"),
    interval=True,
)
UPLINK_EVENT = _m(
    "uplink_event",
    ("link",),
    "a state transition of an uplink; time = the start of the first cycle in the new state",
    Field("state", STR, "", "'up' or 'down'"),
    Field("reason", STR, "", "why, e.g. 'targets unreachable', 'start'"),
    Field("previous_state_s", FLT, "s", "how long the previous state lasted"),
)
MODEM = _m(
    "modem",
    ("link", "modem"),
    "radio state of a cellular modem; unknown values are omitted, never written as 0",
    Field("registered", INT, "", "1 when registered (home or roaming)"),
    Field("reg_state", STR, "", "home, roaming, searching, denied, not_registered, unknown"),
    Field("operator", STR, "", "operator name as the modem reports it"),
    Field("access_tech", STR, "", "LTE, NR5G, WCDMA, GSM, ..."),
    Field("rssi_dbm", FLT, "dBm", "received signal strength"),
    Field("rsrp_dbm", FLT, "dBm", "LTE/NR reference signal received power"),
    Field("rsrq_db", FLT, "dB", "LTE/NR reference signal received quality"),
    Field("sinr_db", FLT, "dB", "signal to interference plus noise ratio"),
    Field("sim", STR, "", "ready, absent, pin, error"),
    Field("available", INT, "", "1 when the modem answered this poll; 0 when its port was missing, silent or garbled"),
)
WIFI = _m(
    "wifi",
    ("ap",),
    "public Wi-Fi access point, one interval sample per poll",
    Field("ap_up", INT, "", "1 when the AP answered and its SSID is up"),
    _secs("up_s", "seconds of the interval the AP was up"),
    _OBSERVED,
    Field("clients", INT, "", "associated stations now"),
    Field("rx_bytes", INT, "B", "bytes received from stations during this interval"),
    Field("tx_bytes", INT, "B", "bytes sent to stations during this interval"),
    _secs("open_s", "seconds of the interval inside the cultural house's opening hours (when configured)"),
    _secs("up_open_s", "seconds of the interval the AP was up inside opening hours (when configured)"),
    Field("dhcp_leases", INT, "", "active DHCP leases of the AP's dnsmasq now (a second sign of use)"),
    interval=True,
)
WIFI_DAILY = _m(
    "wifi_daily",
    ("ap",),
    "Wi-Fi use per local day; time = local midnight (Asia/Ho_Chi_Minh), rewritten as the day goes on",
    Field("unique_users", INT, "", "distinct salted MAC hashes seen this day (the salt changes daily, so a "
          "week's use is a sum of user-days, not distinct people)"),
    Field("sessions", INT, "", "associations started this day"),
)
STREETLIGHT = _m(
    "streetlight",
    ("light", "zone"),
    "one street light, one interval sample per light per tracker cadence",
    Field("on", INT, "", "1 when lit at the end of the interval"),
    Field("online", INT, "", "1 when the device is reachable"),
    Field("expected_on", INT, "", "1 when the schedule wants it lit at the end of the interval"),
    _OBSERVED,
    _secs("expected_on_s", "seconds the schedule wanted it lit"),
    _secs("lit_when_expected_s", "seconds it was lit while expected lit"),
    _secs("ok_s", "seconds it behaved as scheduled"),
    Field("power_w", FLT, "W", "latest active power"),
    Field("voltage_v", FLT, "V", "latest supply voltage"),
    Field("current_a", FLT, "A", "latest current"),
    Field("energy_kwh", FLT, "kWh", "latest energy counter"),
    Field("fault", STR, "", "'', lamp_failure, day_burning, dark, offline, stale"),
    Field("latitude", FLT, "°", "pole position from the light inventory (for maps)"),
    Field("longitude", FLT, "°", "pole position from the light inventory (for maps)"),
    Field("rated_w", FLT, "W", "rated lamp power from the light inventory"),
    interval=True,
)
GATEWAY = _m(
    "gateway",
    (),
    "self-metrics of the gateway agent",
    Field("uptime_s", FLT, "s", "agent uptime"),
    Field("buffer_points", INT, "", "points waiting in the buffer"),
    Field("buffer_bytes", INT, "B", "bytes of points waiting in the buffer"),
    Field("forwarded_total", INT, "", "points written to InfluxDB since the buffer was created"),
    Field("dropped_total", INT, "", "points dropped by the disk budget"),
    Field("rejected_total", INT, "", "inputs rejected as malformed, and points dead-lettered"),
    Field("lag_s", FLT, "s", "age of the oldest unsent point"),
    Field("clock_synced", INT, "", "1 when the system clock is synchronised"),
    Field("cpu_temp_c", FLT, "°C", "SoC temperature where the board has a sensor"),
    Field("version", STR, "", "thonminh version"),
)
INDICATOR = _m(
    "indicator",
    ("indicator",),
    "a manual indicator entered by an official",
    Field("value", FLT, "", "the value"),
    Field("unit", STR, "", "its unit, e.g. '%'"),
    Field("source", STR, "", "who entered it"),
)

MEASUREMENTS: Final[Mapping[str, Measurement]] = MappingProxyType(
    {m.name: m for m in (UPLINK, UPLINK_EVENT, MODEM, WIFI, WIFI_DAILY, STREETLIGHT, GATEWAY, INDICATOR)}
)


def measurement(name: str) -> Measurement:
    """The descriptor of a contract measurement; ``KeyError`` names unknown ones."""
    try:
        return MEASUREMENTS[name]
    except KeyError:
        raise KeyError(f"unknown measurement {name!r}; known: {', '.join(MEASUREMENTS)}") from None


FieldValue = int | float | str | bool


@dataclass(frozen=True, slots=True)
class Point:
    """One point: measurement, tags, fields and a UTC timestamp in milliseconds."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, FieldValue]
    time_ms: int
    #: Not part of the line: set by the pipeline when the timestamp could not be corrected.
    meta: Mapping[str, str] = field(default_factory=dict, compare=False)

    def with_time(self, time_ms: int) -> Point:
        return Point(self.measurement, self.tags, self.fields, time_ms, self.meta)

    def line(self) -> str:
        return encode_line(self)


# -- line protocol ------------------------------------------------------------------------------------------

_NAME_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})


def _check_name(kind: str, value: str, where: str) -> None:
    # A backslash is ambiguous: InfluxDB 1.x keeps "\\" literally in tags, 2.x unescapes it. Reject it rather
    # than write a value that reads back differently on one of the engines we promise to support.
    if not isinstance(value, str):
        raise EncodeError(f"{where}: {kind} must be a string, got {type(value).__name__}")
    if value == "":
        raise EncodeError(f"{where}: {kind} is empty")
    if "\\" in value or "\n" in value or "\r" in value:
        raise EncodeError(f"{where}: {kind} {value!r} contains a backslash or line break")


def _encode_field(where: str, spec: Field | None, value: FieldValue) -> str:
    if isinstance(value, bool):
        value = int(value)
    kind = spec.type if spec else None
    if isinstance(value, int):
        if kind is FieldType.FLOAT:
            return _encode_float(where, float(value))
        if kind is FieldType.STRING:
            raise EncodeError(f"{where}: expected a string, got int {value}")
        if not _INT64[0] <= value <= _INT64[1]:
            raise EncodeError(f"{where}: int {value} out of 64-bit range")
        return f"{value}i"
    if isinstance(value, float):
        if kind is FieldType.INT:
            if not value.is_integer():
                raise EncodeError(f"{where}: expected an int, got float {value}")
            return f"{int(value)}i"
        if kind is FieldType.STRING:
            raise EncodeError(f"{where}: expected a string, got float {value}")
        return _encode_float(where, value)
    if isinstance(value, str):
        if kind in (FieldType.INT, FieldType.FLOAT):
            raise EncodeError(f"{where}: expected {kind.value}, got string {value!r}")
        if len(value.encode()) > MAX_STRING_BYTES:
            raise EncodeError(f"{where}: string longer than {MAX_STRING_BYTES} bytes")
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    raise EncodeError(f"{where}: unsupported field type {type(value).__name__}")


def _encode_float(where: str, value: float) -> str:
    if not math.isfinite(value):
        raise EncodeError(f"{where}: {value} is not a finite number")
    return repr(value)


#: Validated, escaped pieces of lines, keyed by what they encode: a gateway writes the same few hundred
#: names and tag pairs over and over. Bounded: cleared when full, so odd inputs cannot grow them.
_CACHE_MAX = 4096
_names: dict[str, str] = {}
_tag_pairs: dict[tuple[str, str], str] = {}
_field_keys: dict[str, str] = {}
_NO_FIELDS: Mapping[str, Field] = MappingProxyType({})


def _remember(cache: dict, key: object, value: str) -> None:  # type: ignore[type-arg]
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


def encode_line(point: Point) -> str:
    """Encode one point as a line of InfluxDB line protocol (millisecond precision).

    Raises ``EncodeError`` naming the measurement, key and problem for anything that InfluxDB would reject
    or read back differently, so one bad point never corrupts a batch.
    """
    name = point.measurement
    head = _names.get(name) if type(name) is str else None
    if head is None:
        _check_name("measurement", name, "point")
        head = name.translate(_NAME_ESCAPES)
        _remember(_names, name, head)
    spec = MEASUREMENTS.get(name)
    tags = point.tags
    if spec is not None:
        for key in REQUIRED_SITE_TAGS + spec.tags:
            if not tags.get(key):
                raise EncodeError(f"{name}: required tag {key!r} is missing")
    parts = [head]
    for key in sorted(tags):
        value = tags[key]
        if value is None:
            continue
        pair = _tag_pairs.get((key, value)) if type(key) is str and type(value) is str else None
        if pair is None:
            _check_name("tag key", key, name)
            _check_name("tag value", value, f"{name}.{key}")
            pair = f",{key.translate(_KEY_ESCAPES)}={value.translate(_KEY_ESCAPES)}"
            _remember(_tag_pairs, (key, value), pair)
        parts.append(pair)
    fields = point.fields
    if not fields:
        raise EncodeError(f"{name}: a point needs at least one field")
    specs = spec.fields if spec is not None else _NO_FIELDS
    encoded = []
    for key, value in fields.items():
        prefix = _field_keys.get(key) if type(key) is str else None
        if prefix is None:
            _check_name("field key", key, name)
            prefix = key.translate(_KEY_ESCAPES) + "="
            _remember(_field_keys, key, prefix)
        fspec = specs.get(key)
        kind = type(value)
        # the common cases first; everything else (and every error) takes the general path
        if kind is float and (fspec is None or fspec.type is FieldType.FLOAT) and math.isfinite(value):
            encoded.append(prefix + repr(value))
        elif kind is int and (fspec is None or fspec.type is FieldType.INT) and _INT64[0] <= value <= _INT64[1]:
            encoded.append(f"{prefix}{value}i")
        else:
            encoded.append(prefix + _encode_field(f"{name}.{key}", fspec, value))
    if spec is not None and spec.interval:
        _check_interval(spec, point)
    time_ms = point.time_ms
    if type(time_ms) is not int:
        if not isinstance(time_ms, int) or isinstance(time_ms, bool):
            raise EncodeError(f"{name}: time_ms must be an int, got {time_ms!r}")
    return f"{''.join(parts)} {','.join(encoded)} {time_ms}"


def _check_interval(spec: Measurement, point: Point) -> None:
    fields = point.fields
    observed = fields.get("observed_s")
    if observed is None:
        raise EncodeError(f"{spec.name}: interval sample without observed_s")
    if isinstance(observed, str) or not math.isfinite(float(observed)) or observed < 0:
        raise EncodeError(f"{spec.name}.observed_s: {observed!r} is not a non-negative number")
    for key in _interval_keys(spec.name):
        value = fields.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            # a little slack for float rounding when a source sums sub-intervals
            if not 0 <= value <= observed + 1e-6:
                raise EncodeError(f"{spec.name}.{key}: {value} outside 0..observed_s ({observed})")


@functools.cache
def _interval_keys(name: str) -> tuple[str, ...]:
    return tuple(key for key, fspec in MEASUREMENTS[name].fields.items() if fspec.interval_seconds)


def encode_lines(points: Iterable[Point]) -> str:
    """Encode several points, newline separated. Any bad point raises; use ``encode_line`` to sort them."""
    return "\n".join(encode_line(p) for p in points)


def site_tags(
    village: str,
    gateway: str,
    *,
    commune: str | None = None,
    district: str | None = None,
    province: str | None = None,
) -> dict[str, str]:
    """The site tags for every point of one gateway, leaving out the ones not configured."""
    tags = {"village": village, "gateway": gateway, "commune": commune, "district": district, "province": province}
    return {k: v for k, v in tags.items() if v}
