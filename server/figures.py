"""The figures, as plain functions of already-aggregated numbers: no I/O, no InfluxDB, no HTTP.

Conventions (docs/api.md): percentages are 0..100; ``coverage`` is 0..1 (observed time / window time);
time with no sample is unknown, never up or down; a figure with nothing to divide by is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from thonminh.figures import coverage_of_observed, percent

__all__ = [
    "Availability",
    "Event",
    "LightStat",
    "Lighting",
    "Outage",
    "Reliability",
    "WifiUse",
    "availability",
    "lighting",
    "outages",
    "percent",
    "reliability",
    "wifi_use",
]


def _coverage(observed_s: float, window_s: float) -> float:
    return coverage_of_observed(observed_s, window_s)


# -- availability (uplinks, Wi-Fi, lighting all reduce to this shape) -------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    availability_pct: float | None
    up_s: float
    down_s: float
    unknown_s: float
    observed_s: float
    coverage: float
    samples: int
    window_s: float


def availability(up_s: float, observed_s: float, samples: int | float, window_s: float) -> Availability:
    """availability = up / observed; down = observed - up; unknown = window - observed (never negative)."""
    return Availability(
        availability_pct=percent(up_s, observed_s),
        up_s=up_s,
        down_s=max(0.0, observed_s - up_s),
        unknown_s=max(0.0, window_s - observed_s),
        observed_s=observed_s,
        coverage=_coverage(observed_s, window_s),
        samples=int(samples),
        window_s=window_s,
    )


# -- outages ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """An ``uplink_event``: the link turned ``state`` at ``time_ms``."""

    time_ms: int
    state: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    link: str
    start_ms: int
    end_ms: int | None  # None: still open at the end of the window
    reason: str
    window_start_ms: int
    window_end_ms: int

    @property
    def open(self) -> bool:
        return self.end_ms is None

    @property
    def started_before_window(self) -> bool:
        return self.start_ms < self.window_start_ms

    @property
    def duration_s(self) -> float:
        """From its start to its end, or to the end of the window while it is open."""
        return ((self.end_ms if self.end_ms is not None else self.window_end_ms) - self.start_ms) / 1000

    @property
    def in_window_s(self) -> float:
        end = self.end_ms if self.end_ms is not None else self.window_end_ms
        return max(0, min(end, self.window_end_ms) - max(self.start_ms, self.window_start_ms)) / 1000


def outages(
    link: str, before: Event | None, events: Iterable[Event], start_ms: int, end_ms: int
) -> list[Outage]:
    """Pair ``down`` .. ``up`` events. ``before`` is the link's last event before the window, so an outage
    already open when the window starts is reported with its real start. Repeated ``down`` events keep the
    first; an ``up`` with no outage open is ignored."""
    found: list[Outage] = []
    open_since: Event | None = before if before is not None and before.state == "down" else None
    for event in sorted(events, key=lambda e: e.time_ms):
        if event.state == "down" and open_since is None:
            open_since = event
        elif event.state == "up" and open_since is not None:
            found.append(Outage(link, open_since.time_ms, event.time_ms, open_since.reason, start_ms, end_ms))
            open_since = None
    if open_since is not None:
        found.append(Outage(link, open_since.time_ms, None, open_since.reason, start_ms, end_ms))
    return found


@dataclass(frozen=True, slots=True)
class Reliability:
    failures: int  # outages that started inside the window
    restored: int  # outages that ended inside the window
    downtime_s: float  # outage time inside the window
    mtbf_s: float | None  # observed up time / failures: time without data is neither up nor between failures
    mttr_s: float | None  # mean full duration of the outages restored inside the window


def reliability(found: Sequence[Outage], start_ms: int, end_ms: int, *, up_s: float) -> Reliability:
    """``up_s``: the link's observed up time in the window (``sum(up_s)``), the only time MTBF may count."""
    failures = sum(1 for o in found if o.start_ms >= start_ms)
    restored = [o for o in found if o.end_ms is not None]
    return Reliability(
        failures=failures,
        restored=len(restored),
        downtime_s=sum(o.in_window_s for o in found),
        mtbf_s=up_s / failures if failures else None,
        mttr_s=fmean(o.duration_s for o in restored) if restored else None,
    )


