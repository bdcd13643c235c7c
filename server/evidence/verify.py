"""Verification of one village's points against its gateways' signed manifests: pure functions over rows.

The unit is one UTC hour: a manifest lies in the same hour as every point it signs (docs/data-model.md), so an
hour's points and manifests verify on their own, and the service keeps each hour's result. ``verify_hour``
checks each manifest (registered key, signature, key period) and each point (signed, its manifest there, its
digest listed); ``server.evidence.combine`` adds hours up and checks the chain across them, where a deleted
batch shows as a gap in the sequence numbers and a replayed manifest as a number seen twice.

Fault kinds: ``unsigned`` (a point without ``evidence_seq``), ``no_manifest`` (its manifest is missing),
``altered`` (its manifest lists the point's series and time with another digest), ``injected`` (its manifest
lists no point at that series and time), ``deleted_point`` (a listed point is gone), ``replayed`` (two
manifests with one gateway, epoch and number), ``missing_seq`` (numbers skipped: a batch deleted),
``broken_chain`` (a manifest not naming its predecessor), ``unregistered_key``, ``expired_key`` (signed
outside the key's period), ``bad_signature`` and ``malformed_manifest``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from server.evidence.registry import KeySnapshot
from thonminh.evidence import Manifest, row_digests, unpack_seq, where_of
from thonminh.influx import Series

__all__ = [
    "MANIFEST_FAULTS",
    "POINT_DETAIL",
    "POINT_FAULTS",
    "Fault",
    "HourResult",
    "Run",
    "verify_hour",
]

#: faults that name a point's measurement; the others (a manifest's, the chain's) may touch any figure
POINT_FAULTS = ("unsigned", "no_manifest", "altered", "injected")
#: faults of a manifest that does not verify: its points count as unverified
MANIFEST_FAULTS = ("unregistered_key", "expired_key", "bad_signature")


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    gateway: str
    start_ms: int
    end_ms: int
    detail: str
    #: the measurements whose points it concerns; empty when that cannot be known (a deleted batch)
    measurements: tuple[str, ...] = ()
    #: points (or manifests) it stands for
    count: int = 1
    #: for a manifest that does not verify: why (the same for its neighbours, so they merge) and how many
    reason: str = ""
    manifests: int = 0


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive manifests of one gateway and epoch, each naming the one before: the chain within an hour."""

    gateway: str
    epoch: int
    first_n: int
    first_prev: str
    first_ms: int
    last_n: int
    last_id: str
    last_ms: int


@dataclass(frozen=True, slots=True)
class HourResult:
    hour_ms: int
    #: measurement -> (points, points covered by a valid manifest)
    counts: Mapping[str, tuple[int, int]]
    faults: tuple[Fault, ...]
    runs: tuple[Run, ...]
    #: (gateway, fingerprint) of the keys that signed valid manifests
    keys: frozenset[tuple[str, str]]


# -- one hour ------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Signed:
    manifest: Manifest
    gateway: str
    valid: bool
    fault: str | None = None
    why: str = ""
    digests: frozenset[bytes] = frozenset()
    wheres: frozenset[bytes] = frozenset()
    seen: set[bytes] = field(default_factory=set)
    measurements: set[str] = field(default_factory=set)


def _check(manifest: Manifest, keys: KeySnapshot) -> tuple[str | None, str]:
    gateway = manifest.tags.get("gateway", "")
    record = keys.records.get((gateway, manifest.key))
    if record is None:
        return "unregistered_key", f"key {manifest.key} is not registered for gateway {gateway!r}"
    if record.village != manifest.tags.get("village"):
        return "unregistered_key", f"key {manifest.key} is registered for village {record.village!r}"
    if not manifest.signature_ok(keys.public[(gateway, manifest.key)]):
        return "bad_signature", f"the signature does not verify with key {manifest.key}"
    if not record.covers(manifest.signed_ms):
        return "expired_key", f"signed by key {manifest.key} outside its period"
    return None, ""


def _manifests(
    rows: Iterable[Series], keys: KeySnapshot, faults: list[Fault]
) -> dict[tuple[str, int], _Signed]:
    found: dict[tuple[str, int], list[_Signed]] = defaultdict(list)
    for series in rows:
        for row in series.rows():
            time_ms = row.pop("time")
            try:
                manifest = Manifest.from_influx(series.tags, row, time_ms)
            except ValueError as err:
                gateway = series.tags.get("gateway") or ""
                faults.append(Fault("malformed_manifest", gateway, time_ms, time_ms, str(err)))
                continue
            kind, why = _check(manifest, keys)
            gateway = manifest.tags.get("gateway", "")
            signed = _Signed(manifest, gateway, kind is None, kind, why)
            if kind is None:
                listed = manifest.digest_list()
                signed.digests, signed.wheres = frozenset(listed), frozenset(where_of(d) for d in listed)
            found[(gateway, manifest.seq)].append(signed)
    out = {}
    for (gateway, seq), copies in found.items():
        if len({c.manifest.id for c in copies}) > 1:
            start, end = min(c.manifest.first_ms for c in copies), max(c.manifest.last_ms for c in copies)
            epoch, n = unpack_seq(seq)
            faults.append(
                Fault(
                    "replayed",
                    gateway,
                    start,
                    end,
                    f"{len(copies)} different manifests numbered {n} in epoch {epoch}",
                    count=len(copies),
                )
            )
            for c in copies:  # which one is the gateway's cannot be told: neither covers its points
                c.valid, c.fault = False, c.fault or "replayed"
        out[(gateway, seq)] = min(copies, key=lambda c: c.manifest.time_ms)
    return out


