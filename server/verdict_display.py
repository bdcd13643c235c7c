"""A display copy of the service's verdicts in InfluxDB, for Grafana's verdict panels, province table and alerts.

Each default evaluation (every village's verdicts over the criteria's default windows, once an hour:
``server.verdicts.default_evaluation``) is written as ``criterion_verdict`` points (thonminh/contract.py), one
per village and criterion, stamped at the windows' end, in the retention policy ``thonminh_verified`` beside
the verification's display copy. Grafana then shows the very verdicts the API, the pages and the dossier give.

It used to compute them itself from a month of raw points, and InfluxDB 1.x runs a subquery again for every
aggregate above it: one village's street-lighting verdict over four days cost InfluxDB 5 CPU-seconds, a
month about 40, and each criterion's alert rule asked it every minute for every village (docs/dashboards.md).

The API never reads the copy back: whoever can write InfluxDB can write this too (docs/evidence.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from server.criteria import Verdict
from thonminh.contract import CRITERION_VERDICT, SITE_TAGS, VERIFICATION_RP, Point
from thonminh.errors import InfluxError
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_each

__all__ = ["verdict_points", "write_verdicts"]

log = logging.getLogger(__name__)


def verdict_points(
    hour_ms: int,
    places: Mapping[str, Mapping[str, Any]],
    results: Mapping[str, Mapping[str, Verdict]],
    name_of: Callable[[str], str] | None = None,
) -> list[Point]:
    """One point per village and criterion of an evaluation whose windows end at ``hour_ms``, with the
    village's name by ``name_of`` (Grafana cannot read server.toml)."""
    out = []
    for criterion, per_village in results.items():
        for village, v in per_village.items():
            place = places.get(village, {})
            tags = {t: str(place[t]) for t in SITE_TAGS if place.get(t)}
            tags["village"] = village
            # floats always: InfluxDB keeps a field's first type for the shard, and a value of 100 is a float
            fields: dict[str, Any] = {"verdict": v.verdict, "coverage": float(v.evidence.coverage)}
            if v.evidence.value is not None:
                fields["value"] = float(v.evidence.value)
            if v.verification.verified_pct is not None:
                fields["verified_pct"] = float(v.verification.verified_pct)
            if name_of is not None:
                fields["village_name"] = name_of(village)
            out.append(Point(CRITERION_VERDICT.name, {**tags, "criterion": criterion}, fields, hour_ms))
    return out


def write_verdicts(client: InfluxClient, database: str, points: list[Point]) -> bool:
    """Write the copy; False (and a warning) when InfluxDB refuses: the next evaluation writes it again."""
    lines, refused = encode_each(points)
    if refused:  # a village named in InfluxDB as the encoder refuses: the others are written
        log.warning(
            "verdicts left out of the display copy", extra={"points": len(refused), "first": refused[0]}
        )
    try:
        client.write(lines, database=database, retention_policy=VERIFICATION_RP)
    except InfluxError as err:
        log.warning("verdict display copy not written", extra={"error": str(err), "points": len(points)})
        return False
    return True
