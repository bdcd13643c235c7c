"""Villages for the cross-surface test, and the figures recomputed from their points by the descriptions' rules.

D0 is a local midnight (Asia/Ho_Chi_Minh) ten days ago. The window is ``[FROM, TO)`` with FROM = D0 + 2:13 and
TO = D0 + 2 days 5:40, neither on an hour; minute samples fall exactly on both, and every sample stamped at TO
is a bad one (link down, AP down, lamp dark, weak signal), so an end-inclusive query reads a different value.

- A (kha-ly-thuong): no opening hours; two access points (both fully observed: 200 % if summed); fiber down
  an hour and silent four hours; a 4G outage; a modem at -100 dBm the first day and -115 dBm after, a few hours
  silent; three lights, one failing; Wi-Fi users every local day on both APs (the first day's point is stamped
  before FROM); an e-ID figure inside the window and a later one after it.
- B (ban-ven): Wi-Fi with opening hours (07:00-21:00, down 08:00-09:00 each day); users on two days of three.
- C (lang-moi): two or three hours of everything: too little data for any verdict.
- D (ban-trua): fully observed, but its lights are never expected on (nothing to divide by) and its modem never
  registers (no RSRP reading at all).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from srv_scenario import streetlight

from thonminh.contract import DAILY_TZ, Point, site_tags
from thonminh.figures import Coverage, FigureDescription, Kind

M = 60_000
H = 60 * M
DAY = 24 * H
TZ = ZoneInfo(DAILY_TZ)
_OFFSET = 7 * H

_NOW = int(time.time() * 1000)
D0 = (_NOW + _OFFSET) // DAY * DAY - _OFFSET - 10 * DAY
FROM = D0 + 2 * H + 13 * M
TO = D0 + 2 * DAY + 5 * H + 40 * M
FIRST, LAST = -180, 3300  # minutes from D0 with samples

A = site_tags("kha-ly-thuong", "gw-kly", commune="an-lac", district="son-dong", province="bac-giang")
B = site_tags("ban-ven", "gw-bv", commune="an-lac", district="son-dong", province="bac-giang")
C = site_tags("lang-moi", "gw-lm", commune="thanh-son", district="son-dong", province="bac-giang")
D = site_tags("ban-trua", "gw-bt", commune="thanh-son", district="son-dong", province="bac-giang")
VILLAGES = tuple(v["village"] for v in (A, B, C, D))


def _minutes(first: int = FIRST, last: int = LAST, step: int = 1) -> Iterator[tuple[int, int]]:
    for k in range(first, last + 1, step):
        yield k, D0 + k * M


def _local_minute(t: int) -> int:
    return (t - D0) // M % 1440


def _uplink(site: Mapping[str, str], link: str, t: int, up: bool) -> Point:
    fields: dict[str, Any] = {
        "up": int(up),
        "up_s": 60.0 if up else 0.0,
        "observed_s": 60.0,
        "loss_pct": 0.0 if up else 100.0,
        "targets_ok": 3 if up else 0,
        "targets_total": 3,
        "active": int(link == "fiber"),
    }
    return Point("uplink", {**site, "link": link}, fields, t)


def _wifi(site: Mapping[str, str], ap: str, t: int, up: bool, open_s: float | None = None) -> Point:
    fields: dict[str, Any] = {
        "ap_up": int(up),
        "up_s": 60.0 if up else 0.0,
        "observed_s": 60.0,
        "clients": 2,
        "rx_bytes": 1000,
        "tx_bytes": 4000,
    }
    if open_s is not None:
        fields |= {"open_s": open_s, "up_open_s": open_s if up else 0.0}
    return Point("wifi", {**site, "ap": ap}, fields, t)


def _modem(site: Mapping[str, str], t: int, registered: bool, rsrp: float | None) -> Point:
    fields: dict[str, Any] = {
        "registered": int(registered),
        "reg_state": "home" if registered else "searching",
        "sim": "ready",
    }
    if rsrp is not None:
        fields["rsrp_dbm"] = rsrp
    return Point("modem", {**site, "link": "4g", "modem": "ec25"}, fields, t)


def _light(
    site: Mapping[str, str], light: str, t: int, *, night_schedule: bool = True, failed: bool = False
) -> Point:
    minute = _local_minute(t - 10 * M)
    want = 600.0 if night_schedule and (minute < 360 or minute >= 1080) else 0.0
    return streetlight(site, light, "main", t, want, failed or t == TO, fault="")


def _daily(site: Mapping[str, str], ap: str, day: int, users: int) -> Point:
    return Point(
        "wifi_daily", {**site, "ap": ap}, {"unique_users": users, "sessions": users + 3}, D0 + day * DAY
    )


def _indicator(site: Mapping[str, str], t: int, value: float) -> Point:
    return Point(
        "indicator",
        {**site, "indicator": "eid_adoption_pct"},
        {"value": value, "unit": "%", "source": "officer"},
        t,
    )


def village_a() -> Iterator[Point]:
    for k, t in _minutes():
        if not 1500 <= k < 1740:
            yield _uplink(A, "fiber", t, not 600 <= k < 660 and t != TO)
        yield _uplink(A, "4g", t, not 900 <= k < 930 and t != TO)
        yield _wifi(A, "cultural-house", t, not 2000 <= k < 2090 and t != TO)
        yield _wifi(A, "school", t, not 100 <= k < 110)
    for k, t in _minutes(step=5):
        if not 1200 <= k < 1500:
            yield _modem(A, t, not 300 <= k < 330, -100.0 if k < 1440 and t != TO else -115.0)
    for k, t in _minutes(step=10):
        for light in ("L1", "L2", "L3"):
            yield _light(A, light, t, failed=light == "L3" and k >= 1900)
    for day in range(3):
        yield _daily(A, "cultural-house", day, 30 + 7 * day)
        yield _daily(A, "school", day, 4 + day)
    yield _indicator(A, D0 + DAY, 31.5)
    yield _indicator(A, TO, 12.0)


def village_b() -> Iterator[Point]:
    for _k, t in _minutes():
        minute = _local_minute(t)
        open_s = 60.0 if 7 * 60 < minute <= 21 * 60 else 0.0
        yield _wifi(B, "nha-van-hoa", t, not 8 * 60 < minute <= 9 * 60 and t != TO, open_s)
        yield _uplink(B, "fiber", t, True)
        yield _uplink(B, "4g", t, True)
    for _k, t in _minutes(step=5):
        yield _modem(B, t, True, -105.0 if t != TO else -120.0)
    for _k, t in _minutes(step=10):
        yield _light(B, "L1", t)
    yield _daily(B, "nha-van-hoa", 0, 12)
    yield _daily(B, "nha-van-hoa", 1, 9)
    yield _indicator(B, D0 + 2 * DAY, 12.0)


def village_c() -> Iterator[Point]:
    for _k, t in _minutes(700, 820):
        yield _uplink(C, "fiber", t, True)
        yield _uplink(C, "4g", t, True)
        yield _wifi(C, "nha-van-hoa", t, True)
    for _k, t in _minutes(700, 880, 5):
        yield _modem(C, t, True, -90.0)
    for _k, t in _minutes(1000, 1120, 10):
        yield _light(C, "L1", t)
    yield _daily(C, "nha-van-hoa", 1, 50)


def village_d() -> Iterator[Point]:
    for _k, t in _minutes():
        yield _uplink(D, "fiber", t, True)
        yield _uplink(D, "4g", t, True)
        yield _wifi(D, "nha-van-hoa", t, True)
    for _k, t in _minutes(step=5):
        yield _modem(D, t, False, None)
    for _k, t in _minutes(step=10):
        yield _light(D, "L1", t, night_schedule=False)
    for day in range(3):
        yield _daily(D, "nha-van-hoa", day, 11)
    yield _indicator(D, D0 + DAY, 40.0)


def all_points() -> list[Point]:
    return [*village_a(), *village_b(), *village_c(), *village_d()]


# -- the reference: every figure recomputed from the points, by the description's rules ---------------------------


@dataclass(frozen=True)
class Expected:
    value: float | None
    coverage: float


def _chosen(
    points: Iterable[Point],
    desc: FigureDescription,
    params: Mapping[str, Any],
    village: str,
    start: int,
    end: int,
) -> list[Point]:
    wanted = desc.tag_filters(params)
    return [
        p
        for p in points
        if p.measurement == desc.measurement.name
        and p.tags["village"] == village
        and start <= p.time_ms < end
        and all(p.tags.get(k) == v for k, v in wanted.items())
    ]


def _total(points: Iterable[Point], func: str, field: str, at_least: float | None = None) -> float:
    values = [float(p.fields[field]) for p in points if field in p.fields]  # type: ignore[arg-type]
    if at_least is not None:
        values = [v for v in values if v >= at_least]
    return sum(values) if func == "sum" else float(len(values))


def _ratio(chosen: list[Point], desc: FigureDescription, params: Mapping[str, Any]) -> float | None:
    assert desc.ratio is not None
    ratio = desc.ratio
    if desc.fallback is not None and _total(chosen, ratio.denominator.func, ratio.denominator.field) <= 0:
        ratio = desc.fallback
    num = _total(chosen, ratio.numerator.func, ratio.numerator.field, ratio.numerator.at_least(params))
    den = _total(chosen, ratio.denominator.func, ratio.denominator.field, ratio.denominator.at_least(params))
    return 100.0 * num / den if den > 0 else None


def _coverage(chosen: list[Point], desc: FigureDescription, start: int, end: int) -> float:
    window_s = (end - start) / 1000
    if desc.coverage is Coverage.OBSERVED:
        members: dict[str, float] = {}
        for p in chosen:
            key = p.tags.get(desc.member_tag, "") if desc.member_tag else ""
            members[key] = members.get(key, 0.0) + float(p.fields["observed_s"])  # type: ignore[arg-type]
        return fmean(min(1.0, s / window_s) for s in members.values()) if members else 0.0
    if desc.coverage is Coverage.HOURS:
        hours: dict[tuple[str, ...], set[int]] = {}
        for p in chosen:
            if desc.presence_field in p.fields:
                hours.setdefault(tuple(sorted(p.tags.items())), set()).add(p.time_ms // H)
        return min(1.0, max(map(len, hours.values()), default=0) / (window_s / 3600))
    return 1.0 if chosen else 0.0


def _local_day(ms: int) -> int:
    return (ms + _OFFSET) // DAY


def expected(
    points: list[Point],
    desc: FigureDescription,
    params: Mapping[str, Any],
    village: str,
    start: int = FROM,
    end: int = TO,
) -> Expected:
    """The figure and its coverage for one village over ``[start, end)``, from the points themselves."""
    if desc.kind is Kind.DAILY_MEAN:
        first_midnight = _local_day(start) * DAY - _OFFSET
        chosen = _chosen(points, desc, params, village, first_midnight, end)
        per_day: dict[int, float] = {}
        for p in chosen:
            per_day[_local_day(p.time_ms)] = per_day.get(_local_day(p.time_ms), 0.0) + float(
                p.fields["unique_users"]
            )  # type: ignore[arg-type]
        touched = _local_day(end - 1) - _local_day(start) + 1
        return Expected(fmean(per_day.values()) if per_day else None, min(1.0, len(per_day) / touched))
    chosen = _chosen(points, desc, params, village, start, end)
    if desc.kind is Kind.LATEST:
        latest = max(chosen, key=lambda p: p.time_ms, default=None)
        return Expected(float(latest.fields["value"]) if latest else None, 1.0 if latest else 0.0)  # type: ignore[arg-type]
    return Expected(_ratio(chosen, desc, params) if chosen else None, _coverage(chosen, desc, start, end))


def local(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).isoformat(timespec="milliseconds")
