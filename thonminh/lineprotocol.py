"""Line-protocol encoding of contract points: every check InfluxDB would make, at gateway speed.

``encode_line`` is on the hot path of every source (each point is encoded once, when it is committed to the
buffer), so it has two paths that produce the same text:

- the general path checks everything and raises ``EncodeError`` naming the measurement, key and problem;
- the fast path is taken by a point whose series (measurement and tag set) and field *shape* (keys and value
  types) were seen before. The series' escaped head (``streetlight,light=l1,...``) was validated once; the
  shape compiled into one ``str.format`` template, so a point costs a few C calls: the finiteness of all its
  floats in one ``sum``, the 64-bit range of its ints in one ``min``/``max``, the interval rule, and the
  template. Whatever the fast path does not accept (a bool, an int where the contract says float, NaN, a value
  outside its interval) goes down the general path, which either encodes it or names the error.

A gateway writes the same few thousand series with a handful of shapes over and over; both caches are bounded
and simply forgotten when full, so odd inputs cannot grow them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Final

from thonminh.contract import (
    MEASUREMENTS,
    REQUIRED_SITE_TAGS,
    Field,
    FieldType,
    FieldValue,
    Measurement,
    Point,
)
from thonminh.errors import EncodeError

__all__ = ["MAX_STRING_BYTES", "encode_line", "encode_lines", "encode_untimed"]

#: InfluxDB refuses string field values above 64 KiB.
MAX_STRING_BYTES: Final = 64 * 1024
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
#: A string of at most this many characters is within ``MAX_STRING_BYTES`` whatever it holds (4 bytes a char).
_SHORT_STRING: Final = MAX_STRING_BYTES // 4
#: Slack for float rounding when a source sums sub-intervals (interval rule: ``0 <= x_s <= observed_s``).
_INTERVAL_SLACK: Final = 1e-6

_NAME_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_NO_FIELDS: Mapping[str, Field] = {}


# -- the general path ---------------------------------------------------------------------------------------

def _check_name(kind: str, value: object, where: str) -> None:
    # A backslash is ambiguous: InfluxDB 1.x keeps "\\" literally in tags, 2.x unescapes it. Reject it rather
    # than write a value that reads back differently on one of the engines we promise to support.
    if not isinstance(value, str):
        raise EncodeError(f"{where}: {kind} must be a string, got {type(value).__name__}")
    if value == "":
        raise EncodeError(f"{where}: {kind} is empty")
    if "\\" in value or "\n" in value or "\r" in value:
        raise EncodeError(f"{where}: {kind} {value!r} contains a backslash or line break")


def _encode_head(name: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag=value,...`` with tags sorted (InfluxDB's own order), every name checked."""
    _check_name("measurement", name, "point")
    spec = MEASUREMENTS.get(name)
    if spec is not None:
        for key in REQUIRED_SITE_TAGS + spec.tags:
            if not tags.get(key):
                raise EncodeError(f"{name}: required tag {key!r} is missing")
    parts = [name.translate(_NAME_ESCAPES)]
    for key in sorted(tags):
        value = tags[key]
        if value is None:
            continue
        _check_name("tag key", key, name)
        _check_name("tag value", value, f"{name}.{key}")
        parts.append(f",{key.translate(_KEY_ESCAPES)}={value.translate(_KEY_ESCAPES)}")
    return "".join(parts)


def _encode_field(where: str, spec: Field | None, value: FieldValue) -> str:
    if isinstance(value, bool):
        value = int(value)
    kind = spec.type if spec else None
    if isinstance(value, int):
        if kind is FieldType.FLOAT:
            return _encode_float(where, float(value))
        if kind is FieldType.STRING:
            raise EncodeError(f"{where}: expected a string, got int {value}")
        if not _INT64_MIN <= value <= _INT64_MAX:
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


