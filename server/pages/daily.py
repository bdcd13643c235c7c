"""A criterion's value per local day, for the charts: the catalog's own ``ratio_evidence`` on each day's sums.

The sums come from one ``Reader.sums`` call per figure with ``step=1d`` (InfluxDB buckets them on the local
calendar, from the hourly rollups), grouped by the same tags the criteria service groups by; each day's value
and coverage are then made by ``server.catalog.ratio_evidence``, the function behind every criterion's value.
So a day's bar is exactly what ``/criteria?start=<that day>&end=<the next>`` answers, never a recomputation.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# the catalog's grouping, so a day's sums are grouped exactly as the criterion's (asked to make it public)
from server.catalog import group_tags, ratio_evidence
from server.criteria import Criterion, verdict
from server.models import WifiOut
from server.queries import Scope
from server.service import Service
from server.timeparse import Window, buckets, parse_step
from thonminh.figures import FIGURES, PER_DAY, Coverage, FigureDescription, Kind

__all__ = ["Day", "daily_values"]


@dataclass(frozen=True, slots=True)
class Day:
    start_ms: int
    end_ms: int
    value: float | None
    #: None where the figure's coverage is not per day (hours with modem readings are counted per window)
    coverage: float | None
    #: the day judged by the criterion's own rule (``insufficient_data`` under its minimum coverage)
    verdict: str


def _verdict(criterion: Criterion, value: float | None, coverage: float | None) -> str:
    if coverage is None:
        return verdict(
            value, 1.0, comparator=criterion.comparator, threshold=criterion.threshold, min_coverage=0
        )
    return criterion.verdict(value, coverage)


def _ratio_days(
    service: Service,
    criterion: Criterion,
    desc: FigureDescription,
    params: Mapping[str, Any],
    village: str,
    window: Window,
) -> list[Day]:
    step = parse_step(PER_DAY, window=window, max_buckets=service.config.max_buckets)
    spans = buckets(window, step, service.zone)
    starts = [s for s, _ in spans]
    tags = group_tags(desc)
    names = tuple(s.name_for(params) for s in desc.sums())
    sums = service.reader.sums(
        desc.measurement.name, names, Scope(village=village), window, group_by=tags, step=step
    )
    wanted = desc.tag_filters(params)
    per_day: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for key in sums.keys():
        if any(key[tags.index(tag)] != value for tag, value in wanted.items()):
            continue
        member = key[tags.index(desc.member_tag)] if desc.member_tag else ""
        for bucket, values in sums.values[key].items():
            # a bucket that opens before the window (the first local day) belongs to the window's first day
            index = max(0, bisect.bisect_right(starts, max(bucket or 0, window.start_ms)) - 1)
            per_day[index][member] = dict(values)
    days = []
    for index, (start, end) in enumerate(spans):
        members = per_day.get(index, {})
        ev = ratio_evidence(desc, params, members, Window(start, end))
        coverage = None if desc.coverage is Coverage.HOURS else (ev.coverage if members else 0.0)
        days.append(Day(start, end, ev.value, coverage, _verdict(criterion, ev.value, coverage)))
    return days


def _wifi_days(service: Service, criterion: Criterion, wifi: WifiOut, window: Window) -> list[Day]:
    step = parse_step(PER_DAY, window=window, max_buckets=service.config.max_buckets)
    users = {d["date"]: d["unique_users"] for d in wifi.use.days}
    days = []
    for start, end in buckets(window, step, service.zone):
        local = datetime.fromtimestamp(start / 1000, service.zone).date().isoformat()
        value = users.get(local)
        coverage = 1.0 if value is not None else 0.0
        value = None if value is None else float(value)
        days.append(Day(start, end, value, coverage, _verdict(criterion, value, coverage)))
    return days


def daily_values(
    service: Service, village: str, criterion: Criterion, window: Window, wifi: WifiOut | None = None
) -> list[Day] | None:
    """The criterion's figure per local day of ``window``; None for figures without daily values (manual
    indicators). Wi-Fi users per day are the days of the ``/wifi`` answer itself, passed in as ``wifi``."""
    desc = FIGURES[criterion.figure]
    if desc.kind is Kind.RATIO:
        return _ratio_days(service, criterion, desc, criterion.params, village, window)
    if desc.kind is Kind.DAILY_MEAN and wifi is not None and not criterion.params.get("ap"):
        return _wifi_days(service, criterion, wifi, window)
    return None
