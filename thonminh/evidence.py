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

Manual indicators are entered through the criteria service, by no gateway: the service signs each of their
points itself (fields ``key`` and ``sig``) with a key of its own, registered beside the gateways' for village
``*``, over ``indicator_message``: the same canonical form, after a first line of its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from thonminh.contract import INDICATOR, INDICATOR_ENTRY, MEASUREMENTS, FieldValue
from thonminh.evidenceform import (
    EVIDENCE_FIELD,
    SeriesDigests,
    SeriesHeads,
    canonical_point,
    digest_line,
    parse_line,
    point_digest,
    row_digests,
    series_key,
    where_of,
)
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
    "INDICATOR_MESSAGE",
    "INDICATOR_SIGNATURE",
    "IN_FLIGHT_S",
    "MANIFEST_MEASUREMENT",
    "MAX_MANIFEST_POINTS",
    "SERVICE_KEY_VILLAGE",
    "SIGNED_MEASUREMENTS",
    "SLOTS",
    "VERIFIED_MEASUREMENTS",
    "GatewayKey",
    "Manifest",
    "PublicKey",
    "SeriesDigests",
    "SeriesHeads",
    "Signer",
    "canonical_point",
    "digest_line",
    "fingerprint",
    "header_message",
    "indicator_message",
    "load_or_create_key",
    "manifest_message",
    "message_id",
    "pack_seq",
    "parse_line",
    "parse_public_key",
    "point_digest",
    "row_digests",
    "public_key_text",
    "series_key",
    "unpack_seq",
    "where_of",
]

#: The manifests' measurement.
MANIFEST_MEASUREMENT: Final = "evidence"
#: The gateways' measurements, which they sign: every one of the contract but the manifests and the criteria
#: service's own manual indicators (entered through its API, by an official's key, never by a gateway).
SIGNED_MEASUREMENTS: Final = tuple(
    name for name in MEASUREMENTS if name not in (MANIFEST_MEASUREMENT, INDICATOR.name, INDICATOR_ENTRY.name)
)
#: The registry's village of the criteria service's own keys, which sign manual indicators of every village.
SERVICE_KEY_VILLAGE: Final = "*"
#: The first line of every indicator message, so no signature of the service passes for another message.
INDICATOR_MESSAGE: Final = "thonminh indicator v1"
INDICATOR_SIGNATURE: Final = "sig"
#: The measurements whose points are verified: the gateways', and the manual indicators the service signs.
VERIFIED_MEASUREMENTS: Final = (*SIGNED_MEASUREMENTS, INDICATOR.name)
DIGEST_BYTES: Final = 12
#: Points per manifest at most: its digests (16 base64 characters a point) stay well under InfluxDB's 64 KiB
#: string field limit.
MAX_MANIFEST_POINTS: Final = 2000
#: How long after a later batch of its gateway a batch may still land: the forwarder writes several at once and
#: retries a failed one after its backoff, which ``edge.config`` bounds to half of this; verification takes a gap
#: in the sequence numbers for a batch in flight, not a deletion, for this long after the next was signed.
IN_FLIGHT_S: Final = 300
#: The ``slot`` tag is ``epoch % SLOTS``: after a power cut a new epoch may number batches again from where
#: the stored chain left off, and its manifests must not overwrite the old epoch's (``stamp``).
SLOTS: Final = 16
HOUR_MS: Final = 3_600_000
_MESSAGE_VERSION: Final = 2
#: ``json.dumps(..., ensure_ascii=False, sort_keys=True, separators=(",", ":"))``, one encoder for every
#: message: the service works out the ``id`` of each of a village-month's 85,000 manifests
_MESSAGE_JSON: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- sequence numbers ----------------------------------------------------------------------------------------
def pack_seq(epoch: int, n: int) -> int:
    """One integer for (epoch, n): the ``evidence_seq`` field. An epoch starts after each unclean start."""
    if not (0 <= epoch < 2**31 and 0 <= n < 2**32):
        raise ValueError(f"evidence sequence out of range: epoch {epoch}, n {n}")
    return (epoch << 32) | n


