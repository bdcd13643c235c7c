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

import base64
import binascii
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from thonminh.contract import FieldValue

__all__ = [
    "DIGEST_BYTES",
    "EVIDENCE_FIELD",
    "MANIFEST_MEASUREMENT",
    "MAX_MANIFEST_POINTS",
    "SLOTS",
    "Manifest",
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
def series_key(measurement: str, tags: Mapping[str, str | None]) -> str:
    """The canonical series: measurement and non-empty tags, sorted (InfluxDB returns absent tags as '')."""
    pairs = [[k, v] for k, v in sorted(tags.items()) if v]
    return json.dumps([measurement, pairs], ensure_ascii=False, separators=(",", ":"))


def _value(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value))
    return json.dumps(value, ensure_ascii=False)


def canonical_point(series: str, time_ms: int, fields: Mapping[str, FieldValue | None]) -> str:
    """The canonical text of one point (see the module docstring); ``None`` fields (absent) are left out."""
    body = ",".join(
        f"{json.dumps(k, ensure_ascii=False)}:{_value(v)}"
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


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, FieldValue], int]:
    """A line our encoder wrote -> (measurement, tags, fields, time_ms). ``ValueError`` when it is not one."""
    split = _HEAD_END.search(line)
    rest, _, stamp = line.rpartition(" ")
    if split is None or split.start() >= len(rest):
        raise ValueError(f"not a timed line-protocol line: {line[:120]!r}")
    measurement, tags = parse_head(line[: split.start()])
    fields = {
        _UNESCAPE.sub(r"\1", m.group(1)): _field_value(m.group(2))
        for m in _FIELD.finditer(rest, split.end())
    }
    if not fields:
        raise ValueError(f"no fields in {line[:120]!r}")
    return measurement, tags, fields, int(stamp)


def digest_line(line: str, heads: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(time_ms, digest) of one line; ``heads`` caches series keys by line head (a batch repeats them)."""
    split = _HEAD_END.search(line)
    if split is None:
        raise ValueError(f"not a line-protocol line: {line[:120]!r}")
    head = line[: split.start()]
    series = heads.get(head) if heads is not None else None
    if series is None:
        series = series_key(*parse_head(head))
        if heads is not None:
            heads[head] = series
    _, _, fields, time_ms = parse_line(line)
    return time_ms, point_digest(series, time_ms, fields)


# -- sequence numbers ----------------------------------------------------------------------------------------
def pack_seq(epoch: int, n: int) -> int:
    """One integer for (epoch, n): the ``evidence_seq`` field. An epoch starts after each unclean start."""
    if not (0 <= epoch < 2**31 and 0 <= n < 2**32):
        raise ValueError(f"evidence sequence out of range: epoch {epoch}, n {n}")
    return (epoch << 32) | n


def unpack_seq(seq: int) -> tuple[int, int]:
    return seq >> 32, seq & 0xFFFFFFFF


# -- manifests -----------------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"{what} is not base64: {err}") from None


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

    def signed(self, key: Ed25519PrivateKey) -> Manifest:
        return replace(self, sig=key.sign(self.message()))

    def signature_ok(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(self.sig, self.message())
        except InvalidSignature:
            return False
        return True

    def fields(self) -> dict[str, FieldValue]:
        """The ``evidence`` point's fields."""
        return {
            "epoch": self.epoch, "seq": self.n, "prev": self.prev, "count": self.count,
            "first_ms": self.first_ms, "points_sha256": self.points_sha256, "digests": _b64(self.digests),
            "key": self.key, "sig": _b64(self.sig),
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
            digests = _unb64(str(fields["digests"]), "digests")
            manifest = cls(
                {k: v for k, v in tags.items() if v}, int(time_ms), _int(fields["epoch"]), _int(fields["seq"]),
                str(fields["prev"] or ""), digests, _int(fields["first_ms"]), str(fields["key"]),
                _unb64(str(fields["sig"]), "sig"),
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


# -- keys ----------------------------------------------------------------------------------------------------
def fingerprint(public: Ed25519PublicKey) -> str:
    """16 hex digits of SHA-256 of the raw public key: what manifests name and what people compare."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(public: Ed25519PublicKey) -> str:
    """The public key as registered centrally: base64 of its 32 raw bytes."""
    return _b64(_raw(public))


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A public key from base64 of its 32 raw bytes or from PEM; ``ValueError`` saying which it is not."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError as err:
            raise ValueError(f"not a PEM public key: {err}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
        return key
    raw = _unb64(text, "public key")
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this one {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_or_create_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The gateway's private key at ``path`` (PEM, PKCS#8), created 0600 in a 0700 directory if missing.

    Returns (key, created). A key file readable by others is refused: whoever reads it can sign as the gateway.
    """
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path}: the gateway's private key is mode {mode:04o}; it must be 0600")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return key, True
