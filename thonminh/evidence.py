"""Signed evidence: what a gateway measured, in a form anyone can check again from InfluxDB.

Each gateway holds an Ed25519 key. Every point it forwards carries the integer field ``evidence_seq``, naming
the manifest that signs it; each manifest is a point of its own (measurement ``evidence``) in the same write.
A manifest lists one digest per point, the hash of the previous manifest (a chain per gateway), the point
count and first/last times, and is signed. Whoever can write to InfluxDB can still write anything, but cannot
make it verify: an altered, injected or deleted point, a deleted batch and a replayed manifest each show.

The canonical form of a point is defined from what InfluxDB's v1 query API returns (``GROUP BY *``,
``epoch=ms``), so the service recomputes it from a query and the gateway from its own line:

- the series: ``json.dumps([measurement, [[tag, value], ...]])`` with the non-empty tags sorted by key;
- the time in integer milliseconds (the gateway writes with ``precision=ms``);
- the fields sorted by key, ``evidence_seq`` left out, each ``json.dumps(key) + ":" + value`` joined by ``,``,
  where a number (int or float: InfluxDB's JSON does not keep the difference) is ``repr(float(v))``, a
  boolean ``true``/``false`` and a string ``json.dumps(s)``;
- canonical point = ``series + "\\n" + time + "\\n" + fields`` (UTF-8).

A point's digest is 12 bytes: CRC-32 of ``series + "\\n" + time`` (which point a digest was for, to tell an
altered value from an injected point) and the first 8 bytes of SHA-256 of the canonical point (its
integrity). docs/evidence.md and the data contract say the same for people.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Protocol, cast

from thonminh.contract import FieldValue
from thonminh.evidencekeys import (
    GatewayKey,
    PublicKey,
    fingerprint,
    from_b64,
    load_or_create_key,
    parse_public_key,
    public_key_text,
    signature_ok,
    to_b64,
)

__all__ = [
    "DIGEST_BYTES",
    "EVIDENCE_FIELD",
    "MANIFEST_MEASUREMENT",
    "MAX_MANIFEST_POINTS",
    "SLOTS",
    "GatewayKey",
    "Manifest",
    "PublicKey",
    "SeriesHeads",
    "Signer",
    "canonical_point",
    "digest_line",
    "fingerprint",
    "load_or_create_key",
    "pack_seq",
    "parse_line",
    "parse_public_key",
    "point_digest",
    "public_key_text",
    "series_key",
    "unpack_seq",
]

#: The field every signed point carries: ``pack_seq(epoch, n)`` of its manifest.
EVIDENCE_FIELD: Final = "evidence_seq"
#: The manifests' measurement.
MANIFEST_MEASUREMENT: Final = "evidence"
DIGEST_BYTES: Final = 12
#: Points per manifest at most: its digests (16 base64 characters a point) stay well under InfluxDB's 64 KiB
#: string field limit.
MAX_MANIFEST_POINTS: Final = 2000
#: Manifests are stamped with their last point's time; the ``slot`` tag (``n % SLOTS``) keeps two manifests
#: that end on the same millisecond (a batch re-sent after a power cut, under a new number) from overwriting.
SLOTS: Final = 16
_MESSAGE_VERSION: Final = 1


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
        f"{_name(k)}:{_value(v)}"
        for k, v in sorted(fields.items())
        if v is not None and k != EVIDENCE_FIELD
    )
    return f"{series}\n{time_ms}\n{body}"


def point_digest(series: str, time_ms: int, fields: Mapping[str, FieldValue | None]) -> bytes:
    """12 bytes: CRC-32 of the point's series and time, then 8 bytes of SHA-256 of its canonical text."""
    where = zlib.crc32(f"{series}\n{time_ms}".encode()).to_bytes(4, "big")
    return where + hashlib.sha256(canonical_point(series, time_ms, fields).encode()).digest()[:8]


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


# -- sequence numbers ----------------------------------------------------------------------------------------
def pack_seq(epoch: int, n: int) -> int:
    """One integer for (epoch, n): the ``evidence_seq`` field. An epoch starts after each unclean start."""
    if not (0 <= epoch < 2**31 and 0 <= n < 2**32):
        raise ValueError(f"evidence sequence out of range: epoch {epoch}, n {n}")
    return (epoch << 32) | n