# -- lighting ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LightStat:
    light: str
    zone: str
    availability_pct: float | None
    expected_on_s: float
    lit_when_expected_s: float
    ok_pct: float | None
    coverage: float
    samples: int
    fault: str | None  # last reported fault; "" none; None when no recent report
    online: bool | None


@dataclass(frozen=True, slots=True)
class Lighting:
    availability_pct: float | None
    expected_on_s: float
    lit_when_expected_s: float
    coverage: float
    samples: int
    lights: list[LightStat]
    by_fault: dict[str, list[str]] = field(default_factory=dict)


def lighting(
    per_light: Mapping[tuple[str, str], Mapping[str, float]],
    faults: Mapping[str, tuple[str | None, bool | None]],
    window_s: float,
) -> Lighting:
    """Village lighting availability = sum(lit_when_expected_s) / sum(expected_on_s) over all its lights;
    coverage = mean over lights of observed/window. ``per_light`` is keyed by (light, zone)."""
    stats = []
    for (light, zone), sums in sorted(per_light.items()):
        expected = sums.get("expected_on_s", 0.0)
        lit = sums.get("lit_when_expected_s", 0.0)
        fault, online = faults.get(light, (None, None))
        stats.append(
            LightStat(
                light=light,
                zone=zone,
                availability_pct=percent(lit, expected),
                expected_on_s=expected,
                lit_when_expected_s=lit,
                ok_pct=percent(sums.get("ok_s", 0.0), sums.get("observed_s", 0.0)),
                coverage=_coverage(sums.get("observed_s", 0.0), window_s),
                samples=int(sums.get("samples", 0)),
                fault=fault,
                online=online,
            )
        )
    expected = sum(s.expected_on_s for s in stats)
    lit = sum(s.lit_when_expected_s for s in stats)
    by_fault: dict[str, list[str]] = {}
    for s in stats:
        if s.fault:
            by_fault.setdefault(s.fault, []).append(s.light)
    return Lighting(
        availability_pct=percent(lit, expected),
        expected_on_s=expected,
        lit_when_expected_s=lit,
        coverage=fmean(s.coverage for s in stats) if stats else 0.0,
        samples=sum(s.samples for s in stats),
        lights=stats,
        by_fault=by_fault,
    )


# -- Wi-Fi ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WifiUse:
    days: list[tuple[date, int]]
    weeks: list[dict]
    mean_daily_users: float | None
    days_with_data: int
    coverage: float  # days with data / local days the window touches


def wifi_use(daily: Iterable[tuple[int, float]], window_days: int, zone: ZoneInfo) -> WifiUse:
    """Unique users per local day (``wifi_daily``, summed over the village's APs) and per ISO week.

    ``window_days``: the local days the window touches (``plan.local_days``), each of which should have a point.

    Daily unique users do not add up to weekly unique users (the same phone comes back); a week is therefore
    described by its user-days, its mean and its busiest day, not by a made-up weekly unique count."""
    days = sorted((datetime.fromtimestamp(ms / 1000, zone).date(), int(users)) for ms, users in daily)
    weeks: dict[date, list[int]] = {}
    for day, users in days:
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(users)
    week_rows = [
        {
            "week_start": start.isoformat(),
            "days_with_data": len(v),
            "user_days": sum(v),
            "mean_daily_users": fmean(v),
            "max_daily_users": max(v),
        }
        for start, v in sorted(weeks.items())
    ]
    return WifiUse(
        days=days,
        weeks=week_rows,
        mean_daily_users=fmean(u for _, u in days) if days else None,
        days_with_data=len(days),
        coverage=min(1.0, len(days) / window_days) if window_days > 0 else 0.0,
    )
