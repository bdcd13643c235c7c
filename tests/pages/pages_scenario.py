"""The village the page tests read: four weeks of data ending now, with a ground truth known to the minute.

Khả Lý Thượng (kha-ly-thuong, public status page): fiber and 4G probed every 5 minutes; one fiber outage on
the local day three days ago, 10:00:00 to 12:30:05; Wi-Fi with 20..24 users a day; three street lights with
their pole positions, L3 failing from 19:00 two days ago; a 4G modem at -100 dBm; e-ID adoption entered by an
official through the API. Bản Vẹn (ban-ven, not public) has a day of fiber data only. Xã Khác is in another province;
its one street light, L9, has been offline for the last two hours.
"""

from __future__ import annotations

import time

from srv_scenario import streetlight

from thonminh.contract import Point, site_tags

M = 60_000
H = 60 * M
DAY = 24 * H
TZ = 7 * H
STEP = 5 * M
DAYS = 28

NOW_MS = int(time.time() * 1000)
TODAY = (NOW_MS + TZ) // DAY * DAY - TZ  # local midnight today, in UTC ms
FIRST = TODAY - DAYS * DAY
LAST = NOW_MS - NOW_MS % STEP

A = site_tags("kha-ly-thuong", "gw-kly", commune="an-lac", district="son-dong", province="bac-giang")
B = site_tags("ban-ven", "gw-bv", commune="an-lac", district="son-dong", province="bac-giang")
C = site_tags("xa-khac", "gw-xk", commune="huu-lung", district="huu-lung", province="lang-son")

FIBER_DOWN = (TODAY - 3 * DAY + 10 * H, TODAY - 3 * DAY + 12 * H + 30 * M + 5_000)
L3_FAILS = TODAY - 2 * DAY + 19 * H
POSITIONS = {"L1": (21.10001, 106.50001), "L2": (21.10002, 106.50002), "L3": (21.12345, 106.54321)}
#: the fiber outage's reason as edge/sources/uplink/source.py writes a down cycle's, with a URL too long for a phone
FIBER_REASON = (
    "0/3 targets answered (min_ok 2): tcp 127.0.0.2:34629: refused; "
    "http://connectivity-check.example.net:8080/probe/village/kha-ly-thuong/generate_204: timed out; "
    "icmp 10.0.0.1: no reply"
)
USERS = [20 + day % 5 for day in range(DAYS + 1)]
#: entered through the API by the admin key "officer-hoa" (tests/pages/conftest.py), as of five days ago
EID = (31.5, "Nguyen Thi Hoa, commune office")
EID_AS_OF = TODAY - 5 * DAY


def _down(t: int, span: tuple[int, int], length: int) -> float:
    return max(0, min(t, span[1]) - max(t - length, span[0])) / 1000


def _uplink(site: dict, link: str, t: int, up_s: float) -> Point:
    return Point(
        "uplink",
        {**site, "link": link},
        {
            "up": int(up_s > 0),
            "up_s": up_s,
            "observed_s": 300.0,
            "loss_pct": 0.0,
            "targets_ok": 3,
            "targets_total": 3,
            "active": 1,
        },
        t,
    )


def _expected(t: int) -> bool:
    local_hour = (t - 10 * M + TZ) % DAY // H
    return local_hour >= 18 or local_hour < 6


def _light(light: str, zone: str, t: int) -> Point:
    failed = light == "L3" and t - 10 * M >= L3_FAILS
    lat, lon = POSITIONS[light]
    return streetlight(A, light, zone, t, 600.0 if _expected(t) else 0.0, failed, latitude=lat, longitude=lon)


def village_a() -> list[Point]:
    points = []
    for t in range(FIRST + STEP, LAST + 1, STEP):
        points.append(_uplink(A, "fiber", t, 300.0 - _down(t, FIBER_DOWN, STEP)))
        points.append(_uplink(A, "4g", t, 300.0))
        points.append(
            Point(
                "wifi",
                {**A, "ap": "cultural-house"},
                {"ap_up": 1, "up_s": 300.0, "observed_s": 300.0, "clients": 3},
                t,
            )
        )
        points.append(
            Point(
                "modem",
                {**A, "link": "4g", "modem": "ec25"},
                {
                    "registered": 1,
                    "reg_state": "home",
                    "rsrp_dbm": -100.0,
                    "rsrq_db": -10.0,
                    "sinr_db": 8.0,
                    "rssi_dbm": -70.0,
                },
                t,
            )
        )
    for t in range(FIRST + 10 * M, LAST + 1, 10 * M):
        points += [
            _light(light, zone, t) for light, zone in (("L1", "main"), ("L2", "main"), ("L3", "school"))
        ]
    points += [
        Point("uplink_event", {**A, "link": "fiber"}, {"state": "up", "reason": "start"}, FIRST),
        Point(
            "uplink_event",
            {**A, "link": "fiber"},
            {"state": "down", "reason": FIBER_REASON},
            FIBER_DOWN[0],
        ),
        Point(
            "uplink_event",
            {**A, "link": "fiber"},
            {"state": "up", "reason": "targets answered"},
            FIBER_DOWN[1],
        ),
    ]
    points += [
        Point(
            "wifi_daily",
            {**A, "ap": "cultural-house"},
            {"unique_users": USERS[day], "sessions": 40},
            FIRST + day * DAY,
        )
        for day in range(DAYS + 1)
    ]
    return points


def _offline(t: int) -> Point:
    """L9's sample as the edge writes it while the light's last will says it is offline."""
    lost = streetlight(C, "L9", "main", t, 600.0 if _expected(t) else 0.0, True, fault="offline")
    return Point(lost.measurement, lost.tags, {**lost.fields, "online": 0}, lost.time_ms)


def all_points() -> list[Point]:
    b = [_uplink(B, "fiber", t, 300.0) for t in range(TODAY - DAY, TODAY, STEP)]
    c = [_uplink(C, "fiber", t, 300.0) for t in range(FIRST + STEP, LAST + 1, STEP)]
    c += [_offline(t) for t in range(LAST - 2 * H, LAST + 1, 10 * M)]
    return village_a() + b + c