def _check_interval(spec: Measurement, fields: Mapping[str, FieldValue]) -> None:
    observed = fields.get("observed_s")
    if observed is None:
        raise EncodeError(f"{spec.name}: interval sample without observed_s")
    if isinstance(observed, str) or not math.isfinite(float(observed)) or observed < 0:
        raise EncodeError(f"{spec.name}.observed_s: {observed!r} is not a non-negative number")
    for key, fspec in spec.fields.items():
        value = fields.get(key)
        if fspec.interval_seconds and isinstance(value, int | float) and not isinstance(value, bool):
            if not 0 <= value <= observed + _INTERVAL_SLACK:
                raise EncodeError(f"{spec.name}.{key}: {value} outside 0..observed_s ({observed})")


def _encode_checked(point: Point) -> str:
    """The general path: every rule checked in turn, the first broken one raised. The line without its time."""
    name = point.measurement
    head = _encode_head(name, point.tags)
    spec = MEASUREMENTS.get(name)
    fields = point.fields
    if not fields:
        raise EncodeError(f"{name}: a point needs at least one field")
    specs = spec.fields if spec is not None else _NO_FIELDS
    encoded = []
    for key, value in fields.items():
        _check_name("field key", key, name)
        encoded.append(f"{key.translate(_KEY_ESCAPES)}={_encode_field(f'{name}.{key}', specs.get(key), value)}")
    if spec is not None and spec.interval:
        _check_interval(spec, fields)
    time_ms = point.time_ms
    if not isinstance(time_ms, int) or isinstance(time_ms, bool):
        raise EncodeError(f"{name}: time_ms must be an int, got {time_ms!r}")
    return f"{head} {','.join(encoded)}"


# -- the fast path ------------------------------------------------------------------------------------------

def _picker(indexes: Sequence[int]) -> Callable[[tuple[object, ...]], tuple[object, ...]] | None:
    """A C-level ``values -> tuple of values[i] for i in indexes`` (``itemgetter`` returns a bare item for one)."""
    if not indexes:
        return None
    if len(indexes) == 1:
        i = indexes[0]
        return lambda values: (values[i],)
    return itemgetter(*indexes)


class _Shape:
    """A compiled field shape: one measurement, these keys in this order, these exact value types."""

    __slots__ = ("floats", "ints", "intervals", "observed", "strings", "template")

    def __init__(self, template: str, floats: list[int], ints: list[int], strings: list[int],
                 observed: int | None, intervals: list[int]) -> None:
        self.template = template
        self.floats = _picker(floats)
        self.ints = _picker(ints)
        self.strings = tuple(strings)
        self.observed = observed
        self.intervals = _picker(intervals)

    def encode(self, values: tuple[FieldValue, ...]) -> str | None:
        """The fields part of the line, or None when a value needs the general path (to encode or to raise)."""
        if self.floats is not None and not math.isfinite(sum(self.floats(values))):  # type: ignore[arg-type]
            return None  # a NaN or an infinity (or floats so large their sum overflows: the general path decides)
        if self.ints is not None:
            ints = self.ints(values)
            if min(ints) < _INT64_MIN or max(ints) > _INT64_MAX:  # type: ignore[operator]
                return None
        if self.observed is not None:
            observed = values[self.observed]
            if observed < 0:  # type: ignore[operator]
                return None
            if self.intervals is not None:
                spans = self.intervals(values)
                if min(spans) < 0 or max(spans) > observed + _INTERVAL_SLACK:  # type: ignore[operator]
                    return None
        items: Sequence[FieldValue] = values
        for i in self.strings:
            text: str = values[i]  # type: ignore[assignment]
            if len(text) > _SHORT_STRING and len(text.encode()) > MAX_STRING_BYTES:
                return None
            if '"' in text or "\\" in text:
                if items is values:
                    items = list(values)
                items[i] = text.translate(_STRING_ESCAPES)  # type: ignore[index]
        return self.template % tuple(items)


