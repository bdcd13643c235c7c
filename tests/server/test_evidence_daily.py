"""A daily figure's verification weighs the points its value reads.

Wi-Fi users per day read one ``wifi_daily`` point per local day, stamped at the day's local midnight; the
window's first day has its point before the window's start (``server.plan.daily_span``). The verification of
``wifi_use`` covered only the window, so in a window that opens after midnight (the demo's, any "today") the
value stood on a point nobody checked: ``no_samples``, and a forged point there passed."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from signed_kit import GATEWAY, SITE, VILLAGE, Gateway, uplink_points
from srv_helpers import ADMIN, READ

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
    answer = api.post(
        f"/api/v1/gateways/{GATEWAY}/keys",
        headers=ADMIN,
        json={"village": VILLAGE, "public_key": gw.public_key, "valid_from": iso(MIDNIGHT - HOUR_MS)},
    )
    assert answer.status_code == 201, answer.text
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
