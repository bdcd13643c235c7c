"""One set of semantics for unknown time and for faults, on the API: the issue's faults, each on a real InfluxDB."""

from __future__ import annotations

from datetime import UTC, datetime

from lightkit import light_sample
from srv_helpers import READ, write

from server.rollup_specs import SPECS
from server.timeparse import iso
from thonminh.contract import UPLINK, Point
from thonminh.figures import FIGURES
from thonminh.influx import InfluxClient

TAGS = {"village": "thon-a", "gateway": "gw-a"}
H = 3_600_000
#: 2025-03-10 00:00 Asia/Ho_Chi_Minh
MIDNIGHT = int(datetime(2025, 3, 9, 17, tzinfo=UTC).timestamp() * 1000)


def light(t: int, *, dark: bool, fault: str, on: bool) -> Point:
    return light_sample({**TAGS, "light": "L1", "zone": "z"}, t, dark=dark, lit=on, fault=fault)


def test_a_lamp_that_failed_at_night_stays_on_the_repair_list_by_day(influx: InfluxClient, app_for):
    # failed at 02:00 in the dark; by day it is dark as it should be and reports no fault
    night = [
        light(MIDNIGHT + 2 * H + i * 600_000, dark=True, fault="lamp_failure", on=False) for i in range(6)
    ]
    day = [light(MIDNIGHT + 10 * H + i * 600_000, dark=False, fault="", on=False) for i in range(6)]
    write(influx, night + day)
    api = app_for(influx)
    window = {"start": iso(MIDNIGHT), "end": iso(MIDNIGHT + 12 * H)}
    body = api.get("/api/v1/villages/thon-a/lighting", params=window, headers=READ).json()
    assert body["by_fault"] == {"lamp_failure": ["L1"]}
    assert body["lights"][0]["fault"] == "lamp_failure"

    # the next evening it is lit when expected: a later observation in the dark takes it off the list
    write(influx, [light(MIDNIGHT + 19 * H, dark=True, fault="", on=True)])
    body = api.get(
        "/api/v1/villages/thon-a/lighting",
        params={"start": iso(MIDNIGHT), "end": iso(MIDNIGHT + 20 * H)},
        headers=READ,
    ).json()
    assert body["by_fault"] == {}


def test_an_availability_on_almost_no_data_says_so(influx: InfluxClient, app_for):
    write(
        influx,
        [
            Point(
                UPLINK.name,
                {**TAGS, "link": "fiber"},
                {"up": 1, "up_s": 60.0, "observed_s": 60.0},
                MIDNIGHT + i * 60_000,
            )
            for i in range(1, 3)
        ],
    )
    api = app_for(influx)
    body = api.get(
        "/api/v1/villages/thon-a/uptime",
        params={"start": iso(MIDNIGHT), "end": iso(MIDNIGHT + 24 * H)},
        headers=READ,
    ).json()
    fiber = body["links"][0]
    assert fiber["availability_pct"] == 100.0
    assert (fiber["enough_data"], fiber["min_coverage"]) == (False, 0.8)
    assert fiber["coverage"] < 0.01


def test_default_windows_say_in_their_evidence_that_they_end_at_the_last_whole_hour(
    influx: InfluxClient, app_for
):
    write(
        influx,
        [
            Point(
                UPLINK.name,
                {**TAGS, "link": "fiber"},
                {"up": 1, "up_s": 60.0, "observed_s": 60.0},
                int(datetime.now(UTC).timestamp() * 1000) - 2 * H,
            )
        ],
    )
    api = app_for(influx)
    body = api.get("/api/v1/villages/thon-a/criteria", headers=READ).json()
    assert body["window_rule"] == "criterion"
    for c in body["criteria"]:
        assert "last whole hour" in c["evidence"]["window_rule"]
        assert c["evidence"]["window"]["end"].endswith(":00:00Z")
    given = {"start": iso(MIDNIGHT), "end": iso(MIDNIGHT + H)}
    body = api.get("/api/v1/villages/thon-a/criteria", params=given, headers=READ).json()
    assert all(c["evidence"]["window_rule"].startswith("[start, end)") for c in body["criteria"])


def test_the_rollups_hold_every_sum_the_figures_need():
    for desc in FIGURES.values():
        spec = SPECS.get(desc.measurement.name)
        if spec is None:  # sparse measurements are read raw
            assert desc.kind != "ratio", desc.key
            continue
        outputs = {o.name for o in spec.outputs}
        for s in desc.sums():
            choices = desc.param(s.at_least_param).choices if s.at_least_param else (None,)
            for choice in choices or ():
                name = s.name_for({s.at_least_param: choice}) if choice is not None else s.name
                assert name in outputs, (desc.key, name)
