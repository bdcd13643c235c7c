"""A whole past month of two villages of one commune, with known events, for the dossier tests.

The month is the last one that has ended (Asia/Ho_Chi_Minh). Village A (kha-ly-thuong, "Khả Lý Thượng" in the
server config) samples every 5 minutes: fiber down on day 5 10:00..12:30 and all of day 20 from 06:00 to 12:00;
4G without any sample on days 25 and 26; the modem at -100 dBm until day 14, then -115 dBm; Wi-Fi users 15 a
day, 5 on days 10..12; lights L1, L2 fine and L3 failing from day 18 19:00; gateway version 0.1.0 until day 14,
then 0.1.1; e-ID adoption 31.5 % entered on day 3. Village B (ban-ven) has a fiber link only, always up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from srv_scenario import streetlight

from thonminh.contract import Point, site_tags

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
H, M, DAY = 3_600_000, 60_000, 86_400_000
STEP = 5 * M
A = site_tags("kha-ly-thuong", "gw-kly", commune="an-lac", district="son-dong", province="bac-giang")
B = site_tags("ban-ven", "gw-bv", commune="an-lac", district="son-dong", province="bac-giang")
NAME_A = "Khả Lý Thượng"
#: the names server.toml gives an-lac and bac-giang (son-dong has none)
COMMUNE, PROVINCE = "An Lạc", "Bắc Giang"


def last_month(now: float | None = None) -> tuple[int, int]:
    today = datetime.fromtimestamp(now if now is not None else time.time(), UTC).astimezone(ZONE).date()
    previous = today.replace(day=1) - timedelta(days=1)
    return previous.year, previous.month


class MonthScenario:
    def __init__(self, year: int, month: int) -> None:
        self.first = date(year, month, 1)
        self.following = date(year + month // 12, month % 12 + 1, 1)
        self.text = f"{year:04d}-{month:02d}"
        self.start_ms = self.midnight(self.first)
        self.end_ms = self.midnight(self.following)
        self.days = (self.following - self.first).days

    def midnight(self, day: date) -> int:
        return int(datetime.combine(day, datetime.min.time(), ZONE).timestamp() * 1000)

    def at(self, day: int, hour: float = 0.0) -> int:
        """UTC ms of local ``hour`` on day ``day`` (1-based) of the month."""
        return self.start_ms + (day - 1) * DAY + int(hour * H)

    @property
    def fiber_down(self) -> list[tuple[int, int]]:
        return [(self.at(5, 10), self.at(5, 12.5)), (self.at(20, 6), self.at(20, 12))]

    def times(self) -> range:
        return range(self.start_ms, self.end_ms, STEP)

    # -- village A -------------------------------------------------------------------------------------------
    def uplinks(self) -> Iterator[Point]:
        gap = (self.at(25), self.at(27))
        for t in self.times():
            down = sum(max(0, min(t, hi) - max(t - STEP, lo)) for lo, hi in self.fiber_down) / 1000
            yield _uplink(A, "fiber", t, 300.0 - down)
            if not gap[0] < t <= gap[1]:
                yield _uplink(A, "4g", t, 300.0)
        for t in self.times():
            yield _uplink(B, "fiber", t, 300.0)

    def events(self) -> Iterator[Point]:
        yield Point(
            "uplink_event", {**A, "link": "fiber"}, {"state": "up", "reason": "start"}, self.start_ms - DAY
        )
        yield Point(
            "uplink_event", {**A, "link": "4g"}, {"state": "up", "reason": "start"}, self.start_ms - DAY
        )
        for lo, hi in self.fiber_down:
            yield Point(
                "uplink_event", {**A, "link": "fiber"}, {"state": "down", "reason": "mất tín hiệu quang"}, lo
            )
            yield Point(
                "uplink_event", {**A, "link": "fiber"}, {"state": "up", "reason": "targets answered"}, hi
            )

    def others(self) -> Iterator[Point]:
        upgrade = self.at(15)
        for t in self.times():
            yield Point(
                "modem",
                {**A, "link": "4g", "modem": "ec25"},
                {"registered": 1, "reg_state": "home", "rsrp_dbm": -100.0 if t <= upgrade else -115.0},
                t,
            )
            yield Point(
                "wifi", {**A, "ap": "cultural-house"}, {"ap_up": 1, "up_s": 300.0, "observed_s": 300.0}, t
            )
            yield Point("gateway", A, {"uptime_s": 1.0, "version": "0.1.0" if t < upgrade else "0.1.1"}, t)
        for day in range(1, self.days + 1):
            users = 5 if 10 <= day <= 12 else 15
            yield Point("wifi_daily", {**A, "ap": "cultural-house"}, {"unique_users": users}, self.at(day))
        yield Point(
            "indicator",
            {**A, "gateway": "manual", "indicator": "eid_adoption_pct"},
            {"value": 31.5, "unit": "%", "source": "Nguyễn Thị Hoa, UBND xã (key officer-hoa)"},
            self.at(3, 9),
        )

    def lights(self) -> Iterator[Point]:
        failing = self.at(18, 19)
        for t in range(self.start_ms + 10 * M, self.end_ms + 1, 10 * M):
            local_hour = (t - 10 * M - self.start_ms) % DAY / H
            want = 600.0 if local_hour < 6 or local_hour >= 18 else 0.0
            for light, zone in (("L1", "duong-chinh"), ("L2", "duong-chinh"), ("L3", "truong-hoc")):
                failed = light == "L3" and t - 10 * M >= failing
                # the edge can tell a failed lamp only while the schedule wants it lit
                yield streetlight(A, light, zone, t, want, failed, fault="lamp_failure" if want else "")

    def points(self) -> list[Point]:
        return [*self.uplinks(), *self.events(), *self.others(), *self.lights()]


def _uplink(site: dict, link: str, t: int, up_s: float) -> Point:
    return Point(
        "uplink", {**site, "link": link}, {"up": int(up_s > 0), "up_s": up_s, "observed_s": 300.0}, t
    )
