"""A figure's share of a village's verification: what a verdict's evidence says of its samples' signatures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from server.evidence.combine import Verification
from server.evidence.faults import Fault
from server.evidence.registry import KeyRecord
from thonminh.evidence import SIGNED_MEASUREMENTS

__all__ = [
    "GONE",
    "MAX_FAULTS",
    "FigureVerification",
    "Status",
    "below_minimum",
    "figure_verification",
    "not_configured",
]

Status = Literal["verified", "unverified", "not_configured", "no_samples", "not_signed"]
#: faults an answer lists at most (``faults_total`` counts them all)
MAX_FAULTS = 20
#: faults of signed data that is gone: a point a manifest lists, or a whole batch (a number skipped). A digest
#: does not say its point's measurement, so they touch every figure of the village over their span; a manual
#: indicator's record says which entry is gone, and counts it in the share instead (``indicator_record``)
GONE = ("deleted_point", "missing_seq")
#: faults of points a gateway's signature does not cover where it signs: a signed point changed, or a point added
#: inside a signed span, always; a point with no signature or no manifest while a key of the village was valid
#: (its gateway signs everything it forwards then). A share of points says nothing of them: a sample weighs in
#: its figure by its fields (an uplink sample by its ``observed_s``), so one forged sample among 100,000 can
#: carry a month's availability
FORGED = ("altered", "injected")
WRITTEN_AROUND = ("unsigned", "no_manifest")


@dataclass(frozen=True, slots=True)
class FigureVerification:
    """What a verdict's evidence says of its samples' signatures (``verification`` in the API)."""

    verified_pct: float | None
    status: Status
    min_verified_pct: float | None
    points: int
    verified_points: int
    keys: tuple[KeyRecord, ...]
    faults: tuple[Fault, ...]
    faults_total: int
    #: data its answers read is known forged and still there (``Fault.still_read``): unverified, whatever the share
    still_read: bool = False
    #: signed data is gone (``GONE``): a share of what is left says nothing of it, so unverified whatever it is
    gone: bool = False
    #: points were changed or written around the signatures (``FORGED``, ``WRITTEN_AROUND``): unverified too
    forged: bool = False

    @property
    def held_against(self) -> bool:
        """Whether the verdict is ``unverified`` whatever its share (``thonminh.criteria.verdict``'s ``forged``)."""
        return self.still_read or self.gone or self.forged


def below_minimum(pct: float, min_verified_pct: float | None) -> bool:
    """Whether a verified share falls short of the criterion's minimum (100 without one), to 9 decimals."""
    return round(pct, 9) < (100.0 if min_verified_pct is None else min_verified_pct)


def not_configured(min_verified_pct: float | None) -> FigureVerification:
    return FigureVerification(None, "not_configured", min_verified_pct, 0, 0, (), (), 0)


def figure_verification(
    found: Verification | None,
    measurement: str,
    min_verified_pct: float | None,
    keys: list[KeyRecord],
    village: str,
    selection: Mapping[str, str] | None = None,
) -> FigureVerification:
    """The share of ``measurement``'s samples (of the tag value ``selection`` names: a figure's ``tag_filters``)
    covered by valid manifests (a manual indicator's: by the criteria service's signatures,
    ``server.evidence.indicator_check``), and the faults that may touch them.

    ``not_signed`` is no longer given: an evaluation kept by a version before the service signed manual
    indicators says so of them (``server.kept_evaluation``)."""
    if found is None:
        return FigureVerification(None, "no_samples", min_verified_pct, 0, 0, (), (), 0)
    if found.failed:  # nothing could be checked, so nothing counts as verified
        return FigureVerification(
            0.0, "unverified", min_verified_pct, 0, 0, (), found.faults, len(found.faults)
        )
    points, verified = found.of(measurement, selection)
    faults = found.faults_of(measurement, selection)
    used = tuple(k for k in keys if (k.gateway, k.fingerprint) in found.keys)
    pct = 100.0 * verified / points if points else None
    still_read = any(f.still_read for f in faults)
    gone = measurement in SIGNED_MEASUREMENTS and any(f.kind in GONE for f in faults)
    forged = measurement in SIGNED_MEASUREMENTS and any(_forged(f, keys, village) for f in faults)
    status: Status
    if still_read or gone or forged or (pct is not None and below_minimum(pct, min_verified_pct)):
        status = "unverified"
    elif pct is None:
        status = "no_samples"
    else:
        status = "verified"
    return FigureVerification(
        pct,
        status,
        min_verified_pct,
        points,
        verified,
        used,
        tuple(faults[:MAX_FAULTS]),
        len(faults),
        still_read,
        gone,
        forged,
    )


def _forged(fault: Fault, keys: list[KeyRecord], village: str) -> bool:
    if fault.kind in FORGED:
        return True
    return fault.kind in WRITTEN_AROUND and any(
        k.village == village
        and k.valid_from_ms <= fault.end_ms
        and (k.valid_until_ms is None or fault.start_ms < k.valid_until_ms)
        for k in keys
    )
