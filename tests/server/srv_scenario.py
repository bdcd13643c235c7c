"""Synthetic villages whose ground truth is known, and a reference that recomputes it from the points.

D0 is a local midnight (Asia/Ho_Chi_Minh, UTC+7) ten days ago; the window of interest is [D0, D0 + 2 days).
Village A (kha-ly-thuong) has: a fiber outage 10:00:00 to 12:30:05 on day 1 and a 4-hour gap (30h..34h);
a 4G outage already open when the window starts (from D0 - 1h to D0 + 2h) and one still open at its end
(from D0 + 47h); three street lights, L3 failing at 19:00 on day 1; the cultural-house AP down for an hour;
a modem at -100 dBm on day 1 and -115 dBm on day 2, unregistered for 10 readings. Village B has Wi-Fi with
opening hours. Village C (lang-moi) has two hours of data only. Village D is in another province.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from thonminh.contract import Point, site_tags

H = 3_600_000
M = 60_000
DAY = 24 * H
TZ_OFFSET = 7 * H

NOW_MS = int(time.time() * 1000)
D0 = (NOW_MS + TZ_OFFSET) // DAY * DAY - TZ_OFFSET - 10 * DAY
W_START, W_END = D0, D0 + 2 * DAY

A = site_tags("kha-ly-thuong", "gw-kly", commune="an-lac", district="son-dong", province="bac-giang")
B = site_tags("ban-ven", "gw-bv", commune="an-lac", district="son-dong", province="bac-giang")
C = site_tags("lang-moi", "gw-lm", commune="thanh-son", district="son-dong", province="bac-giang")
D = site_tags("xa-khac", "gw-xk", commune="huu-lung", district="huu-lung", province="lang-son")

FIBER_DOWN = (D0 + 10 * H, D0 + 12 * H + 30 * M + 5_000)
FIBER_GAP = (1800, 2040)  # sample indices (minutes from D0) with no fiber sample: 4 hours
LTE_DOWN_1 = (D0 - H, D0 + 2 * H)
LTE_DOWN_2 = D0 + 47 * H
L3_FAILS = D0 + 19 * H
AP_DOWN = range(2000, 2060)  # minutes of day 2 the AP is down


def _uplink(site: dict, link: str, t: int, up_s: float, observed: float = 60.0) -> Point:
    fields = {
        "up": int(up_s > 0),
        "up_s": float(up_s),
        "observed_s": observed,
        "loss_pct": 0.0 if up_s else 100.0,
        "targets_ok": 3 if up_s else 0,
        "targets_total": 3,
        "active": 1,
    }
    if up_s:
        fields["rtt_ms"] = 12.5
    return Point("uplink", {**site, "link": link}, fields, t)


def _event(site: dict, link: str, t: int, state: str, reason: str, previous: float = 0.0) -> Point:
    return Point(
        "uplink_event",
        {**site, "link": link},
        {"state": state, "reason": reason, "previous_state_s": previous},
        t,
    )


def _down_seconds(t: int, down: tuple[int, int]) -> float:
    """Seconds of the sample interval (t - 60 s, t] inside the outage [down[0], down[1])."""
    lo, hi = max(t - M, down[0]), min(t, down[1])
    return max(0, hi - lo) / 1000


def village_a() -> list[Point]:
    points: list[Point] = []
    for k in range(-60, 2 * 1440 + 60):
        t = D0 + k * M
        if not FIBER_GAP[0] <= k < FIBER_GAP[1]:
            points.append(_uplink(A, "fiber", t, 60.0 - _down_seconds(t, FIBER_DOWN)))
        lte_down = _down_seconds(t, LTE_DOWN_1) + _down_seconds(t, (LTE_DOWN_2, 10**15))
        points.append(_uplink(A, "4g", t, 60.0 - lte_down))
        ap_up = 0.0 if k in AP_DOWN else 60.0
        points.append(
            Point(
                "wifi",
                {**A, "ap": "cultural-house"},
                {
                    "ap_up": int(ap_up > 0),
                    "up_s": ap_up,
                    "observed_s": 60.0,
                    "clients": 3,
                    "rx_bytes": 1000,
                    "tx_bytes": 5000,
                },
                t,
            )
        )
    points += [
        _event(A, "fiber", D0 - 5 * H, "up", "start"),
        _event(A, "fiber", FIBER_DOWN[0], "down", "targets unreachable", 36000.0),
        _event(A, "fiber", FIBER_DOWN[1], "up", "targets answered", 9005.0),
        _event(A, "4g", LTE_DOWN_1[0], "down", "no signal"),
        _event(A, "4g", LTE_DOWN_1[1], "up", "targets answered", 10800.0),
        _event(A, "4g", LTE_DOWN_2, "down", "sim error", 162000.0),
    ]
    points += [
        Point(
            "wifi_daily",
            {**A, "ap": "cultural-house"},
            {"unique_users": users, "sessions": users + 9},
            D0 + day * DAY,
        )
        for day, users in ((0, 34), (1, 41))
    ]
    points += list(lights(A))
    for k in range(0, 2 * 288):
        t = D0 + k * 5 * M
        registered = not 100 <= k < 110
        fields: dict = {
            "registered": int(registered),
            "reg_state": "home" if registered else "searching",
            "operator": "Viettel",
            "access_tech": "LTE",
            "sim": "ready",
        }
        if registered:
            fields |= {
                "rsrp_dbm": -100.0 if k < 288 else -115.0,
                "rsrq_db": -10.0,
                "sinr_db": 8.0,
                "rssi_dbm": -70.0,
            }
        points.append(Point("modem", {**A, "link": "4g", "modem": "ec25"}, fields, t))
    return points


def expected_on(t: int) -> float:
    """Seconds of the 10-minute interval ending at t the schedule (18:00..06:00 local) wants the lights lit."""
    local_start = (t - 10 * M - D0) % DAY
    return 600.0 if local_start < 6 * H or local_start >= 18 * H else 0.0


def lights(site: dict) -> Iterable[Point]:
    for light, zone in (("L1", "main"), ("L2", "main"), ("L3", "school")):
        for k in range(0, 2 * 144 + 6):
            t = D0 + k * 10 * M
            failed = light == "L3" and t - 10 * M >= L3_FAILS
            yield streetlight(site, light, zone, t, expected_on(t), failed)


def streetlight(
    site: Mapping[str, str],
    light: str,
    zone: str,
    t: int,
    want: float,
    failed: bool,
    *,
    fault: str = "lamp_failure",
    **extra: float,
) -> Point:
    """A light's 10-minute sample ending at ``t``, the schedule wanting it lit ``want`` seconds of it; a ``failed``
    lamp stays dark and reports ``fault``. The report, page and cross-surface scenarios (tests/report, tests/pages,
    tests/dashboards) build their lights with it too, so they all agree on what the edge writes for a light."""
    lit = 0.0 if failed else want
    return Point(
        "streetlight",
        {**site, "light": light, "zone": zone},
        {
            "on": int(lit > 0),
            "online": 1,
            "expected_on": int(want > 0),
            "observed_s": 600.0,
            "expected_on_s": want,
            "lit_when_expected_s": lit,
            "ok_s": 600.0 - (want - lit),
            "fault": fault if failed else "",
            **extra,
        },
        t,
    )


def village_b() -> list[Point]:
    points = []
    for k in range(0, 2 * 1440):
        t = D0 + k * M
        local_minute = k % 1440
        open_s = 60.0 if 7 * 60 <= local_minute < 21 * 60 else 0.0  # open 07:00..21:00
        up = 0.0 if 8 * 60 <= local_minute < 9 * 60 else 60.0  # down 08:00..09:00 each day (inside opening)
        points.append(
            Point(
                "wifi",
                {**B, "ap": "nha-van-hoa"},
                {
                    "ap_up": int(up > 0),
                    "up_s": up,
                    "observed_s": 60.0,
                    "open_s": open_s,
                    "up_open_s": min(up, open_s),
                    "clients": 1,
                },
                t,
            )
        )
        points.append(_uplink(B, "fiber", t, 60.0))
    return points


def village_c() -> list[Point]:
    return [_uplink(C, "fiber", D0 + 5 * H + k * M, 60.0) for k in range(120)]


def village_d() -> list[Point]:
    return [_uplink(D, "fiber", D0 + k * M, 60.0) for k in range(2 * 1440)]


def all_points() -> list[Point]:
    return village_a() + village_b() + village_c() + village_d()


# -- the reference: the same figures, summed point by point in Python --------------------------------------------


def in_window(points: Iterable[Point], start: int, end: int, measurement: str, **tags: str) -> list[Point]:
    return [
        p
        for p in points
        if p.measurement == measurement
        and start <= p.time_ms < end
        and all(p.tags.get(k) == v for k, v in tags.items())
    ]


def reference_availability(points: list[Point], start: int, end: int, **tags: str) -> dict:
    chosen = in_window(points, start, end, "uplink", **tags)
    up = sum(p.fields["up_s"] for p in chosen)
    observed = sum(p.fields["observed_s"] for p in chosen)
    window_s = (end - start) / 1000
    return {
        "availability_pct": 100 * up / observed if observed else None,
        "up_s": up,
        "down_s": observed - up,
        "unknown_s": max(0.0, window_s - observed),
        "observed_s": observed,
        "coverage": min(1.0, observed / window_s),
        "samples": len(chosen),
    }
