"""The core's figure descriptions (``thonminh.figures``) evaluated for one village or many at once.

Each figure returns, per village, an ``Evidence``: the value, coverage, samples, window and the InfluxQL that
produced it. The sums come through ``Reader`` (aggregated in InfluxDB, from the hourly rollups where they are
complete) and are shared between the figures of one evaluation; the value and its coverage follow the
description's rules, which the dashboards' queries follow too.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from server import figures as fig
from server.plan import daily_span, local_days, whole_days
from server.queries import Scope
from server.reader import Reader, Sums
from server.timeparse import Window, iso, ms_of
from thonminh.figures import Coverage, FigureDescription, Kind, coverage_of_observed, percent

__all__ = [
    "DaysCounted",
    "Evidence",
    "FigureReader",
    "Found",
    "compute",
    "days_counted",
    "group_tags",
    "ratio_evidence",
    "read_span",
]


@dataclass(frozen=True, slots=True)
class Evidence:
    value: float | None
    unit: str
    coverage: float
    samples: int
    window: Window
    queries: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


class FigureReader:
    """A ``Reader`` that remembers what it read during one evaluation (thread-safe)."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def once(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks[key]
        with lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        key = (name, args, tuple(sorted(kwargs.items())))
        return self.once(key, lambda: getattr(self.reader, name)(*args, **kwargs))


#: A figure for every village of a scope that has data, and the queries that produced it (even if none has).
Found = tuple[dict[str, Evidence], tuple[str, ...]]


def group_tags(desc: FigureDescription) -> tuple[str, ...]:
    # grouped by every tag a parameter may select, so criteria on one figure with other parameters share a read
    tags = ["village", *(p.tag for p in desc.params if p.tag)]
    if desc.member_tag and desc.member_tag not in tags:
        tags.append(desc.member_tag)
    return tuple(tags)


def _selected(
    desc: FigureDescription, params: Mapping[str, Any], tags: Sequence[str], key: tuple[str, ...]
) -> bool:
    wanted = desc.tag_filters(params)
    return all(key[tags.index(tag)] == value for tag, value in wanted.items())


def ratio_evidence(
    desc: FigureDescription,
    params: Mapping[str, Any],
    members: Mapping[str, Mapping[str, float]],
    window: Window,
    *,
    hours: int | None = None,
    queries: tuple[str, ...] = (),
) -> Evidence:
    """A ratio figure from its sums per member (one entry ``""`` when the figure has no members)."""
    assert desc.ratio is not None
    total: dict[str, float] = defaultdict(float)
    for sums in members.values():
        for name, amount in sums.items():
            total[name] += amount
    ratio = desc.ratio
    if desc.fallback is not None and total.get(ratio.denominator.name_for(params), 0.0) <= 0:
        ratio = desc.fallback
    value = percent(
        total.get(ratio.numerator.name_for(params), 0.0), total.get(ratio.denominator.name_for(params), 0.0)
    )
    if desc.coverage is Coverage.HOURS:
        coverage = min(1.0, (hours or 0) / (window.seconds / 3600)) if window.seconds else 0.0
    else:
        coverage = (
            fmean(coverage_of_observed(s.get("observed_s", 0.0), window.seconds) for s in members.values())
            if members
            else 0.0
        )
    samples = int(total.get(desc.samples.name, 0)) if desc.samples else 0
    detail: dict[str, Any] = {}
    for s in desc.sums():
        amount = total.get(s.name_for(params), 0.0)
        # a count is a whole number however InfluxDB summed it: 28 readings, as ``samples`` says, not 28.0
        detail[s.name_for(params)] = round(amount) if s.func == "count" else amount
    if desc.fallback is not None:
        detail["basis"] = ratio.basis
    if desc.member_tag:
        detail[f"{desc.member_tag}s"] = len(members)
    if hours is not None:
        detail["hours_with_data"] = hours
    return Evidence(value, desc.unit, coverage, samples, window, queries, detail)


