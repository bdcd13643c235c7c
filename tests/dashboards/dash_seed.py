"""Contract data for the dashboard tests: eight days of a village, built with ``thonminh.contract.Point``.

A *healthy* village has both uplinks up (one 10-minute 4G outage three days ago, as real villages do), its
modem registered, Wi-Fi used every day, four street lights on schedule with meters, and a gateway reporting
every minute. A *troubled* village has fiber down for the last 20 minutes, a gateway holding a 2-hour backlog
and a light with a lamp failure since 90 minutes ago; a *silent* one's gateway stopped 20 minutes ago.
Samples come every 10 minutes (every minute for the gateway in the last hour) to keep the seed small.

Grafana's verdicts come from the criteria service's display copy (``criterion_verdict``), not from these points:
the seed writes it as the service would have published it (``published``), so a panel that computed its own
verdict from the raw points would disagree with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboards.criteria import CRITERIA, verifiable
from server.evidence_display import DisplayCopy, ensure_retention_policy
from thonminh.contract import (
    CRITERION_VERDICT,
    DAILY_TZ,
    STREETLIGHT,
    UPLINK,
    VERIFICATION_RP,
    Measurement,
    Point,
    site_tags,
)
from thonminh.criteria import Criterion
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

STEP_MS = 600_000
DAYS = 8
OBS = STEP_MS / 1000
LIGHTS = (("l1", "north"), ("l2", "north"), ("l3", "south"), ("l4", "south"))
TZ = ZoneInfo(DAILY_TZ)


@dataclass(frozen=True)
class Village:
    village: str
    gateway: str
    commune: str
    district: str
    troubled: bool = False
    silent: bool = False
    #: as server.toml names it; the service publishes the slug for a village it does not name
    name: str = ""
    #: pole coordinates, written when the contract's streetlight has them
    light_coordinates: bool = "latitude" in STREETLIGHT.fields

    @property
    def tags(self) -> dict[str, str]:
        return site_tags(
            self.village, self.gateway, commune=self.commune, district=self.district, province="bac-giang"
        )


def _p(m: str | Measurement, tags: Mapping[str, str], fields: Mapping[str, object], t: int) -> Point:
    name = m if isinstance(m, str) else m.name
    return Point(name, dict(tags), dict(fields), t)  # type: ignore[arg-type]


def village_points(v: Village, now_ms: int) -> Iterator[Point]:
    start = now_ms - DAYS * 86_400_000
    fiber_down_from = now_ms - 20 * 60_000
    outage = (now_ms - 3 * 86_400_000, now_ms - 3 * 86_400_000 + 10 * 60_000)
    fault_from = now_ms - 90 * 60_000
    base = v.tags
    energy = {name: 100.0 for name, _ in LIGHTS}
    t = start + STEP_MS
    while t <= now_ms:
        local_hour = datetime.fromtimestamp(t / 1000, TZ).hour
        night = local_hour >= 18 or local_hour < 6
        fiber_ok = not (v.troubled and t > fiber_down_from)
        for link in ("fiber", "4g"):
            up = fiber_ok if link == "fiber" else not outage[0] < t <= outage[1]
            fields: dict[str, object] = {
                "up": int(up),
                "up_s": OBS if up else 0.0,
                "observed_s": OBS,
                "loss_pct": 0.0 if up else 100.0,
                "targets_ok": 3 if up else 0,
                "targets_total": 3,
                "active": int((link == "fiber") == fiber_ok),
            }
            if up:
                fields["rtt_ms"] = 8.5 if link == "fiber" else 42.0
            yield _p("uplink", {**base, "link": link}, fields, t)
        yield _p(
            "modem",
            {**base, "link": "4g", "modem": "ec25"},
            {
                "registered": 1,
                "reg_state": "home",
                "operator": "Viettel",
                "access_tech": "LTE",
                "rssi_dbm": -71.0,
                "rsrp_dbm": -95.0,
                "rsrq_db": -9.0,
                "sinr_db": 12.5,
                "sim": "ready",
            },
            t,
        )
        clients = 6 if 7 <= local_hour < 22 else 1
        yield _p(
            "wifi",
            {**base, "ap": "cultural-house"},
            {
                "ap_up": 1,
                "up_s": OBS,
                "observed_s": OBS,
                "clients": clients,
                "rx_bytes": clients * 2_000_000,
                "tx_bytes": clients * 9_000_000,
            },
            t,
        )
        for name, zone in LIGHTS:
            broken = v.troubled and name == "l2" and t > fault_from
            lit = night and not broken
            energy[name] += 0.009 if lit else 0.0
            fields = {
                "on": int(lit),
                "online": 1,
                "expected_on": int(night),
                "observed_s": OBS,
                "expected_on_s": OBS if night else 0.0,
                "lit_when_expected_s": OBS if lit else 0.0,
                "ok_s": 0.0 if broken else OBS,
                "power_w": 36.0 if lit else 0.4,
                "voltage_v": 229.0,
                "current_a": 0.16 if lit else 0.0,
                "energy_kwh": round(energy[name], 3),
                "fault": "lamp_failure" if broken else "",
            }
            if v.light_coordinates:
                fields["latitude"] = 21.38 + int(name[1]) * 0.0004
                fields["longitude"] = 106.57 + int(name[1]) * 0.0004
            yield _p("streetlight", {**base, "light": name, "zone": zone}, fields, t)
        t += STEP_MS
    yield _p(
        "indicator",
        {**base, "indicator": "eid_adoption_pct"},
        {"value": 18.0 if v.troubled else 31.5, "unit": "%", "source": "officer-hoa"},
        start + 86_400_000,
    )
    yield from _events(v, now_ms, outage, fiber_down_from)
    yield from _wifi_daily(v, now_ms)
    yield from _gateway(v, now_ms)


def _events(v: Village, now_ms: int, outage: tuple[int, int], fiber_down_from: int) -> Iterator[Point]:
    link4g = {**v.tags, "link": "4g"}
    yield _p(
        "uplink_event",
        link4g,
        {"state": "down", "reason": "targets unreachable", "previous_state_s": 400000.0},
        outage[0],
    )
    yield _p(
        "uplink_event",
        link4g,
        {"state": "up", "reason": "targets answered", "previous_state_s": 600.0},
        outage[1],
    )
    if v.troubled:
        yield _p(
            "uplink_event",
            {**v.tags, "link": "fiber"},
            {"state": "down", "reason": "targets unreachable", "previous_state_s": 600000.0},
            fiber_down_from,
        )


def _wifi_daily(v: Village, now_ms: int) -> Iterator[Point]:
    today = datetime.fromtimestamp(now_ms / 1000, TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(DAYS):
        day = today - timedelta(days=back)
        yield _p(
            "wifi_daily",
            {**v.tags, "ap": "cultural-house"},
            {"unique_users": 40 + back, "sessions": 95 + back},
            int(day.timestamp() * 1000),
        )


def _gateway(v: Village, now_ms: int) -> Iterator[Point]:
    silent_from = now_ms - 20 * 60_000 if v.silent else now_ms + 1
    t = now_ms - DAYS * 86_400_000
    while t <= now_ms:
        step = 60_000 if now_ms - t <= 3_600_000 else STEP_MS
        if t < silent_from:
            lag = 7200.0 if v.troubled and now_ms - t < 30 * 60_000 else 2.0
            yield _p(
                "gateway",
                v.tags,
                {
                    "uptime_s": float((t - now_ms) / 1000 + DAYS * 86400),
                    "buffer_points": 12,
                    "buffer_bytes": 4096,
                    "forwarded_total": (t // 1000) % 1_000_000,
                    "dropped_total": 0,
                    "rejected_total": 1,
                    "lag_s": lag,
                    "clock_synced": 1,
                    "cpu_temp_c": 48.5,
                    "version": "0.1.0",
                },
                t,
            )
        t += step


def _verification(v: Village, now_ms: int) -> Iterator[Point]:
    """The criteria service's display copy of its verification (``thonminh_verified``.<measurement>), per hour:
    every uplink point verified, but one an hour in the troubled village (95.8 %, under the shipped 99 %)."""
    hour = 3_600_000
    t = now_ms - now_ms % hour - DAYS * 86_400_000
    while t < now_ms:
        points = 24
        yield _p(
            UPLINK.name,
            v.tags,
            {"points": points, "verified_points": points - int(v.troubled), "faults": int(v.troubled)},
            t,
        )
        t += hour


def verdict_hours(now_ms: int) -> tuple[int, int]:
    """When the newest published verdicts are stamped (the last whole hour) and the evaluation before them."""
    newest = now_ms - now_ms % 3_600_000
    return newest, newest - 3_600_000


def _value(c: Criterion, passing: bool) -> float:
    above, below = c.threshold + 0.5, c.threshold - 0.5
    if c.comparator in (">=", ">"):
        return above if passing else below
    if c.comparator in ("<=", "<"):
        return below if passing else above
    return c.threshold if passing else above


def published(v: Village, c: Criterion, *, newest: bool = True) -> dict[str, float | str]:
    """The fields of the verdict the service published for ``v`` on ``c``: its newest, or the hour before's,
    always another verdict and value, so a panel showing the older one is caught."""
    signed = verifiable(c)
    value: float | None = _value(c, not v.troubled)
    coverage, pct = 1.0, 100.0 if signed else None
    if v.silent:
        value, coverage = None, 0.25
        pct = 50.0 if signed else None  # low too, yet not unverified: a rule on the share alone would fire
    elif v.troubled and c.description_of_figure.measurement is UPLINK:
        # a failing value held as neither pass nor fail: dash_seed's verification copy has it at 95.8 %
        pct = 95.8
    verdict = c.verdict(value, coverage, pct)
    if not newest:
        value, coverage, pct = _value(c, verdict != "pass"), 1.0, 100.0 if signed else None
        verdict = c.verdict(value, coverage, pct)
    fields: dict[str, float | str] = {"verdict": verdict, "coverage": coverage}
    if value is not None:
        fields["value"] = value
    if pct is not None:
        fields["verified_pct"] = pct
    fields["village_name"] = v.name or v.village
    return fields


def _verdicts(v: Village, now_ms: int) -> Iterator[Point]:
    """The criteria service's display copy of its verdicts (``thonminh_verified.criterion_verdict``)."""
    for t, newest in zip(verdict_hours(now_ms), (True, False), strict=True):
        for c in CRITERIA.criteria:
            yield _p(CRITERION_VERDICT, {**v.tags, "criterion": c.id}, published(v, c, newest=newest), t)


