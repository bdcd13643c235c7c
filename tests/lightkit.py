"""A street light's interval sample as the edge's tracker writes it (edge/sources/lights/tracker.py), for the
tests of every folder that read street lights back through the API or Grafana."""

from __future__ import annotations

from collections.abc import Mapping

from thonminh.contract import STREETLIGHT, Point


def light_sample(
    tags: Mapping[str, str],
    t: int,
    *,
    dark: bool,
    lit: bool,
    fault: str = "",
    interval_s: float = 600.0,
    **extra: float,
) -> Point:
    """The sample of the interval ending at ``t``: ``dark`` when the schedule wants the light on, ``lit`` when
    it was on; ``extra`` fields (a position) beside the tracker's."""
    return Point(
        STREETLIGHT.name,
        dict(tags),
        {
            "on": int(lit),
            "online": 1,
            "expected_on": int(dark),
            "observed_s": interval_s,
            "expected_on_s": interval_s if dark else 0.0,
            "lit_when_expected_s": interval_s if dark and lit else 0.0,
            "ok_s": interval_s if dark == lit else 0.0,
            "fault": fault,
            **extra,
        },
        t,
    )
