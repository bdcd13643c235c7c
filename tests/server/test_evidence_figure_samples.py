"""A verdict's verification weighs the samples its figure reads: no more, no fewer.

A figure of one link (``params: {link: fiber}``) reads that link's samples, so its share is of those: counted
over every uplink, 4G's points stood in the fiber's count (the demo's fiber showed 108 points where it has
54), and forged 4G points were diluted by the fiber's and listed under the fiber's verdict too.

Wi-Fi users per day read one ``wifi_daily`` point per local day, stamped at the day's local midnight; the
window's first day has its point before the window's start (``server.plan.daily_span``). The verification of
``wifi_use`` covered only the window, so in a window that opens after midnight (the demo's, any "today") the
value stood on a point nobody checked: ``no_samples``, and a forged point there passed."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from signed_kit import SITE, VILLAGE, Gateway, register_over_api, uplink_points
from srv_helpers import READ

from server.evidence.source import HOUR_MS
from server.plan import local_day_start
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.lineprotocol import encode_line

NOW = int(time.time() * 1000)
T0 = NOW - NOW % HOUR_MS - 4 * HOUR_MS
#: half past the hour: never a local midnight (Vietnam's fall on the hour), so the day's point lies before it
START = T0 + 30 * 60_000
MIDNIGHT = local_day_start(START, ZoneInfo("Asia/Ho_Chi_Minh"))
WINDOW = {"start": iso(START), "end": iso(T0 + 3 * HOUR_MS)}


def _service(influx, app_for, tmp_path) -> tuple:
    api = app_for(influx, evidence={"registry": str(tmp_path / "keys.sqlite")})
    gw = Gateway()
    register_over_api(api, gw, valid_from_ms=MIDNIGHT - HOUR_MS)
    influx.write(gw.sign(uplink_points(T0, 3)))
    return api, gw


def _wifi_use(api) -> dict:
    body = api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=WINDOW, headers=READ).json()
    return next(c for c in body["criteria"] if c["id"] == "wifi_use")


def _day(users: int) -> Point:
    return Point(
        "wifi_daily", {**SITE, "ap": "nha-van-hoa"}, {"unique_users": users, "sessions": 1}, MIDNIGHT
    )


def test_the_days_signed_point_is_verified(influx, app_for, tmp_path) -> None:
    api, gw = _service(influx, app_for, tmp_path)
    influx.write(gw.sign([_day(42)]))
    wifi_use = _wifi_use(api)
    assert (wifi_use["verdict"], wifi_use["evidence"]["value"]) == ("pass", 42.0)
    checked = wifi_use["evidence"]["verification"]
    assert (checked["status"], checked["points"], checked["verified_points"]) == ("verified", 1, 1)
    assert wifi_use["evidence"]["verified_pct"] == 100.0


def test_a_forged_point_for_the_day_is_unverified_and_named(influx, app_for, tmp_path) -> None:
    api, _ = _service(influx, app_for, tmp_path)
    influx.write([encode_line(_day(42))])
    wifi_use = _wifi_use(api)
    assert (wifi_use["verdict"], wifi_use["evidence"]["verified_pct"]) == ("unverified", 0.0)
    checked = wifi_use["evidence"]["verification"]
    assert (checked["status"], checked["points"], checked["verified_points"]) == ("unverified", 1, 0)
    assert [(f["kind"], f["start"]) for f in checked["faults"]] == [("unsigned", iso(MIDNIGHT))]
    # the other figures read the window only: the forged point is not theirs
    fiber = next(
        c
        for c in api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=WINDOW, headers=READ).json()[
            "criteria"
        ]
        if c["id"] == "fiber_availability"
    )
    assert fiber["evidence"]["verification"]["status"] == "verified"


def _link(points: list[Point], link: str) -> list[Point]:
    return [Point(p.measurement, {**p.tags, "link": link}, p.fields, p.time_ms) for p in points]


def _criteria(api) -> dict:
    body = api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=WINDOW, headers=READ).json()
    return {c["id"]: c for c in body["criteria"]}


def test_a_links_figure_counts_that_links_samples(influx, app_for, tmp_path) -> None:
    api, gw = _service(influx, app_for, tmp_path)
    uplinks = [p for p in uplink_points(T0, 3) if p.measurement == "uplink"]
    influx.write(gw.sign(_link(uplinks, "4g")))
    forged = _link(uplinks[60:70], "4g")  # ten 4G samples at times of their own, signed by nobody
    influx.write([encode_line(Point(p.measurement, p.tags, p.fields, p.time_ms + 1_000)) for p in forged])
    found = _criteria(api)
    signed = len(uplinks)  # verification counts by UTC hour: the window's first, begun at T0, is whole
    fiber = found["fiber_availability"]["evidence"]
    assert (fiber["verification"]["points"], fiber["verification"]["verified_points"]) == (signed, signed)
    assert fiber["verification"]["status"] == "verified"
    lte = found["lte_availability"]["evidence"]
    assert (lte["verification"]["points"], lte["verification"]["verified_points"]) == (signed + 10, signed)
    assert found["lte_availability"]["verdict"] == "unverified"
    assert lte["verified_pct"] == 100.0 * signed / (signed + 10)
    # the fault is 4G's, said so, and listed where the 4G's points are weighed only
    assert [f["detail"] for f in lte["verification"]["faults"]] == [
        "10 uplink point(s) of link=4g without evidence_seq: written by no gateway's forwarder"
    ]
    assert fiber["verification"]["faults"] == [] and fiber["verification"]["faults_total"] == 0
