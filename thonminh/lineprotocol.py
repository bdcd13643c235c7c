"""Line-protocol encoding of contract points: every check InfluxDB would make, each error named.

One plain encoder: each point's measurement, tags and fields are checked in turn and the first broken rule is
raised as ``EncodeError`` naming the measurement, key and problem. It runs once per point, when the point is
committed to the gateway's buffer; at a village's and a province's load that is a small share of a core
(``bench/pipeline_cpu.py``, docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Final, cast

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

__all__ = ["MAX_STRING_BYTES", "encode_each", "encode_line", "encode_lines", "encode_untimed"]

#: InfluxDB refuses string field values above 64 KiB.
MAX_STRING_BYTES: Final = 64 * 1024
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
#: Slack for float rounding when a source sums sub-intervals (interval rule: ``0 <= x_s <= observed_s``).
_INTERVAL_SLACK: Final = 1e-6

_NAME_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_NO_FIELDS: Mapping[str, Field] = {}


def _check_name(kind: str, value: object, where: str) -> None:
    # A backslash is ambiguous: InfluxDB 1.x keeps "\\" literally in tags, 2.x unescapes it. Reject it rather
    # than write a value that reads back differently on one of the engines we promise to support.
    if not isinstance(value, str):
        raise EncodeError(f"{where}: {kind} must be a string, got {type(value).__name__}")
    if value == "":
        raise EncodeError(f"{where}: {kind} is empty")
    if "\\" in value or "\n" in value or "\r" in value:
        raise EncodeError(f"{where}: {kind} {value!r} contains a backslash or line break")


def _check_key(kind: str, key: object, where: str) -> None:
    """A measurement, tag key or field key: ``_check_name``, and none of the names an InfluxDB reserves (1.x
    refuses a key named ``time``; 2.x keeps the names that begin with ``_`` for its own columns)."""
    _check_name(kind, key, where)
    if key == "time" and kind != "measurement":
        raise EncodeError(f"{where}: {kind} 'time' is reserved by InfluxDB")
    if cast(str, key).startswith("_"):
        raise EncodeError(f"{where}: {kind} {key!r} begins with '_', which InfluxDB 2.x reserves")


def _encode_head(name: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag=value,...`` with tags sorted (InfluxDB's own order), every name checked."""
    _check_key("measurement", name, "point")
    spec = MEASUREMENTS.get(name)
    if spec is not None:
        for key in REQUIRED_SITE_TAGS + spec.tags:
            if not tags.get(key):
                raise EncodeError(f"{name}: required tag {key!r} is missing")
    for key in tags:  # before sorting them: a key that is not a string cannot be sorted with the rest
        _check_key("tag key", key, name)
    parts = [name.translate(_NAME_ESCAPES)]
    for key in sorted(tags):
        value = tags[key]
        if value is None:  # an unset optional site tag (``district=None``) is left out
            continue
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


def encode_line(point: Point) -> str:
    """Encode one point as a line of InfluxDB line protocol (millisecond precision).

    Raises ``EncodeError`` naming the measurement, key and problem for anything that InfluxDB would reject
    or read back differently, so one bad point never corrupts a batch.
    """
    return f"{encode_untimed(point)} {point.time_ms}"


def encode_untimed(point: Point) -> str:
    """``encode_line`` without the timestamp (checked all the same): what the gateway's buffer stores."""
    name = point.measurement
    head = _encode_head(name, point.tags)
    spec = MEASUREMENTS.get(name)
    fields = point.fields
    if not fields:
        raise EncodeError(f"{name}: a point needs at least one field")
    specs = spec.fields if spec is not None else _NO_FIELDS
    encoded = []
    for key, value in fields.items():
        _check_key("field key", key, name)
        if key in point.tags:  # InfluxDB 3.x keeps both in one column of the table; 1.x answers the field
            raise EncodeError(f"{name}.{key}: a tag and a field of one name, which InfluxDB 3.x refuses")
        encoded.append(
            f"{key.translate(_KEY_ESCAPES)}={_encode_field(f'{name}.{key}', specs.get(key), value)}"
        )
    if spec is not None and spec.interval:
        _check_interval(spec, fields)
    time_ms = point.time_ms
    if not isinstance(time_ms, int) or isinstance(time_ms, bool):
        raise EncodeError(f"{name}: time_ms must be an int, got {time_ms!r}")
    return f"{head} {','.join(encoded)}"


def encode_lines(points: Iterable[Point]) -> str:
    """Encode several points, newline separated. Any bad point raises; use ``encode_line`` to sort them."""
    return "\n".join(encode_line(p) for p in points)


def encode_each(
    points: Iterable[Point], encode: Callable[[Point], str] = encode_line
) -> tuple[list[str], list[str]]:
    """The lines of the points that encode, and what was wrong with each of the others.

    For points built from what InfluxDB holds (the service's rollups and display copies): whoever can write
    there may have left a name this encoder refuses, such as a tag with a backslash, and that point alone is
    left out, not the write."""
    lines, refused = [], []
    for point in points:
        try:
            lines.append(encode(point))
        except EncodeError as err:
            refused.append(str(err))
    return lines, refused
