"""Signed test data: a gateway that signs its points as the real one does (thonminh/evidence.py), and the
central verification run straight on an InfluxDB, so each fault test is a few lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from srv_helpers import ADMIN

from server.evidence.combine import Verification, combine
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS, numbers_around, read_and_verify
from server.queries import Source
from server.timeparse import iso
from thonminh.contract import Point, site_tags
from thonminh.evidence import (
    EVIDENCE_FIELD,
    MANIFEST_MEASUREMENT,
    GatewayKey,
    Manifest,
    digest_line,
    fingerprint,
    pack_seq,
    public_key_text,
)
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

VILLAGE = "kha-ly"
GATEWAY = "gw-kly"
SITE = site_tags(VILLAGE, GATEWAY, commune="quang-minh", province="bac-giang")


def manifest_line(m: Manifest) -> str:
    return encode_line(Point(MANIFEST_MEASUREMENT, m.tags, m.fields(), m.time_ms))


@dataclass
class Gateway:
    """Signs batches of points with its key, numbering and chaining the manifests like the forwarder."""

    site: dict[str, str] = field(default_factory=lambda: dict(SITE))
    key: GatewayKey = field(default_factory=GatewayKey.generate)
    epoch: int = 1
    n: int = 0
    prev: str = ""
    manifests: list[Manifest] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key.public_key())

    @property
    def public_key(self) -> str:
        return public_key_text(self.key.public_key())

    def sign(self, points: Iterable[Point], *, batch: int = 40) -> list[str]:
        """Lines to write: each point with ``evidence_seq`` and, after each batch, its manifest. A batch never
        spans two UTC hours."""
        ordered = sorted(points, key=lambda p: p.time_ms)
        batches: list[list[Point]] = []
        for p in ordered:
            if (
                batches
                and len(batches[-1]) < batch
                and batches[-1][0].time_ms // HOUR_MS == p.time_ms // HOUR_MS
            ):
                batches[-1].append(p)
            else:
                batches.append([p])
        lines = []
        for group in batches:
            seq = pack_seq(self.epoch, self.n)
            signed = [
                encode_line(Point(p.measurement, p.tags, {**p.fields, EVIDENCE_FIELD: seq}, p.time_ms))
                for p in group
            ]
            # signed a minute after its last point, as a gateway's forwarder does with InfluxDB up
            manifest = Manifest.build(
                self.site,
                self.epoch,
                self.n,
                self.prev,
                [digest_line(x) for x in signed],
                self.fingerprint,
                signed_ms=group[-1].time_ms + 60_000,
            ).signed(self.key)
            self.manifests.append(manifest)
            self.prev, self.n = manifest.id, self.n + 1
            lines += [*signed, manifest_line(manifest)]
        return lines


def uplink_points(
    start_ms: int, hours: int, *, step_s: int = 60, site: dict[str, str] | None = None
) -> list[Point]:
    """A fiber link up all the time and a Wi-Fi AP, one sample each a minute."""
    tags = site or SITE
    points = []
    for t in range(start_ms, start_ms + hours * HOUR_MS, step_s * 1000):
        points.append(
            Point(
                "uplink",
                {**tags, "link": "fiber"},
                {
                    "up": 1,
                    "up_s": float(step_s),
                    "observed_s": float(step_s),
                    "rtt_ms": 3.5,
                    "loss_pct": 0.0,
                    "targets_ok": 3,
                    "targets_total": 3,
                },
                t,
            )
        )
        points.append(
            Point(
                "wifi",
                {**tags, "ap": "nha-van-hoa"},
                {"ap_up": 1, "up_s": float(step_s), "observed_s": float(step_s), "clients": 4},
                t + 500,
            )
        )
    return points


def verify(
    influx: InfluxClient,
    registry: Registry,
    start_ms: int,
    end_ms: int,
    village: str = VILLAGE,
    now_s: float | None = None,
) -> Verification:
    """What the service computes for ``village`` over whole hours, straight from the database (at ``now_s``:
    long after every manifest was signed when None)."""

    def raw(measurement: str) -> Source:
        return Source(influx.database or "", None, measurement)

    return combine(
        read_and_verify(influx, raw, registry.snapshot(), village, start_ms, end_ms),
        lambda: numbers_around(influx, raw, village, start_ms, end_ms),
        now_s,
    )


def register(registry: Registry, gw: Gateway, *, valid_from_ms: int = 0) -> None:
    registry.add(
        gw.site["gateway"],
        gw.site["village"],
        gw.public_key,
        valid_from_ms=valid_from_ms,
        by="test",
        now_ms=valid_from_ms,
    )


def kinds(found: Verification) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in found.faults:
        out[f.kind] = out.get(f.kind, 0) + f.count
    return out


def signed_hours(influx: InfluxClient, registry: Registry, start_ms: int, hours: int) -> Gateway:
    """A registered gateway whose ``uplink_points`` of ``hours`` from ``start_ms`` are signed and written: 120
    points an hour, three manifests of 40 each."""
    gateway = Gateway()
    register(registry, gateway)
    influx.write(gateway.sign(uplink_points(start_ms, hours)))
    return gateway


def registry_at(path: Path) -> Registry:
    return Registry(path / "keys.sqlite")


def register_over_api(api, gw: Gateway, *, valid_from_ms: int) -> None:
    """Register ``gw``'s key for its village through the API with the admin key, as a technician does."""
    answer = api.post(
        f"/api/v1/gateways/{gw.site['gateway']}/keys",
        headers=ADMIN,
        json={"village": gw.site["village"], "public_key": gw.public_key, "valid_from": iso(valid_from_ms)},
    )
    assert answer.status_code == 201, answer.text
