"""``json_object`` decodes RFC 8259 JSON in UTF-8 to what ``json.loads`` makes of it, and refuses the rest.

Held against the stdlib on thousands of payloads (real captures, mutated captures, random documents and the
corners: huge numbers, surrogates, encodings): the same values where the payload is strict JSON in UTF-8, a
``PayloadError`` wherever ``json.loads`` would be lenient (NaN, Infinity, UTF-16/32, a byte-order mark).
"""

from __future__ import annotations

import json
import math
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge.sources.lights.observation import PayloadError, json_object

from .test_fuzz import random_json

REAL = [
    c["payload"].encode()
    for c in tomllib.loads((Path(__file__).parent / "fixtures" / "payloads.toml").read_text())["case"]
]

CORNERS = [
    b'{"a":1,"a":2,"b":3}',
    b'{"a":1e400}',
    b'{"a":-1e400}',
    b'{"a":1.7976931348623157e309}',
    b'{"a":4.9e-325}',
    b'{"a":18446744073709551615}',
    b'{"a":18446744073709551616}',
    b'{"a":-9223372036854775809}',
    b'{"a":123456789012345678901234567890}',
    b'{"a":123456789012345678901234567890.5}',
    b'{"a":0.1e1}',
    b'{"a":1E2}',
    b'{"a":-0}',
    b'{"a":-0.0}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":-Infinity}',
    b'{"a":"\\ud800"}',
    b'{"a":"\xed\xa0\x80"}',
    b'{"a":"\xf4\x90\x80\x80"}',
    b'{"a":"\\u0000"}',
    b'{"a":"\x00"}',
    b'{"a":"\x7f"}',
    b'{"\xc3\xa9":"\xef\xbf\xbe"}',
    b'{"a":1}\n',
    b'{"a":1} \t\r\n',
    b'{"a":1}\x00',
    b'{"a":1}\x0c',
    b'\xef\xbb\xbf{"a":1}',
    '{"a":1}'.encode("utf-16"),
    '{"a":1}'.encode("utf-16-le"),
    '{"a":1}'.encode("utf-32"),
    b' {"a":1}',
    b'{"a":01}',
    b'{"a":1.}',
    b'{"a":.5}',
    b'{"a":+1}',
    b'{"a":[1,]}',
    b'{"a":1,}',
    b"{'a':1}",
    b'{"a":tru}',
    b'{"a":true}',
    b'{"a":null}',
    b"[1,2]",
    b'"text"',
    b"3",
    b"",
    b"{",
    b"}",
    b"\xff",
    b'{"a":' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}",
]


def _canonical(value: Any) -> Any:
    """Values with their types: 1 and 1.0 and True differ, -0.0 is not 0.0, NaN equals NaN."""
    if isinstance(value, dict):
        return ("dict", [(k, _canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_canonical(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


def _refuse(name: str) -> None:
    raise ValueError(name)


def _stdlib(payload: bytes) -> dict[str, Any] | None:
    """What ``json.loads`` makes of the payload when it is strict JSON in UTF-8, else None."""
    try:
        data = json.loads(payload.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _payloads(n: int) -> list[bytes]:
    rng = random.Random(20240621)
    out = list(REAL) + CORNERS
    while len(out) < n:
        roll = rng.random()
        if roll < 0.4:
            doc = {"k": random_json(rng), "POWER": rng.choice(["ON", "OFF", 1, 0, None])}
            out.append(json.dumps(doc, allow_nan=True, ensure_ascii=rng.random() < 0.5).encode())
        elif roll < 0.6:
            number = rng.choice(
                [
                    repr(rng.uniform(-1e6, 1e6)),
                    repr(rng.random() * 10.0 ** rng.randrange(-300, 300)),
                    str(rng.randrange(-(10**30), 10**30)),
                    f"{rng.randrange(10**6)}e{rng.randrange(-400, 400)}",
                    f"{rng.randrange(10**17)}.{rng.randrange(10**17)}E-{rng.randrange(30)}",
                ]
            )
            out.append(b'{"ENERGY":{"Power":' + number.encode() + b"}}")
        else:
            payload = bytearray(rng.choice(REAL))
            for _ in range(rng.randrange(1, 4)):
                if payload:
                    payload[rng.randrange(len(payload))] = rng.randrange(256)
            out.append(bytes(payload))
    return out


def test_same_values_as_the_stdlib_and_the_same_rejections() -> None:
    decoded = rejected = 0
    for payload in _payloads(6000):
        expected = _stdlib(payload)
        if expected is None:
            with pytest.raises(PayloadError):
                json_object(payload, "test")
            rejected += 1
        else:
            assert _canonical(json_object(payload, "test")) == _canonical(expected), payload[:200]
            decoded += 1
    assert decoded > 2000 and rejected > 1000  # both sides well covered


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b'{"a":1', "not JSON (Expecting ',' delimiter: line 1 column 7 (char 6))"),
        (b'{"a":1}x', "not JSON (Extra data: line 1 column 8 (char 7))"),
        (b"[1,2]", "expected a JSON object, got list"),
        (b'{"a":"\xff"}', "not UTF-8 (byte 6)"),
        (b'{"a":NaN}', "not JSON (NaN is not JSON)"),
        (
            b"\xef\xbb\xbf{}",
            "not JSON (Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0))",
        ),
    ],
)
def test_errors_are_the_stdlibs(payload: bytes, problem: str) -> None:
    with pytest.raises(PayloadError) as err:
        json_object(payload, "tasmota STATE")
    assert str(err.value) == f"tasmota STATE: {problem}"