class _Spans:
    """Point faults grouped by kind, gateway and measurement: one fault per group with its first and last time."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str], list[int]] = {}

    def add(self, kind: str, gateway: str, measurement: str, time_ms: int) -> None:
        span = self.groups.get((kind, gateway, measurement))
        if span is None:
            self.groups[(kind, gateway, measurement)] = [time_ms, time_ms, 1]
        else:
            span[0], span[1], span[2] = min(span[0], time_ms), max(span[1], time_ms), span[2] + 1

    def faults(self) -> list[Fault]:
        return [
            Fault(
                kind,
                gw,
                lo,
                hi,
                f"{count} {measurement} point(s) {POINT_DETAIL[kind]}",
                (measurement,),
                count,
            )
            for (kind, gw, measurement), (lo, hi, count) in sorted(self.groups.items())
        ]


POINT_DETAIL = {
    "unsigned": "without evidence_seq: written by no gateway's forwarder",
    "no_manifest": "whose manifest is not in InfluxDB",
    "altered": "whose values differ from what their manifest signed",
    "injected": "at a series and time their manifest does not list",
}


def verify_hour(
    points: Iterable[Series], manifests: Iterable[Series], keys: KeySnapshot, hour_ms: int
) -> HourResult:
    """Verify one hour of one village: ``points`` are its gateway measurements' series (``GROUP BY *``,
    ``epoch=ms``), ``manifests`` the ``evidence`` series of the same hour."""
    faults: list[Fault] = []
    signed = _manifests(manifests, keys, faults)
    spans = _Spans()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    present: dict[bytes, float] = {}  # where -> the highest seq there (inf: unsigned)
    for series in points:
        gateway = series.tags.get("gateway") or ""
        count = counts[series.name]
        for time_ms, seq, digest in row_digests(series.name, series.tags, series.columns, series.values):
            where = where_of(digest)
            present[where] = max(present.get(where, -1), float("inf") if seq is None else seq)
            count[0] += 1
            kind = _point(signed, gateway, seq, digest, where, series.name)
            if kind is None:
                count[1] += 1
            elif kind in POINT_FAULTS:
                spans.add(kind, gateway, series.name, time_ms)
    faults += spans.faults()
    faults += _manifest_faults(signed.values(), present)
    return HourResult(
        hour_ms,
        {k: (v[0], v[1]) for k, v in counts.items()},
        tuple(faults),
        _runs(signed.values()),
        frozenset((s.gateway, s.manifest.key) for s in signed.values() if s.valid),
    )


def _point(
    signed: Mapping[tuple[str, int], _Signed],
    gateway: str,
    seq: object,
    digest: bytes,
    where: bytes,
    measurement: str,
) -> str | None:
    """None when verified, else why not (a manifest's own fault when its manifest is not valid)."""
    if seq is None:
        return "unsigned"
    manifest = signed.get((gateway, int(seq))) if isinstance(seq, int | float) else None
    if manifest is None:
        return "no_manifest"
    if not manifest.valid:
        manifest.measurements.add(measurement)
        return manifest.fault
    if digest in manifest.digests:
        manifest.seen.add(digest)
        return None
    return "altered" if where in manifest.wheres else "injected"


def _manifest_faults(signed: Iterable[_Signed], present: Mapping[bytes, float]) -> list[Fault]:
    out = []
    for s in signed:
        m = s.manifest
        if not s.valid:
            if s.fault != "replayed":
                out.append(
                    Fault(
                        s.fault or "bad_signature",
                        s.gateway,
                        m.first_ms,
                        m.last_ms,
                        f"manifest {m.n} of epoch {m.epoch} ({m.count} point(s)): {s.why}",
                        tuple(sorted(s.measurements)),
                        m.count,
                        s.why,
                        1,
                    )
                )
            continue
        # gone, unless its series and time now hold a later manifest's point (a rewrite, a re-send)
        gone = [d for d in s.digests - s.seen if present.get(where_of(d), -1) < m.seq]
        if gone:
            out.append(
                Fault(
                    "deleted_point",
                    s.gateway,
                    m.first_ms,
                    m.last_ms,
                    f"{len(gone)} of the {m.count} points of manifest {m.n} (epoch {m.epoch}) are missing",
                    count=len(gone),
                )
            )
    return out


def _runs(signed: Iterable[_Signed]) -> tuple[Run, ...]:
    chains: dict[tuple[str, int], list[Manifest]] = defaultdict(list)
    for s in signed:
        if s.valid or s.fault == "replayed":  # a replayed number is still a link of the chain
            chains[(s.gateway, s.manifest.epoch)].append(s.manifest)
    runs = []
    for (gateway, epoch), manifests in sorted(chains.items()):
        manifests.sort(key=lambda m: m.n)
        first = last = manifests[0]
        for m in manifests[1:]:
            if m.n != last.n + 1 or m.prev != last.id:
                runs.append(
                    Run(gateway, epoch, first.n, first.prev, first.first_ms, last.n, last.id, last.last_ms)
                )
                first = m
            last = m
        runs.append(Run(gateway, epoch, first.n, first.prev, first.first_ms, last.n, last.id, last.last_ms))
    return tuple(runs)
