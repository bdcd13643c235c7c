"""The canonical form of a point and its digest (see ``thonminh.evidence``), from a point or from our own line.

The service computes it from what InfluxDB returns (``point_digest``), the gateway from each line it forwards
(``digest_line``: the hot path of its signing, so the line is read straight, without building its values).
``thonminh.evidence`` exports all of this with the manifests; import it from there.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
import zlib
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import repeat
from typing import Any, Final, NamedTuple, Protocol, cast

from thonminh.contract import FieldValue

__all__ = [
    "EVIDENCE_FIELD",
    "SeriesDigests",
    "SeriesHeads",
    "canonical_point",
    "digest_line",
    "parse_head",
    "parse_line",
    "point_digest",
    "series_key",
    "row_digests",
    "where_of",
]

#: The field every signed point carries: ``pack_seq(epoch, n)`` of its manifest.
EVIDENCE_FIELD: Final = "evidence_seq"


# -- canonical form ------------------------------------------------------------------------------------------
# One encoder for every JSON text here: ``json.dumps`` with keyword arguments builds a new encoder per call, which
# was most of a gateway's signing cost (bench/signing_cpu.py). Same output as ``json.dumps(..., ensure_ascii=
# False, separators=(",", ":"))``.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: JSON of field names seen (a few dozen in the contract); bounded, for the service's arbitrary reads.
_NAMES: dict[str, str] = {}
#: A line's ``name=value`` text -> (name, canonical ``"name":value``): a village's fields repeat their values
#: (up=1i, up_s=10.0, observed_s=60.0), and this is the hot path of a gateway's signing; cleared when full
#: (a few hundred KB).
_PIECES: dict[str, tuple[str, str]] = {}
_PIECES_MAX: Final = 2048


def series_key(measurement: str, tags: Mapping[str, str | None]) -> str:
    """The canonical series: measurement and non-empty tags, sorted (InfluxDB returns absent tags as '')."""
    pairs = [[k, v] for k, v in sorted(tags.items()) if v]
    return _JSON.encode([measurement, pairs])


def _value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    return _JSON.encode(value)


def _name(key: str) -> str:
    text = _NAMES.get(key)
    if text is None:
        text = _JSON.encode(key)
        if len(_NAMES) < 4096:
            _NAMES[key] = text
    return text


def canonical_point(series: str, time_ms: int, fields: Mapping[str, FieldValue | None]) -> str:
    """The canonical text of one point (see the module docstring); ``None`` fields (absent) are left out."""
    body = ",".join(
        f"{_name(k)}:{_value(v)}" for k, v in sorted(fields.items()) if v is not None and k != EVIDENCE_FIELD
    )
    return f"{series}\n{time_ms}\n{body}"


def point_digest(series: str, time_ms: int, fields: Mapping[str, FieldValue | None]) -> bytes:
    """12 bytes: CRC-32 of the point's series and time, then 8 bytes of SHA-256 of its canonical text."""
    where = zlib.crc32(f"{series}\n{time_ms}".encode()).to_bytes(4, "big")
    return where + hashlib.sha256(canonical_point(series, time_ms, fields).encode()).digest()[:8]


class SeriesDigests(NamedTuple):
    """One series of a query answer, as verification reads it: each row's time, ``evidence_seq`` (None when
    the row has none) and digest, in three lists of the rows' order."""

    times: list[int]
    seqs: list[Any]
    digests: list[bytes]


def row_digests(
    measurement: str, tags: Mapping[str, str | None], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> SeriesDigests:
    """``point_digest`` of each row of one series of a v1 query answer (``GROUP BY *``, epoch=ms).

    The service verifies a village-month, two million points, this way: column by column, each distinct value
    of a column formatted once (a village's values repeat: 1, 60.0, a light's voltage), then one join and one
    hash per row, from the series' own hash state."""
    if not rows:
        return SeriesDigests([], [], [])
    by_column = list(zip(*rows, strict=True))
    head = (series_key(measurement, tags) + "\n").encode()
    pieces = [
        _pieces(f"{_name(c)}:".encode(), by_column[i])
        for c, i in sorted((c, i) for i, c in enumerate(columns) if c not in ("time", EVIDENCE_FIELD))
    ]
    times = list(by_column[columns.index("time")])
    seqs = list(by_column[columns.index(EVIDENCE_FIELD)]) if EVIDENCE_FIELD in columns else [None] * len(rows)
    crc, sha, join = zlib.crc32(head), hashlib.sha256(head), b",".join
    digests = []
    for time_ms, values in zip(times, zip(*pieces, strict=True), strict=True):
        stamp = b"%d" % time_ms
        point = sha.copy()
        point.update(stamp + b"\n" + join(filter(None, values)))
        digests.append(zlib.crc32(stamp, crc).to_bytes(4, "big") + point.digest()[:8])
    return SeriesDigests(times, seqs, digests)


def _pieces(name: bytes, values: Sequence[Any]) -> list[bytes | None]:
    """``"name":value`` of each value of a column (None where the row has none), each distinct value formatted
    once; each value on its own where one dict key would stand for two texts: a column of mixed types (1, 1.0
    and True are one key; InfluxDB keeps one type per column, should it not) or one holding 0.0 and -0.0."""
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= {int, float} or kinds == {str} or kinds == {bool}:
        table: dict[Any, bytes | None] = {
            v: name + _value(v).encode() for v in dict.fromkeys(values) if v is not None
        }
        if not (0.0 in table and _both_zeros(values)):
            table[None] = None
            return list(map(table.__getitem__, values))
    return [None if v is None else name + _value(v).encode() for v in values]


def _both_zeros(values: Sequence[Any]) -> bool:
    """Whether a column of numbers holds both 0.0 and -0.0 (a weak signal's SINR rounds to either)."""
    return len(set(map(math.copysign, repeat(1.0), filter(_IS_ZERO, values)))) > 1


_IS_ZERO: Final = partial(operator.eq, 0.0)


def where_of(digest: bytes) -> bytes:
    """The part of a digest that names the point's series and time."""
    return digest[:4]


# -- our own line protocol, read back ------------------------------------------------------------------------
# The encoder (thonminh/lineprotocol.py) refuses backslashes in names and tag values, so the only escapes in a
# head are "\,", "\=" and "\ "; strings escape only '\' and '"'.
_HEAD_END = re.compile(r"(?<!\\) ")
_COMMA = re.compile(r"(?<!\\),")
_EQUALS = re.compile(r"(?<!\\)=")
_UNESCAPE = re.compile(r"\\(.)")
_FIELD = re.compile(r'((?:[^,=\\]|\\.)+)=("(?:[^"\\]|\\.)*"|[^,]*)(?:,|$)')
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


def _field_value(text: str) -> FieldValue:
    if text.startswith('"'):
        return _UNESCAPE.sub(r"\1", text[1:-1])
    if text.endswith(("i", "u")):
        return int(text[:-1])
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return float(text)


def parse_head(head: str) -> tuple[str, dict[str, str]]:
    """``measurement,tag=value,...`` -> (measurement, tags)."""
    name, *pairs = _COMMA.split(head)
    tags = {}
    for pair in pairs:
        key, value = _EQUALS.split(pair, maxsplit=1)
        tags[_UNESCAPE.sub(r"\1", key)] = _UNESCAPE.sub(r"\1", value)
    return _UNESCAPE.sub(r"\1", name), tags


def _parse_fields(text: str) -> dict[str, FieldValue]:
    """The field set of a line (between head and timestamp)."""
    return {_unescape(k): _field_value(v) for k, v in _FIELD.findall(text)}


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text) if "\\" in text else text


