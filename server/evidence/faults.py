"""What verification finds wrong: a fault with its kind, gateway, time span and the points it concerns.

A point's fault names its measurement and, for a measurement whose figures select a tag (``uplink``'s link, the
Wi-Fi's access point: ``server.evidence.selected``), the tag value of its points, so a forged 4G point is said
to be 4G's and is listed under the 4G verdict only, where a technician looks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.evidence.selected import key_of, selections

__all__ = ["MANIFEST_FAULTS", "POINT_DETAIL", "POINT_FAULTS", "Fault", "PointSpans", "point_detail"]

#: faults that name a point's measurement; the others (a manifest's, the chain's) may touch any figure
POINT_FAULTS = ("unsigned", "no_manifest", "altered", "injected")
#: faults of a manifest that does not verify: its points count as unverified
MANIFEST_FAULTS = ("unregistered_key", "expired_key", "bad_signature")

POINT_DETAIL = {
    "unsigned": "without evidence_seq: written by no gateway's forwarder",
    "no_manifest": "whose manifest is not in InfluxDB",
    "altered": "whose values differ from what their manifest signed",
    "injected": "at a series and time their manifest does not list",
}


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
    #: a point fault's tag values a figure selects (``selected.key``: ``uplink link=4g``); empty: any figure's
    selections: tuple[str, ...] = ()
    #: the forged data is still there and answers read it (a rollup row the server could not delete): no
    #: verdict on the figures it touches is verified
    still_read: bool = False

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its ``dataclasses.asdict`` read back from JSON (lists for tuples; older files lack the
        newer fields)."""
        tuples = {k: tuple(data[k]) for k in ("measurements", "selections") if k in data}
        return cls(**{**data, **tuples})

    def touches(self, measurement: str, selection: Mapping[str, str] | None = None) -> bool:
        """Whether the fault may concern a figure of ``measurement`` (of the tag value ``selection`` names)."""
        if self.measurements and measurement not in self.measurements:
            return False
        return not (selection and self.selections) or key_of(measurement, selection) in self.selections


def point_detail(kind: str, count: int, measurement: str, selected: tuple[str, ...]) -> str:
    """``10 uplink point(s) of link=4g without evidence_seq: ...``: what a point fault says."""
    of = " of " + ", ".join(s.removeprefix(f"{measurement} ") for s in selected) if selected else ""
    return f"{count} {measurement} point(s){of} {POINT_DETAIL[kind]}"


class PointSpans:
    """Point faults of an hour grouped by kind, gateway, measurement and selected tag values: one fault per
    group with its first and last time."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, str, tuple[str, ...]], list[int]] = {}

    def add(
        self, kind: str, gateway: str, measurement: str, tags: Mapping[str, str | None], time_ms: int
    ) -> None:
        group = (kind, gateway, measurement, tuple(selections(measurement, tags)))
        span = self.groups.get(group)
        if span is None:
            self.groups[group] = [time_ms, time_ms, 1]
        else:
            span[0], span[1], span[2] = min(span[0], time_ms), max(span[1], time_ms), span[2] + 1

    def faults(self) -> list[Fault]:
        return [
            Fault(
                kind,
                gw,
                lo,
                hi,
                point_detail(kind, count, measurement, selected),
                (measurement,),
                count,
                selections=selected,
            )
            for (kind, gw, measurement, selected), (lo, hi, count) in sorted(self.groups.items())
        ]
