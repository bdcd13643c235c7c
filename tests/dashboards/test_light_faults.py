"""A light's current fault in Grafana is the API's (``/lighting``'s ``by_fault``): the lighting board's faults
table and map, the street-light alert and the count of faulty lights, on a real InfluxDB the next day at noon,
when a lamp that failed in the night reports nothing wrong."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from dash_alerts import evaluate
from fastapi.testclient import TestClient
from grafana_macros import TemplateVar, interpolate
from lightkit import light_sample

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from srv_helpers import READ, make_config, write

from dashboards.alerts import ALERT_RULES
from dashboards.boards import lighting
from dashboards.boards import village as village_board
from dashboards.influxql import VILLAGE_SCOPE
from dashboards.model import Panel
from server.app import create_app
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.influx import InfluxClient

SITE = {"village": "thon-den", "gateway": "gw-den", "commune": "xa", "district": "huyen", "province": "tinh"}
M = 60_000
#: 2025-03-10 12:00 Asia/Ho_Chi_Minh: the day after the night the lamps are judged in
NOON = int(datetime(2025, 3, 10, 5, tzinfo=UTC).timestamp() * 1000)
START = NOON - 24 * 60 * M
#: 02:00 local that night: a light's fault in the dark changes there
TWO_AM = NOON - 10 * 60 * M
#: per light, its fault in the dark (local 18:00 to 06:00) before 02:00 and after, and by day
LIGHTS = {
    "failed": ("lamp_failure", "lamp_failure", ""),  # the case: it failed in the night, by day all looks well
    "repaired": ("lamp_failure", "", ""),  # a later report in the dark shows it working
    "burning": ("", "", "day_burning"),
    "failed-then-burning": ("lamp_failure", "lamp_failure", "day_burning"),  # the latest fault wins
    "well": ("", "", ""),
}


def in_the_dark(t: int) -> bool:
    """Whether the 10-minute interval ending at ``t`` lies between local 18:00 and 06:00."""
    return not 6 <= ((t - 1) // (60 * M) + 7) % 24 < 18


def sample(light: str, i: int, t: int) -> Point:
    """The light's 10-minute sample ending at ``t``, as the edge's tracker writes it."""
    dark = in_the_dark(t)
    fault = LIGHTS[light][2 if not dark else 0 if t <= TWO_AM else 1]
    lit = (dark and fault == "") or fault == "day_burning"
    tags = {**SITE, "light": light, "zone": "z"}
    return light_sample(
        tags, t, dark=dark, lit=lit, fault=fault, latitude=21.0 + i / 1000, longitude=106.0 + i / 1000
    )


def _panel(title: str) -> Panel:
    return next(p for p in lighting.build().panels() if p.title.en == title)


def grafana(client: InfluxClient, influxql: str) -> dict[str, str]:
    """Per light, the fault a panel query shows over the board's default week up to NOON."""
    text = interpolate(
        influxql,
        variables={"village": TemplateVar("village", [SITE["village"]])},
        from_ms=NOON - 7 * 86_400_000,
        to_ms=NOON,
        interval_ms=60_000,
    )
    out = {}
    for s in client.select(text).series:
        (row,) = s.values
        out[s.tags["light"]] = row[s.columns.index("fault")]
    return out


def test_a_lamp_failure_stays_in_grafana_through_the_next_day_as_in_the_api(influx: InfluxClient) -> None:
    points = [sample(light, i, t) for i, light in enumerate(LIGHTS) for t in range(START, NOON + 1, 10 * M)]
    write(influx, points)
    config = make_config(influx.url, influx.database or "")
    with TestClient(create_app(config, clock=lambda: NOON / 1000)) as api:
        window = {"start": iso(NOON - 7 * 86_400_000), "end": iso(NOON + 1)}
        answer = api.get(f"/api/v1/villages/{SITE['village']}/lighting", params=window, headers=READ)
    assert answer.status_code == 200, answer.text
    by_fault = answer.json()["by_fault"]
    api_faults = {light: fault for fault, lights in by_fault.items() for light in lights}
    assert api_faults == {
        "failed": "lamp_failure",
        "burning": "day_burning",
        "failed-then-burning": "day_burning",
    }

    table = _panel("Faulty lights and since when")
    assert grafana(influx, table.queries[0].influxql) == api_faults
    on_the_map = _panel("Map of the lights").queries[1]  # the red markers
    assert grafana(influx, on_the_map.influxql) == api_faults
    assert "latitude" in on_the_map.influxql

    (rule,) = (r for r in ALERT_RULES if r.uid == "thonminh-streetlight-fault")
    fired = evaluate(influx, rule, NOON + 1)
    assert {next(v for v in k if v in LIGHTS) for k in fired} == set(api_faults)


#: a village whose lights are all well: its count of faulty lights is 0, not "No data"
WELL_SITE = {**SITE, "village": "thon-sang", "gateway": "gw-sang"}


def counted(client: InfluxClient, panel: Panel) -> dict[str, float]:
    """Per village, the number a count panel shows over the board's default week up to NOON."""
    text = interpolate(
        panel.queries[0].influxql,
        variables={"village": TemplateVar("village", [SITE["village"], WELL_SITE["village"]])},
        from_ms=NOON - 7 * 86_400_000,
        to_ms=NOON,
        interval_ms=60_000,
    )
    out = {}
    for s in client.select(text).series:
        (row,) = s.values
        out[s.tags["village"]] = row[1]
    return out


def test_the_count_of_faulty_lights_is_the_apis_and_the_tables(influx: InfluxClient) -> None:
    """A reviewer found the village board's and the lighting board's count at 2 where the page, the dossier, the
    API's by_fault and the faults table listed 3: the count read each light's newest sample only, and dropped the
    lamp that failed in the night. Both boards' count now reads the table's rule, on the data the API reads."""
    points = [sample(light, i, t) for i, light in enumerate(LIGHTS) for t in range(START, NOON + 1, 10 * M)]
    well = [
        light_sample({**WELL_SITE, "light": f"w{i}", "zone": "z"}, t, dark=in_the_dark(t), lit=in_the_dark(t))
        for i in range(2)
        for t in range(START, NOON + 1, 10 * M)
    ]
    write(influx, points + well)
    config = make_config(influx.url, influx.database or "")
    window = {"start": iso(NOON - 7 * 86_400_000), "end": iso(NOON + 1)}
    api_counts = {}
    with TestClient(create_app(config, clock=lambda: NOON / 1000)) as api:
        for site in (SITE, WELL_SITE):
            answer = api.get(f"/api/v1/villages/{site['village']}/lighting", params=window, headers=READ)
            assert answer.status_code == 200, answer.text
            api_counts[site["village"]] = sum(len(lights) for lights in answer.json()["by_fault"].values())
    assert api_counts == {SITE["village"]: 3, WELL_SITE["village"]: 0}
    table = _panel("Faulty lights and since when")
    assert len(grafana(influx, table.queries[0].influxql)) == 3

    panel = village_board.lights_faulty(VILLAGE_SCOPE)
    assert counted(influx, panel) == api_counts
    # the same panel on both boards: the village board's "now" row and the lighting board's summary
    assert panel in village_board.build().panels() and panel in lighting.build().panels()