HEALTHY = Village("kha-ly-thuong", "klt-gw1", "tien-dung", "luc-ngan", name="Khả Lý Thượng")
HEALTHY_2 = Village("ban-moc", "bm-gw1", "phuong-son", "luc-ngan")
TROUBLED = Village("xom-loi", "xl-gw1", "phuong-son", "luc-nam", troubled=True)
SILENT = Village("lang-im", "li-gw1", "cam-ly", "luc-nam", silent=True)
VILLAGES = (HEALTHY, HEALTHY_2, TROUBLED, SILENT)


@dataclass(frozen=True)
class Seeded:
    """The seeded database and the "now" its data ends at (every test range ends there)."""

    client: InfluxClient
    now_ms: int


def seed(client: InfluxClient, villages: tuple[Village, ...], now_ms: int) -> None:
    batch: list[str] = []
    ensure_retention_policy(client, client.database or "")
    client.write(
        [DisplayCopy.line(p) for v in villages for p in _verification(v, now_ms)],
        retention_policy=VERIFICATION_RP,
    )
    client.write(
        [encode_line(p) for v in villages for p in _verdicts(v, now_ms)], retention_policy=VERIFICATION_RP
    )
    for v in villages:
        for point in village_points(v, now_ms):
            batch.append(encode_line(point))
            if len(batch) >= 20_000:
                client.write(batch)
                batch.clear()
    if batch:
        client.write(batch)
