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

A village-month (two million points, 85,000 manifests) takes seconds: a signature is checked once per run of
chained manifests (``server.evidence.chains``), and a point verifies when (its digest, its ``evidence_seq``) is
among the valid manifests' (digest, number) pairs, so only the points that do not are looked at one by one.
Points are counted per measurement and per value of a tag a figure selects (``server.evidence.selected``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from server.evidence.chains import Authentic, vouch
from server.evidence.faults import POINT_FAULTS, Fault, PointSpans
from server.evidence.registry import KeySnapshot
from server.evidence.selected import selections
from thonminh.evidence import Manifest, PublicKey, SeriesDigests, unpack_seq, where_of
from thonminh.influx import Series

__all__ = ["Digested", "HourResult", "Run", "pairs", "verify_hour"]


class Digested(NamedTuple):
    """One series of a gateway measurement, as verification reads it (``thonminh.evidence.row_digests``)."""

    measurement: str
    tags: Mapping[str, str | None]
    found: SeriesDigests


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
    #: when its gateway signed the first manifest: a gap before it is a deletion only once batches in flight
    #: then have landed (``combine.SETTLE_MS``); None: kept by a version without it
    first_signed_ms: int | None = None


@dataclass(frozen=True, slots=True)
class HourResult:
    hour_ms: int
    #: measurement -> (points, points covered by a valid manifest)
    counts: Mapping[str, tuple[int, int]]
    faults: tuple[Fault, ...]
    runs: tuple[Run, ...]
    #: (gateway, fingerprint) of the keys that signed valid manifests
    keys: frozenset[tuple[str, str]]
    #: the same per value of a tag a figure selects (``selected.key``); None: kept by a version without them
    selected: Mapping[str, tuple[int, int]] | None = None


# -- one hour ------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Signed:
    manifest: Manifest
    gateway: str
    #: ``manifest.id``, worked out once: the chain is checked with it
    id: str
    digests: list[bytes]
    valid: bool
    fault: str | None = None
    why: str = ""
    _wheres: frozenset[bytes] | None = None
    measurements: set[str] | None = None

    @property
    def wheres(self) -> frozenset[bytes]:
        """The (series, time) parts of its digests: asked only for a point that does not verify."""
        if self._wheres is None:
            self._wheres = frozenset(where_of(d) for d in self.digests)
        return self._wheres

    def concerns(self, measurement: str) -> None:
        if self.measurements is None:
            self.measurements = set()
        self.measurements.add(measurement)


def _key_fault(manifest: Manifest, keys: KeySnapshot) -> tuple[str | None, str]:
    """Whether the key is registered for the manifest's gateway and village (its signature: ``_authenticate``);
    said from the village's own records only, since its results are kept until those change."""
    gateway, village = manifest.tags.get("gateway", ""), manifest.tags.get("village")
    record = keys.records.get((gateway, manifest.key))
    if record is None or record.village != village:
        why = f"key {manifest.key} of gateway {gateway!r} is not registered for village {village!r}"
        return "unregistered_key", why
    return None, ""


def _manifests(
    rows: Iterable[Series], keys: KeySnapshot, known: Authentic, faults: list[Fault]
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
            kind, why = _key_fault(manifest, keys)
            gateway = manifest.tags.get("gateway", "")
            found[(gateway, manifest.seq)].append(
                _Signed(manifest, gateway, manifest.id, manifest.digest_list(), kind is None, kind, why)
            )
    out = {}
    for (gateway, seq), copies in found.items():
        if len({c.id for c in copies}) > 1:
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
                if c.valid:
                    _own_check(c, keys)
                c.valid, c.fault = False, c.fault or "replayed"
        out[(gateway, seq)] = min(copies, key=lambda c: c.manifest.time_ms)
    _authenticate([s for s in out.values() if s.valid], keys, known)
    return out


def _authenticate(candidates: list[_Signed], keys: KeySnapshot, known: Authentic) -> None:
    """Signatures, checked once per run (``server.evidence.chains``): those found authentic over the whole
    window first, then the hour's own chains. Then the key period, which holds for each manifest's own
    signing time."""
    chains: dict[tuple[str, int, str], list[_Signed]] = defaultdict(list)
    for s in candidates:
        if known.get((s.gateway, s.manifest.epoch, s.manifest.n)) == s.id:
            _own_check(s, keys, authentic=True)
        else:
            chains[(s.gateway, s.manifest.epoch, s.manifest.key)].append(s)
    for chain in chains.values():
        links = [(s.manifest.n, s.id, s.manifest.prev) for s in chain]
        for s, authentic in zip(chain, vouch(links, partial(_signature_ok, chain, keys)), strict=True):
            _own_check(s, keys, authentic=authentic)


def _signature_ok(chain: list[_Signed], keys: KeySnapshot, i: int) -> bool:
    return chain[i].manifest.signature_ok(_public(chain[i], keys))


def _public(s: _Signed, keys: KeySnapshot) -> PublicKey:
    return keys.public[(s.gateway, s.manifest.key)]


def _own_check(s: _Signed, keys: KeySnapshot, *, authentic: bool | None = None) -> None:
    """A manifest of a registered key: invalid when its signature does not verify (``authentic`` when that is
    known already) or it was signed outside the key's period."""
    m = s.manifest
    if not (m.signature_ok(_public(s, keys)) if authentic is None else authentic):
        s.valid, s.fault, s.why = False, "bad_signature", f"the signature does not verify with key {m.key}"
    elif not keys.records[(s.gateway, m.key)].covers(m.signed_ms):
        s.valid, s.fault, s.why = False, "expired_key", f"signed by key {m.key} outside its period"


def verify_hour(
    points: Iterable[Digested],
    manifests: Iterable[Series],
    keys: KeySnapshot,
    hour_ms: int,
    known: Authentic | None = None,
) -> HourResult:
    """Verify one hour of one village: its gateway measurements' series with their digests (``points``), the
    hour's ``evidence`` series (``manifests``) and those found authentic over a wider window (``known``)."""
    faults: list[Fault] = []
    signed = _manifests(manifests, keys, known or {}, faults)
    listed: dict[str, set[tuple[bytes, int]]] = defaultdict(set)  # gateway -> (digest, seq) of valid ones
    for (gateway, seq), s in signed.items():
        if s.valid:
            listed[gateway].update((d, seq) for d in s.digests)
    spans = PointSpans()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    selected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    present: list[tuple[str, SeriesDigests]] = []
    for measurement, tags, found in points:
        gateway = tags.get("gateway") or ""
        present.append((gateway, found))
        valid = listed.get(gateway, set())
        verified = len(valid.intersection(zip(found.digests, found.seqs, strict=True)))
        for count in [counts[measurement]] + [selected[k] for k in selections(measurement, tags)]:
            count[0] += len(found.digests)
            count[1] += verified
        if verified < len(found.digests):
            for time_ms, seq, digest in zip(found.times, found.seqs, found.digests, strict=True):
                if (digest, seq) not in valid:
                    kind = _point(signed, gateway, seq, digest, measurement)
                    if kind in POINT_FAULTS:
                        spans.add(kind, gateway, measurement, tags, time_ms)
    faults += spans.faults()
    faults += _manifest_faults(signed.values(), present)
    return HourResult(
        hour_ms,
        pairs(counts),
        tuple(faults),
        _runs(signed.values()),
        frozenset((s.gateway, s.manifest.key) for s in signed.values() if s.valid),
        pairs(selected),
    )


def pairs(counts: Mapping[str, list[int]]) -> dict[str, tuple[int, int]]:
    """Counts added up in place (``[points, verified]``) as a result keeps them: ``(points, verified)``."""
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _point(
    signed: Mapping[tuple[str, int], _Signed], gateway: str, seq: int | None, digest: bytes, measurement: str
) -> str:
    """Why a point does not verify (a manifest's own fault when its manifest is not valid)."""
    if seq is None:
        return "unsigned"
    manifest = signed.get((gateway, seq))
    if manifest is None:
        return "no_manifest"
    if not manifest.valid:
        manifest.concerns(measurement)
        return manifest.fault or "bad_signature"
    return "altered" if where_of(digest) in manifest.wheres else "injected"


def _manifest_faults(signed: Iterable[_Signed], present: list[tuple[str, SeriesDigests]]) -> list[Fault]:
    out = []
    here: dict[str, set[bytes]] | None = None  # gateway -> digests of its points in the hour
    later: dict[bytes, float] | None = None  # where -> the highest seq there (inf: unsigned)
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
                        tuple(sorted(s.measurements or ())),
                        m.count,
                        s.why,
                        1,
                    )
                )
            continue
        if here is None:
            here = defaultdict(set)
            for gateway, found in present:
                here[gateway].update(found.digests)
        missing = set(s.digests) - here[s.gateway]
        if not missing:
            continue
        if later is None:
            later = _latest_seq(present)
        # gone, unless its series and time now hold a later manifest's point (a rewrite, a re-send)
        gone = [d for d in missing if later.get(where_of(d), -1) < m.seq]
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