#: Formats per value type when the contract agrees with it (or does not know the field).
_SLOTS: Final = {float: (FieldType.FLOAT, "%r"), int: (FieldType.INT, "%di"), str: (FieldType.STRING, '"%s"')}


def _compile(name: str, keys: tuple[str, ...], types: tuple[type, ...]) -> _Shape | None:
    """The shape of these keys and types, or None when any of them needs the general path."""
    spec = MEASUREMENTS.get(name)
    specs = spec.fields if spec is not None else _NO_FIELDS
    pieces: list[str] = []
    by_type: dict[type, list[int]] = {float: [], int: [], str: []}
    for i, (key, kind) in enumerate(zip(keys, types, strict=True)):
        slot = _SLOTS.get(kind)
        if slot is None:
            return None
        try:
            _check_name("field key", key, name)
        except EncodeError:  # the general path raises it, with the point's context
            return None
        fspec = specs.get(key)
        if fspec is not None and fspec.type is not slot[0]:
            return None
        escaped = key.translate(_KEY_ESCAPES).replace("%", "%%")
        pieces.append(f"{escaped}={slot[1]}")
        by_type[kind].append(i)
    if not pieces:
        return None
    observed, intervals = None, []
    if spec is not None and spec.interval:
        if "observed_s" not in keys or types[keys.index("observed_s")] is str:
            return None
        observed = keys.index("observed_s")
        intervals = [i for i, key in enumerate(keys) if key in specs and specs[key].interval_seconds]
    return _Shape(",".join(pieces), by_type[float], by_type[int], by_type[str], observed, intervals)


_SERIES_MAX: Final = 8192
_SHAPES_MAX: Final = 1024
#: (measurement, *tag keys, *tag values) -> validated, escaped head of the line.
_series: dict[tuple[object, ...], str] = {}
#: (measurement, *field keys) -> (value types last seen, their compiled shape or None: the general path).
_shapes: dict[tuple[object, ...], tuple[tuple[type, ...], _Shape | None]] = {}


def encode_line(point: Point) -> str:
    """Encode one point as a line of InfluxDB line protocol (millisecond precision).

    Raises ``EncodeError`` naming the measurement, key and problem for anything that InfluxDB would reject
    or read back differently, so one bad point never corrupts a batch.
    """
    return f"{encode_untimed(point)} {point.time_ms}"


def encode_untimed(point: Point) -> str:
    """``encode_line`` without the timestamp (checked all the same): what the gateway's buffer stores."""
    name = point.measurement
    tags = point.tags
    fields = point.fields
    try:
        series_key = (name, *tags, *tags.values())
        head = _series.get(series_key)
        shape_key = (name, *fields)
        compiled = _shapes.get(shape_key)
        values = (*fields.values(),)
    except (TypeError, AttributeError):  # unhashable tag values, tags or fields that are not mappings
        return _encode_checked(point)
    if head is None:
        head = _encode_head(name, tags)
        if len(_series) >= _SERIES_MAX:
            _series.clear()
        _series[series_key] = head
    types = tuple(map(type, values))
    if compiled is None or compiled[0] != types:
        # one shape per key set, for the types last seen: a field that is sometimes int, sometimes float
        # recompiles on each change, which costs about what the general path costs
        compiled = (types, _compile(name, shape_key[1:], types))  # type: ignore[arg-type]
        if len(_shapes) >= _SHAPES_MAX:
            _shapes.clear()
        _shapes[shape_key] = compiled
    shape = compiled[1]
    time_ms = point.time_ms
    if shape is None or type(time_ms) is not int:
        return _encode_checked(point)
    encoded = shape.encode(values)  # type: ignore[union-attr]
    if encoded is None:
        return _encode_checked(point)
    return f"{head} {encoded}"


def encode_lines(points: Iterable[Point]) -> str:
    """Encode several points, newline separated. Any bad point raises; use ``encode_line`` to sort them."""
    return "\n".join(encode_line(p) for p in points)