def _canonical_value(text: str) -> str:
    """``_value(_field_value(text))``, straight from the line's text (the hot path of a gateway's signing)."""
    if text[0] == '"':
        return _JSON.encode(_unescape(text[1:-1]))
    if text[-1] in "iu":
        return repr(float(int(text[:-1])))
    if text in _TRUE:
        return "true"
    if text in _FALSE:
        return "false"
    return repr(float(text))


def _piece(item: str) -> tuple[str, str] | None:
    """(name, canonical piece) of one ``name=value`` of a field set split at its commas; None when the split
    cut a string value (it held a comma) or the item is no field."""
    name, equals, value = item.partition("=")
    cut_string = '"' in value and (value[0] != '"' or value.find('"', 1) != len(value) - 1)
    if not (name and equals and value) or cut_string:
        return None
    if len(_PIECES) >= _PIECES_MAX:
        _PIECES.clear()
    found = _PIECES[item] = (name, f"{_name(name)}:{_canonical_value(value)}")
    return found


def _canonical_fields(text: str) -> str:
    """The fields part of ``canonical_point`` for a line's field set, without building the values."""
    if "\\" not in text:  # usual: split at commas, each piece from the cache (strings with commas: below)
        get = _PIECES.get
        found = [get(item) or _piece(item) for item in text.split(",")]
        if None not in found:
            pieces = cast(list[tuple[str, str]], found)
            if EVIDENCE_FIELD in text:
                pieces = [p for p in pieces if p[0] != EVIDENCE_FIELD]
            pieces.sort()
            return ",".join([piece for _, piece in pieces])
    pairs = sorted((_unescape(k), v) for k, v in _FIELD.findall(text))
    return ",".join([f"{_name(k)}:{_canonical_value(v)}" for k, v in pairs if k != EVIDENCE_FIELD])


def _split_line(line: str) -> tuple[str, str, int]:
    """(head, fields text, time_ms) of a timed line; ``ValueError`` when it is not one."""
    if "\\" in line:  # the head may hold escaped spaces: it ends at the first space that is not
        split = _HEAD_END.search(line)
        cut = -1 if split is None else split.start()
    else:
        cut = line.find(" ")
    last = line.rfind(" ")
    if cut < 0 or last <= cut + 1:
        raise ValueError(f"not a timed line-protocol line: {line[:120]!r}")
    return line[:cut], line[cut + 1 : last], int(line[last + 1 :])


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, FieldValue], int]:
    """A line our encoder wrote -> (measurement, tags, fields, time_ms). ``ValueError`` when it is not one."""
    head, text, time_ms = _split_line(line)
    measurement, tags = parse_head(head)
    return measurement, tags, _parse_fields(text), time_ms


class _Hash(Protocol):
    def copy(self) -> _Hash: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


#: Line head -> CRC-32 and SHA-256 of ``series + "\n"``, each digest of the head's lines goes on from them.
SeriesHeads = dict[str, tuple[int, _Hash]]


def digest_line(line: str, heads: SeriesHeads | None = None) -> tuple[int, bytes]:
    """(time_ms, digest) of one line; ``heads`` caches its series by line head (a batch repeats them)."""
    head, text, time_ms = _split_line(line)
    begun = heads.get(head) if heads is not None else None
    if begun is None:
        series = f"{series_key(*parse_head(head))}\n".encode()
        begun = (zlib.crc32(series), hashlib.sha256(series))
        if heads is not None:
            heads[head] = begun
    crc, sha = begun
    stamp = str(time_ms).encode()
    sha = sha.copy()
    sha.update(stamp + b"\n" + _canonical_fields(text).encode())
    return time_ms, zlib.crc32(stamp, crc).to_bytes(4, "big") + sha.digest()[:8]
