"""The loads every benchmark runs at: one definition of each, so the figures of different benches compare.

- ``STANDARD_VILLAGE``: the village of ``docs/scaling.md``: 30 street lights, uplinks (fiber, 4G) every 10 s,
  the modem every 30 s, Wi-Fi (``wifi`` + ``wifi_daily``) and self-metrics every 60 s, one ``streetlight``
  sample per light a minute: about 67,700 points a day. Its lights report STATE + SENSOR once a minute.
- ``PROVINCE``: the largest light count a gateway-side process must carry (a province's few thousand lights),
  2,000 lights reporting every 10 s (Tasmota TelePeriod 10: STATE + SENSOR = 400 messages a second). A load
  for the lights source's CPU figure, not a village anyone runs.
- ``BACKLOG_MESSAGES``: what a gateway's persistent session finds queued at the broker after an outage of
  the agent, and must take in quickly.

``village_points`` is the standard village's points, in time order, for the pipeline benches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from thonminh.contract import GATEWAY, MODEM, STREETLIGHT, UPLINK, WIFI, WIFI_DAILY, Point, site_tags

__all__ = ["BACKLOG_MESSAGES", "PROVINCE", "SITE", "STANDARD_VILLAGE", "Load", "per_day", "village_points"]

SITE: Final = site_tags(
    "kha-ly-thuong", "klt-gw1", commune="tien-dung", district="luc-ngan", province="bac-giang"
)


@dataclass(frozen=True, slots=True)
class Load:
    """A named load: how many lights, how often each reports over MQTT, and the sources' cadences."""

    name: str
    lights: int
    #: Each light's report period: Tasmota's TelePeriod, one STATE and one SENSOR message each time.
    report_s: float
    messages_per_report: int = 2
    streetlight_s: int = 60
    uplinks: tuple[str, ...] = ("fiber", "4g")
    uplink_s: int = 10
    modem_s: int = 30
    wifi_s: int = 60
    gateway_s: int = 60

    @property
    def light_messages_per_s(self) -> float:
        return self.lights * self.messages_per_report / self.report_s


STANDARD_VILLAGE: Final = Load("standard village", lights=30, report_s=60)
PROVINCE: Final = Load("province", lights=2_000, report_s=10)
BACKLOG_MESSAGES: Final = 10_000


def _lights(load: Load, t_ms: int, minute: int) -> Iterator[Point]:
    for i in range(load.lights):
        lit = (minute + i) % 7 != 0
        yield Point(
            STREETLIGHT.name,
            {**SITE, "light": f"l{i:03d}", "zone": f"z{i % 10}"},
            {
                "on": int(lit),
                "online": 1,
                "expected_on": 1,
                "observed_s": 60.0,
                "expected_on_s": 60.0,
                "lit_when_expected_s": 60.0 if lit else 0.0,
                "ok_s": 60.0 if lit else 0.0,
                "power_w": 35.5 + i % 5,
                "voltage_v": 229.8,
                "current_a": 0.16,
                "energy_kwh": 1200.25 + minute / 60,
                "fault": "" if lit else "dark",
            },
            t_ms,
        )


def _uplinks(load: Load, t_ms: int) -> list[Point]:
    return [
        Point(
            UPLINK.name,
            {**SITE, "link": link},
            {
                "up": 1,
                "up_s": float(load.uplink_s),
                "observed_s": float(load.uplink_s),
                "rtt_ms": 21.5 + k,
                "loss_pct": 0.0,
                "targets_ok": 3,
                "targets_total": 3,
                "active": int(k == 0),
            },
            t_ms,
        )
        for k, link in enumerate(load.uplinks)
    ]


def _slow(load: Load, s: int, t_ms: int) -> Iterator[Point]:
    """The points of the sources slower than the uplinks whose time has come at second ``s``."""
    if s % load.modem_s == 0:
        yield Point(
            MODEM.name,
            {**SITE, "link": "4g", "modem": "m1"},
            {
                "registered": 1,
                "reg_state": "home",
                "operator": "Viettel",
                "access_tech": "LTE",
                "rssi_dbm": -71.0,
                "rsrp_dbm": -98.0,
                "rsrq_db": -11.0,
                "sinr_db": 9.5,
                "sim": "ready",
            },
            t_ms,
        )
    if s % load.wifi_s == 0:
        yield Point(
            WIFI.name,
            {**SITE, "ap": "cultural-house"},
            {
                "ap_up": 1,
                "up_s": float(load.wifi_s),
                "observed_s": float(load.wifi_s),
                "clients": 12,
                "rx_bytes": 1_250_000,
                "tx_bytes": 9_800_000,
            },
            t_ms,
        )
        midnight = t_ms - (t_ms + 7 * 3_600_000) % 86_400_000  # local midnight, Asia/Ho_Chi_Minh (UTC+7)
        yield Point(
            WIFI_DAILY.name, {**SITE, "ap": "cultural-house"}, {"unique_users": 21, "sessions": 24}, midnight
        )
    if s % load.streetlight_s == 0:
        yield from _lights(load, t_ms, s // 60)
    if s % load.gateway_s == 0:
        yield Point(
            GATEWAY.name,
            SITE,
            {
                "uptime_s": float(s),
                "buffer_points": 0,
                "buffer_bytes": 0,
                "forwarded_total": 0,
                "dropped_total": 0,
                "rejected_total": 0,
                "lag_s": 0.0,
                "clock_synced": 1,
                "version": "bench",
            },
            t_ms,
        )


def village_points(
    start_ms: int, seconds: int, *, step_s: int = 10, load: Load = STANDARD_VILLAGE
) -> Iterator[list[Point]]:
    """The load's points from ``start_ms``: one list per ``step_s`` seconds (a divisor of every cadence)."""
    for s in range(0, seconds, step_s):
        t = start_ms + s * 1000
        points = _uplinks(load, t) if s % load.uplink_s == 0 else []
        points.extend(_slow(load, s, t))
        yield points


def per_day(load: Load = STANDARD_VILLAGE) -> int:
    """Points a day: 67,680 for the standard village (docs/scaling.md: about 67,700)."""
    return sum(len(p) for p in village_points(0, 86_400, load=load))