def unpack_seq(seq: int) -> tuple[int, int]:
    return seq >> 32, seq & 0xFFFFFFFF


# -- manifests -----------------------------------------------------------------------------------------------
def stamp(last_ms: int, n: int) -> int:
    """A manifest's time: in the hour of its last point, at the millisecond ``n`` names (``n`` mod an hour).

    Two manifests of one gateway share a time only if their numbers are an hour's milliseconds apart (3.6
    million batches: years) and their epochs fall in the same ``slot``, so none overwrites another.
    """
    return last_ms - last_ms % HOUR_MS + n % HOUR_MS


def manifest_message(
    tags: Mapping[str, str],
    time_ms: int,
    epoch: int,
    n: int,
    prev: str,
    count: int,
    first_ms: int,
    last_ms: int,
    signed_ms: int,
    points_sha256: str,
    key: str,
) -> bytes:
    """What a manifest's key signs, and what its ``id`` hashes: from its fields as InfluxDB holds them, so the
    service can check a chain without reading the digests (``points_sha256`` stands in for them)."""
    body = {
        "v": _MESSAGE_VERSION,
        "tags": dict(sorted(tags.items())),
        "time_ms": time_ms,
        "epoch": epoch,
        "n": n,
        "prev": prev,
        "count": count,
        "first_ms": first_ms,
        "last_ms": last_ms,
        "signed_ms": signed_ms,
        "points_sha256": points_sha256,
        "key": key,
    }
    return _MESSAGE_JSON.encode(body).encode()


