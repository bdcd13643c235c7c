"""A small verifier of signed evidence for the gateway's tests, from what InfluxDB's v1 query API returns.

The criteria service has the real one (server/); this checks what the gateway tests need: every point names a
manifest that lists its digest, every manifest is signed by the gateway's key, the chain is unbroken.
``service_verification`` runs the real one on a gateway's data, its key registered.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from server.evidence.combine import Verification, combine
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS, numbers_around, read_and_verify
from server.queries import Source
from thonminh.evidence import (
    EVIDENCE_FIELD,
    MANIFEST_MEASUREMENT,
    Manifest,
    load_or_create_key,
    point_digest,
    series_key,
)
from thonminh.evidencekeys import GatewayKey
from thonminh.influx import InfluxClient


@dataclass
class Evidence:
    points: list[tuple[int | None, bytes]] = field(default_factory=list)  # (evidence_seq, digest)
    manifests: list[Manifest] = field(default_factory=list)

    @property
    def by_seq(self) -> dict[int, Manifest]:
        return {m.seq: m for m in self.manifests}

    def unsigned(self) -> int:
        return sum(1 for seq, _ in self.points if seq is None)

    def uncovered(self) -> list[tuple[int | None, bytes]]:
        """Points whose manifest is missing or does not list their digest."""
        by_seq = self.by_seq
        return [
            (seq, d)
            for seq, d in self.points
            if seq is None or seq not in by_seq or d not in set(by_seq[seq].digest_list())
        ]

    def bad_signatures(self, key_path: Path) -> list[Manifest]:
        public = load_or_create_key(key_path)[0].public_key()
        return [m for m in self.manifests if not m.signature_ok(public)]

    def chain_breaks(self) -> list[str]:
        """Within an epoch: numbers consecutive, each ``prev`` the previous id; a new epoch's first manifest
        names some earlier manifest (or nothing, for the very first)."""
        problems = []
        ordered = sorted(self.manifests, key=lambda m: (m.epoch, m.n))
        ids = {m.id for m in ordered}
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.epoch == before.epoch:
                if after.n != before.n + 1 or after.prev != before.id:
                    problems.append(f"{after.epoch}/{after.n} after {before.epoch}/{before.n}")
            elif after.prev and after.prev not in ids:
                problems.append(f"epoch {after.epoch} starts from an unknown manifest")
        if ordered and ordered[0].prev not in ("", *ids):
            problems.append("the first manifest names an unknown one")
        return problems

    def counted_twice(self) -> int:
        """Points listed by more than one manifest: a batch re-signed instead of re-sent."""
        listed = Counter(d for m in self.manifests for d in m.digest_list())
        return sum(n - 1 for n in listed.values() if n > 1)


def read_evidence(influx: InfluxClient) -> Evidence:
    out = Evidence()
    for series in influx.select("SELECT * FROM /.*/ GROUP BY *").series:
        for row in series.rows():
            time_ms = row.pop("time")
            if series.name == MANIFEST_MEASUREMENT:
                out.manifests.append(Manifest.from_influx(series.tags, row, time_ms))
                continue
            seq = row.get(EVIDENCE_FIELD)
            out.points.append(
                (
                    None if seq is None else int(seq),
                    point_digest(series_key(series.name, series.tags), time_ms, row),
                )
            )
    return out


def service_verification(
    influx: InfluxClient, key_path: Path, site: dict[str, str], start_ms: int, end_ms: int, registry: Path
) -> Verification:
    """What the criteria service finds in the whole hours around ``[start_ms, end_ms]`` of ``site``'s village,
    the gateway's key (at ``key_path``) registered in a registry at ``registry``."""
    key = GatewayKey.from_pem(key_path.read_text(), key_path)
    keys = Registry(registry)
    keys.add(site["gateway"], site["village"], key.public_text, valid_from_ms=0, by="test", now_ms=0)
    start, end = start_ms // HOUR_MS * HOUR_MS, (end_ms // HOUR_MS + 1) * HOUR_MS

    def raw(measurement: str) -> Source:
        return Source(influx.database or "", None, measurement)

    return combine(
        read_and_verify(influx, raw, keys.snapshot(), site["village"], start, end),
        lambda: numbers_around(influx, raw, site["village"], start, end),
    )