def _latest_seq(present: list[tuple[str, SeriesDigests]]) -> dict[bytes, float]:
    out: dict[bytes, float] = {}
    for _, found in present:
        for seq, digest in zip(found.seqs, found.digests, strict=True):
            # a point with no number (or not a number) is unsigned: it stands over whatever was signed there
            number = seq if isinstance(seq, int | float) and not isinstance(seq, bool) else float("inf")
            where = where_of(digest)
            if number > out.get(where, -1):
                out[where] = number
    return out


def _runs(signed: Iterable[_Signed]) -> tuple[Run, ...]:
    chains: dict[tuple[str, int], list[_Signed]] = defaultdict(list)
    for s in signed:
        if s.valid or s.fault == "replayed":  # a replayed number is still a link of the chain
            chains[(s.gateway, s.manifest.epoch)].append(s)
    runs = []
    for (gateway, epoch), links in sorted(chains.items()):
        links.sort(key=lambda s: s.manifest.n)
        first = last = links[0]
        for s in links[1:]:
            if s.manifest.n != last.manifest.n + 1 or s.manifest.prev != last.id:
                runs.append(_run(gateway, epoch, first, last))
                first = s
            last = s
        runs.append(_run(gateway, epoch, first, last))
    return tuple(runs)


def _run(gateway: str, epoch: int, first: _Signed, last: _Signed) -> Run:
    return Run(
        gateway,
        epoch,
        first.manifest.n,
        first.manifest.prev,
        first.manifest.first_ms,
        last.manifest.n,
        last.id,
        last.manifest.last_ms,
        first.manifest.signed_ms,
    )
