"""The repair list: each faulty light of the ``/lighting`` answer with since when, its last report and its pole.

``Service.lighting`` says which lights have which fault; a technician also needs how long it has been so,
when the light last reported and where the pole stands. Those are read here, in two requests whatever the
number of lights, through the one InfluxQL builder:

1. per light: its last report (time, position) and its last report without a fault. A lamp failure can only be
   seen in the dark, so for it only reports taken while the light was expected on count as "working";
2. per faulty light: its first report of the fault after that, the "since". With no working report in the
   look-back the fault is older than the look-back, and the page says "before" that time.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.models import LightingOut
from server.service import Service
from server.timeparse import Window, ms_of
from thonminh.contract import STREETLIGHT
from thonminh.influxql import Select, agg, ident, literal, tag_equals, time_range

__all__ = ["LOOKBACK_MS", "Repair", "repair_list"]

#: how far before the window a fault's start is looked for
LOOKBACK_MS = 30 * 86_400_000
#: the faults that only the dark shows: by day a failed lamp looks like a lamp switched off on schedule
SEEN_IN_THE_DARK = {"lamp_failure", "dark"}


@dataclass(frozen=True, slots=True)
class Repair:
    light: str
    zone: str
    fault: str
    since_ms: int | None
    #: True when no working report was found in the look-back: the fault started before ``since_ms``
    since_before: bool
    last_report_ms: int | None
    latitude: float | None
    longitude: float | None


def _field(name: str) -> str:
    return STREETLIGHT.field(name).name


def _first_statements(service: Service, village: str, window: Window, start_ms: int) -> list[str]:
    source = service.reader.rollups.raw(STREETLIGHT.name).ref()
    where = [tag_equals("village", village), time_range(start_ms, window.end_ms)]
    no_fault = f"{ident(_field('fault'))} = ''"
    in_dark = f"{ident(_field('expected_on'))} = 1"
    last = Select(
        [
            agg("last", _field("observed_s"), "observed_s"),
            ident(_field("latitude")),
            ident(_field("longitude")),
        ],
        [source],
        where,
        group_tags=("light",),
    )
    ok = Select([agg("last", _field("fault"), "fault")], [source], [*where, no_fault], group_tags=("light",))
    ok_dark = Select(
        [agg("last", _field("fault"), "fault")], [source], [*where, no_fault, in_dark], group_tags=("light",)
    )
    return [last.render(), ok.render(), ok_dark.render()]


def repair_list(service: Service, village: str, lighting: LightingOut) -> list[Repair]:
    """The lights of ``lighting.by_fault`` (the API's repair list), with since when, last report and position."""
    faulty = {light: fault for fault, lights in lighting.by_fault.items() for light in lights}
    if not faulty:
        return []
    window = Window(*(ms_of(t) for t in (lighting.window.start, lighting.window.end)))
    start_ms = window.start_ms - LOOKBACK_MS
    last, ok, ok_dark = service.reader.run(_first_statements(service, village, window, start_ms))
    last_by = {r["light"]: r for r in last.rows()}
    ok_by = {r["light"]: int(r["time"]) for r in ok.rows()}
    ok_dark_by = {r["light"]: int(r["time"]) for r in ok_dark.rows()}
    source = service.reader.rollups.raw(STREETLIGHT.name).ref()
    lights = sorted(faulty)
    working = {
        light: (ok_dark_by if faulty[light] in SEEN_IN_THE_DARK else ok_by).get(light) for light in lights
    }
    firsts = [
        Select(
            [agg("first", _field("fault"), "fault")],
            [source],
            [
                tag_equals("village", village),
                tag_equals("light", light),
                f"{ident(_field('fault'))} = {literal(faulty[light])}",
                time_range((working[light] or start_ms - 1) + 1, window.end_ms),
            ],
        ).render()
        for light in lights
    ]
    since = {
        light: (int(r.rows()[0]["time"]) if r.rows() else None)
        for light, r in zip(lights, service.reader.run(firsts), strict=True)
    }
    zones = {light.light: light.zone for light in lighting.lights}
    out = []
    for light in lights:
        row = last_by.get(light, {})
        out.append(
            Repair(
                light,
                zones.get(light, ""),
                faulty[light],
                since[light],
                working[light] is None,
                int(row["time"]) if row else None,
                row.get("latitude"),
                row.get("longitude"),
            )
        )
    return out