def unpack_seq(seq: int) -> tuple[int, int]:
    return seq >> 32, seq & 0xFFFFFFFF


# -- manifests -----------------------------------------------------------------------------------------------
class Signer(Protocol):
    """What signs a manifest: a ``GatewayKey`` (or anything that signs bytes with Ed25519)."""

    def sign(self, data: bytes, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Manifest:
    """One signed batch of one gateway: which points (by digest), where in the chain, by which key."""

    #: The gateway's site tags and ``slot`` (exactly the tags of the ``evidence`` point).
    tags: Mapping[str, str]
    #: The manifest point's time: the last point's time, so a manifest lies in the same hour as its points.
    time_ms: int
    epoch: int
    n: int
    #: ``id`` of the previous manifest of this gateway; '' for the first one ever.
    prev: str
    #: ``DIGEST_BYTES`` per point, sorted.
    digests: bytes
    first_ms: int
    #: The signing key's fingerprint.
    key: str
    sig: bytes = field(default=b"", compare=False)

    @property
    def seq(self) -> int:
        return pack_seq(self.epoch, self.n)

    @property
    def count(self) -> int:
        return len(self.digests) // DIGEST_BYTES

    @property
    def points_sha256(self) -> str:
        return hashlib.sha256(self.digests).hexdigest()

    def digest_list(self) -> list[bytes]:
        d = self.digests
        return [d[i : i + DIGEST_BYTES] for i in range(0, len(d), DIGEST_BYTES)]

    def message(self) -> bytes:
        """What is signed: every field but the signature and the digests themselves (their hash stands in)."""
        body = {
            "v": _MESSAGE_VERSION, "tags": dict(sorted(self.tags.items())), "time_ms": self.time_ms,
            "epoch": self.epoch, "n": self.n, "prev": self.prev, "count": self.count,
            "first_ms": self.first_ms, "points_sha256": self.points_sha256, "key": self.key,
        }
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    @property
    def id(self) -> str:
        """The hash the next manifest's ``prev`` names."""
        return hashlib.sha256(self.message()).hexdigest()

    def signed(self, key: Signer) -> Manifest:
        return replace(self, sig=key.sign(self.message()))

    def signature_ok(self, public: PublicKey) -> bool:
        return signature_ok(public, self.message(), self.sig)

    def fields(self) -> dict[str, FieldValue]:
        """The ``evidence`` point's fields."""
        return {
            "epoch": self.epoch, "seq": self.n, "prev": self.prev, "count": self.count,
            "first_ms": self.first_ms, "points_sha256": self.points_sha256, "digests": to_b64(self.digests),
            "key": self.key, "sig": to_b64(self.sig),
        }

    @classmethod
    def build(cls, site: Mapping[str, str], epoch: int, n: int, prev: str, points: Iterable[tuple[int, bytes]],
              key: str) -> Manifest:
        """An unsigned manifest over ``points`` (time_ms, digest), stamped with the last point's time."""
        items = list(points)
        if not items:
            raise ValueError("a manifest needs at least one point")
        times = [t for t, _ in items]
        tags = {**site, "slot": str(n % SLOTS)}
        return cls(tags, max(times), epoch, n, prev, b"".join(sorted(d for _, d in items)), min(times), key)

    @classmethod
    def from_influx(cls, tags: Mapping[str, str | None], fields: Mapping[str, object], time_ms: int) -> Manifest:
        """A manifest as InfluxDB returns it; ``ValueError`` naming what is missing or malformed."""
        try:
            digests = from_b64(str(fields["digests"]), "digests")
            manifest = cls(
                {k: v for k, v in tags.items() if v}, int(time_ms), _int(fields["epoch"]), _int(fields["seq"]),
                str(fields["prev"] or ""), digests, _int(fields["first_ms"]), str(fields["key"]),
                from_b64(str(fields["sig"]), "sig"),
            )
        except KeyError as err:
            raise ValueError(f"manifest without field {err.args[0]!r}") from None
        if len(digests) % DIGEST_BYTES:
            raise ValueError(f"digests are {len(digests)} bytes, not a multiple of {DIGEST_BYTES}")
        if fields.get("count") is not None and _int(fields["count"]) != manifest.count:
            raise ValueError(f"count {fields['count']} but {manifest.count} digests")
        return manifest


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ValueError(f"{value!r} is not an integer")
    return int(value)