class Signer(Protocol):
    """What signs a manifest: a ``GatewayKey`` (or anything that signs bytes with Ed25519)."""

    def sign(self, data: bytes, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Manifest:
    """One signed batch of one gateway: which points (by digest), where in the chain, by which key."""

    #: The gateway's site tags and ``slot`` (exactly the tags of the ``evidence`` point).
    tags: Mapping[str, str]
    #: The manifest point's time: in its points' UTC hour (so an hour verifies on its own), at a millisecond
    #: of its own (``stamp``): a point rewritten all day at the same time, such as ``wifi_daily`` at local
    #: midnight, gets a manifest per rewrite, and none may overwrite another.
    time_ms: int
    epoch: int
    n: int
    #: ``id`` of the previous manifest of this gateway; '' for the first one ever.
    prev: str
    #: ``DIGEST_BYTES`` per point, sorted.
    digests: bytes
    #: The first and last point's times.
    first_ms: int
    last_ms: int
    #: When the gateway signed it (its clock): what a key's validity period is checked against, since a
    #: point may be signed long after its time (a backlog, a day's Wi-Fi count rewritten until midnight).
    signed_ms: int
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
        return manifest_message(
            self.tags,
            self.time_ms,
            self.epoch,
            self.n,
            self.prev,
            self.count,
            self.first_ms,
            self.last_ms,
            self.signed_ms,
            self.points_sha256,
            self.key,
        )

    @property
    def id(self) -> str:
        """The hash the next manifest's ``prev`` names."""
        return message_id(self.message())

    def signed(self, key: Signer) -> Manifest:
        return replace(self, sig=key.sign(self.message()))

    def signature_ok(self, public: PublicKey) -> bool:
        return signature_ok(public, self.message(), self.sig)

    def fields(self) -> dict[str, FieldValue]:
        """The ``evidence`` point's fields."""
        return {
            "epoch": self.epoch,
            "seq": self.n,
            "prev": self.prev,
            "count": self.count,
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
            "signed_ms": self.signed_ms,
            "points_sha256": self.points_sha256,
            "digests": to_b64(self.digests),
            "key": self.key,
            "sig": to_b64(self.sig),
        }

    @classmethod
    def build(
        cls,
        site: Mapping[str, str],
        epoch: int,
        n: int,
        prev: str,
        points: Iterable[tuple[int, bytes]],
        key: str,
        *,
        signed_ms: int | None = None,
    ) -> Manifest:
        """An unsigned manifest over ``points`` (time_ms, digest), all in one UTC hour; signed now by default."""
        items = list(points)
        if not items:
            raise ValueError("a manifest needs at least one point")
        times = [t for t, _ in items]
        first, last = min(times), max(times)
        if first // HOUR_MS != last // HOUR_MS:
            raise ValueError("a manifest's points must lie in one UTC hour")
        signed = int(time.time() * 1000) if signed_ms is None else signed_ms
        tags = {**site, "slot": str(epoch % SLOTS)}
        digests = b"".join(sorted(d for _, d in items))
        return cls(tags, stamp(last, n), epoch, n, prev, digests, first, last, signed, key)

    @classmethod
    def from_influx(
        cls, tags: Mapping[str, str | None], fields: Mapping[str, object], time_ms: int
    ) -> Manifest:
        """A manifest as InfluxDB returns it; ``ValueError`` naming what is missing or malformed."""
        try:
            digests = from_b64(str(fields["digests"]), "digests")
            manifest = cls(
                {k: v for k, v in tags.items() if v},
                int(time_ms),
                _int(fields["epoch"]),
                _int(fields["seq"]),
                str(fields["prev"] or ""),
                digests,
                _int(fields["first_ms"]),
                _int(fields["last_ms"]),
                _int(fields["signed_ms"]),
                str(fields["key"]),
                from_b64(str(fields["sig"]), "sig"),
            )
        except KeyError as err:
            raise ValueError(f"manifest without field {err.args[0]!r}") from None
        if len(digests) % DIGEST_BYTES:
            raise ValueError(f"digests are {len(digests)} bytes, not a multiple of {DIGEST_BYTES}")
        # any integer can be written as a manifest's number: out of range, it is a fault of its own
        pack_seq(manifest.epoch, manifest.n)
        if fields.get("count") is not None and _int(fields["count"]) != manifest.count:
            raise ValueError(f"count {fields['count']} but {manifest.count} digests")
        return manifest


def header_message(tags: Mapping[str, str | None], fields: Mapping[str, object], time_ms: int) -> bytes:
    """``manifest_message`` of a manifest as InfluxDB returns it, from its stored ``points_sha256`` instead of
    its digests; ``ValueError`` (or ``KeyError``) when a field is missing or malformed."""
    epoch, n = _int(fields["epoch"]), _int(fields["seq"])
    pack_seq(epoch, n)  # out of range: ValueError, as ``Manifest.from_influx``
    return manifest_message(
        {k: v for k, v in tags.items() if v},
        int(time_ms),
        epoch,
        n,
        str(fields["prev"] or ""),
        _int(fields["count"]),
        _int(fields["first_ms"]),
        _int(fields["last_ms"]),
        _int(fields["signed_ms"]),
        str(fields["points_sha256"]),
        str(fields["key"]),
    )


def indicator_message(
    measurement: str, tags: Mapping[str, str | None], fields: Mapping[str, FieldValue | None], time_ms: int
) -> bytes:
    """What the criteria service signs of a manual indicator's point (``indicator``, ``indicator_entry``): its
    canonical form without ``sig``, so that it is checked again from what InfluxDB returns. ``key`` is in it:
    a signature cannot be passed off as another key's."""
    unsigned = {k: v for k, v in fields.items() if k != INDICATOR_SIGNATURE}
    return f"{INDICATOR_MESSAGE}\n{canonical_point(series_key(measurement, tags), int(time_ms), unsigned)}".encode()


def message_id(message: bytes) -> str:
    """The SHA-256 (hex) of a signed message: what the next link of a chain names as ``prev``."""
    return hashlib.sha256(message).hexdigest()


def _int(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or int(value) != value
    ):
        raise ValueError(f"{value!r} is not an integer")
    return int(value)