def _ratio(
    r: FigureReader, desc: FigureDescription, scope: Scope, window: Window, params: Mapping[str, Any]
) -> Found:
    tags = group_tags(desc)
    names = tuple(s.name_for(params) for s in desc.sums())
    sums: Sums = r.once(
        ("sums", desc.measurement.name, names, scope, window, tags),
        lambda: r.reader.sums(desc.measurement.name, names, scope, window, group_by=tags),
    )
    queries = tuple(sums.queries)
    per_village: dict[str, dict[str, Mapping[str, float]]] = defaultdict(dict)
    for key in sums.keys():
        if _selected(desc, params, tags, key):
            member = key[tags.index(desc.member_tag)] if desc.member_tag else ""
            per_village[key[0]][member] = sums.total(key)
    hours = None
    if desc.coverage is Coverage.HOURS:
        assert desc.presence_field is not None
        found_hours = r.call("hours_with_data", desc.measurement.name, desc.presence_field, scope, window)
        queries += tuple(found_hours.queries)
        hours = found_hours.values
    if hours is not None:
        # a village with readings but none of this figure's (a modem never registered: no RSRP) still has its
        # coverage, and no value
        for (village,) in hours:
            per_village.setdefault(village, {})
    out = {
        village: ratio_evidence(
            desc,
            params,
            members,
            window,
            hours=None if hours is None else hours.get((village,), 0),
            queries=queries,
        )
        for village, members in per_village.items()
    }
    return out, queries


def _daily_mean(
    r: FigureReader, desc: FigureDescription, scope: Scope, window: Window, params: Mapping[str, Any]
) -> Found:
    rows = r.call("wifi_daily", scope, window, ap=params.get("ap"))
    daily: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows.rows:
        if row.get("users") is not None:
            daily[row["village"]].append((int(row["time"]), row["users"]))
    out = {}
    # each day's point counts the whole local day: a window that opens or closes within a day says which days,
    # and while the last one runs (today's point is rewritten until midnight) its value still grows
    zone = r.reader.daily_zone
    first, last = whole_days(window.start_ms, window.end_ms, zone)
    counted = {"days_from": iso(first), "days_until": iso(last)}
    touched = local_days(window.start_ms, window.end_ms, zone)
    for village, days in daily.items():
        use = fig.wifi_use(days, touched, zone)
        out[village] = Evidence(
            use.mean_daily_users,
            desc.unit,
            use.coverage,
            use.days_with_data,
            window,
            tuple(rows.queries),
            {"days_with_data": use.days_with_data, **counted},
        )
    return out, tuple(rows.queries)


def _latest(
    r: FigureReader, desc: FigureDescription, scope: Scope, window: Window, params: Mapping[str, Any]
) -> Found:
    rows = r.call("indicator", scope, window, params["indicator"])
    out = {}
    for row in rows.rows:
        if row.get("value") is None:
            continue
        out[row["village"]] = Evidence(
            float(row["value"]),
            row.get("unit") or desc.unit,
            1.0,
            int(row.get("points") or 0),
            window,
            tuple(rows.queries),
            {"source": row.get("source")},
        )
    return out, tuple(rows.queries)


_BY_KIND = {Kind.RATIO: _ratio, Kind.DAILY_MEAN: _daily_mean, Kind.LATEST: _latest}


def compute(
    desc: FigureDescription, reader: FigureReader, scope: Scope, window: Window, params: Mapping[str, Any]
) -> Found:
    """The figure ``desc`` with ``params`` for every village of ``scope`` with data in ``window``."""
    return _BY_KIND[desc.kind](reader, desc, scope, window, params)


@dataclass(frozen=True, slots=True)
class DaysCounted:
    """The whole local days a daily figure counted (``detail.days_from``, ``days_until``), and whether the last
    was still running when the page or dossier was made: its point then still grows, and so does the value."""

    first: str
    until: str
    running: bool


def days_counted(detail: Mapping[str, Any], now_ms: int) -> DaysCounted | None:
    """What people are told of a daily figure's days; None for any other figure."""
    first, until = detail.get("days_from"), detail.get("days_until")
    if not (isinstance(first, str) and isinstance(until, str)):
        return None
    return DaysCounted(first, until, ms_of(until) > now_ms)


def read_span(desc: FigureDescription, window: Window, zone: ZoneInfo) -> tuple[int, int]:
    """The time range of the samples ``desc``'s value reads over ``window``: the window itself, but for a daily
    figure, whose first day's point is stamped at the local midnight before the window opens
    (``plan.daily_span``). Verification weighs this range, so no sample a value stands on goes unchecked."""
    if desc.kind is Kind.DAILY_MEAN:
        return daily_span(window.start_ms, window.end_ms, zone)
    return window.start_ms, window.end_ms
