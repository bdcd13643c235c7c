"""Runs the InfluxQL from ``queries.py`` and merges the aggregated rows; never reads raw samples into Python.

A window is split by ``rollups.plan`` into raw edges and rolled-up hours; each part is aggregated inside
InfluxDB and the few resulting rows are added up here, per group (village, link, ...) and per step bucket.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from server import queries as q
from server.plan import DAILY, HOURLY, RAW, plan
from server.queries import Agg, Scope
from server.rollup_specs import SPECS
from server.rollups import Rollups
from server.timeparse import Step, Window
from thonminh.contract import (
    INDICATOR,
    INDICATOR_ENTRY,
    MODEM,
    STREETLIGHT,
    UPLINK,
    UPLINK_EVENT,
    WIFI_DAILY,
    Point,
)
from thonminh.influx import InfluxClient, StatementResult
from thonminh.lineprotocol import encode_line

__all__ = ["Hours", "Reader", "Rows", "Sums"]

GroupKey = tuple[str, ...]
#: level -> (how long a point of it stands for, what a last-seen time read from it is precise to)
_GRAIN = {RAW: (0, "sample"), HOURLY: (3_600_000, "hour"), DAILY: (86_400_000, "day")}


@dataclass
class Sums:
    """Added-up outputs per group key and bucket start (``None`` without a step), and the queries used."""

    group_by: tuple[str, ...]
    values: dict[GroupKey, dict[int | None, dict[str, float]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    def total(self, key: GroupKey, bucket: int | None = None) -> dict[str, float]:
        return self.values.get(key, {}).get(bucket, {})

    def keys(self) -> list[GroupKey]:
        return sorted(self.values)


@dataclass
class Hours:
    """Hours with at least one sample, per group key (the best series of the group)."""

    values: dict[GroupKey, int]
    queries: list[str]


@dataclass
class Rows:
    rows: list[dict]
    queries: list[str]


class Reader:
    """Aggregated reads for the figures. One HTTP request per call, however many statements it needs."""

    def __init__(
        self, client: InfluxClient, rollups: Rollups, *, zone: ZoneInfo, use_rollups: bool = True
    ) -> None:
        self.client = client
        self.rollups = rollups
        self.database = rollups.database
        self.zone = zone
        #: where the gateways stamp their daily points (``wifi_daily``, at local midnight): the service's own
        #: zone, which a request's ``tz=`` (``Service.in_zone``) does not move, as it moves ``zone``
        self.daily_zone = zone
        self.use_rollups = use_rollups

    def run(self, statements: Sequence[str]) -> list[StatementResult]:
        results = self.client.query(";\n".join(statements), database=self.database)
        # InfluxDB leaves out results of statements that return nothing at the end; pad by statement_id
        by_id = {r.statement_id: r for r in results}
        return [by_id.get(i, StatementResult(i, [])) for i in range(len(statements))]

    def _segments(self, window: Window, step: Step | None):
        # daily rollups hold UTC days: with steps, buckets follow the local calendar, so hours serve instead
        aligned = step is None or step.hour_aligned(self.zone, window)
        return plan(
            window.start_ms,
            window.end_ms,
            self.rollups.state,
            use_rollups=self.use_rollups and aligned,
            daily=step is None,
        )

    # -- interval sums ------------------------------------------------------------------------------------------
    def sums(
        self,
        measurement: str,
        names: Sequence[str],
        scope: Scope,
        window: Window,
        *,
        group_by: Sequence[str] = ("village",),
        step: Step | None = None,
        where: Sequence[str] = (),
    ) -> Sums:
        """Sum the rollup outputs ``names`` over the window (per ``step`` bucket when given)."""
        spec = SPECS[measurement]
        statements: list[str] = []
        extra = " AND ".join(where) or None
        for seg in self._segments(window, step):
            if seg.rollup:
                aggs = [Agg("sum", n, n) for n in names]
                statements.append(
                    q.aggregate(
                        self.rollups.rolled(measurement, seg.level),
                        aggs,
                        scope,
                        seg.start_ms,
                        seg.end_ms,
                        group_by=group_by,
                        step=step,
                        zone=self.zone,
                        condition=extra,
                    )
                )
                continue
            for condition, outputs in spec.groups(names).items():
                aggs = [Agg(o.func, o.field, o.name) for o in outputs]
                cond = " AND ".join(c for c in (condition, extra) if c) or None
                statements.append(
                    q.aggregate(
                        self.rollups.raw(measurement),
                        aggs,
                        scope,
                        seg.start_ms,
                        seg.end_ms,
                        group_by=group_by,
                        step=step,
                        zone=self.zone,
                        condition=cond,
                    )
                )
        out = Sums(tuple(group_by), queries=statements)
        for result in self.run(statements):
            for series in result.series:
                key = tuple(series.tags.get(t, "") for t in group_by)
                buckets = out.values.setdefault(key, {})
                for row in series.rows():
                    bucket = int(row["time"]) if step is not None else None
                    acc = buckets.setdefault(bucket, defaultdict(float))
                    for name in names:
                        if row.get(name) is not None:
                            acc[name] += row[name]
        return out

    def hours_with_data(
        self,
        measurement: str,
        field_name: str,
        scope: Scope,
        window: Window,
        *,
        group_by: Sequence[str] = ("village",),
    ) -> Hours:
        """Hours with samples: a coverage for measurements without ``observed_s`` (the modem)."""
        spec = SPECS[measurement]
        series_tags = tuple(group_by) + tuple(t for t in spec.source.tags if t not in group_by)
        statements = []
        segments = self._segments(window, None)
        for seg in segments:
            if seg.rollup:
                agg = Agg("sum", "hours", "n") if seg.level == DAILY else Agg("count", "samples", "n")
                statements.append(
                    q.aggregate(
                        self.rollups.rolled(measurement, seg.level),
                        [agg],
                        scope,
                        seg.start_ms,
                        seg.end_ms,
                        group_by=series_tags,
                    )
                )
            else:
                statements.append(
                    q.aggregate(
                        self.rollups.raw(measurement),
                        [Agg("count", field_name, "n")],
                        scope,
                        seg.start_ms,
                        seg.end_ms,
                        group_by=series_tags,
                        hourly=True,
                    )
                )
        per_series: dict[GroupKey, int] = defaultdict(int)
        for seg, result in zip(segments, self.run(statements), strict=True):
            for series in result.series:
                key = tuple(series.tags.get(t, "") for t in series_tags)
                rows = series.rows()
                per_series[key] += int(rows[0]["n"] or 0) if seg.rollup else sum(1 for r in rows if r["n"])
        best: dict[GroupKey, int] = {}
        for key, hours in per_series.items():
            group = key[: len(group_by)]
            best[group] = max(best.get(group, 0), hours)
        return Hours(best, statements)

    # -- sparse measurements ----------------------------------------------------------------------------------
    def events(self, scope: Scope, window: Window, link: str | None) -> tuple[Rows, Rows]:
        """(the last event before the window per link, the events inside it)."""
        src = self.rollups.raw(UPLINK_EVENT.name)
        statements = [
            q.last_event_before(src, scope, window, link),
            q.events_in_window(src, scope, window, link),
        ]
        before, inside = self.run(statements)
        return Rows(before.rows(), statements[:1]), Rows(inside.rows(), statements[1:])

    def wifi_daily(
        self, scope: Scope, window: Window, *, group_by: Sequence[str] = ("village",), ap: str | None = None
    ) -> Rows:
        statement = q.wifi_daily_users(
            self.rollups.raw(WIFI_DAILY.name), scope, window, self.daily_zone, group_by=group_by, ap=ap
        )
        return Rows(self.run([statement])[0].rows(), [statement])

    def modem_medians(self, scope: Scope, window: Window) -> Rows:
        statement = q.modem_medians(self.rollups.raw(MODEM.name), scope, window)
        return Rows(self.run([statement])[0].rows(), [statement])

    def light_faults(self, scope: Scope, start_ms: int, end_ms: int) -> tuple[Rows, Rows]:
        """(each light's last fault, its last fault seen while it was expected on)."""
        src = self.rollups.raw(STREETLIGHT.name)
        statements = [
            q.light_faults(src, scope, start_ms, end_ms),
            q.light_faults(src, scope, start_ms, end_ms, in_the_dark=True),
        ]
        latest, dark = self.run(statements)
        return Rows(latest.rows(), statements[:1]), Rows(dark.rows(), statements[1:])

    def indicator(self, scope: Scope, window: Window, indicator: str) -> Rows:
        statement = q.indicator_last(self.rollups.raw(INDICATOR.name), scope, window, indicator)
        return Rows(self.run([statement])[0].rows(), [statement])

    def indicator_points(
        self, scope: Scope, start_ms: int, end_ms: int, indicator: str | None = None
    ) -> StatementResult:
        statement = q.indicator_points(self.rollups.raw(INDICATOR.name), scope, start_ms, end_ms, indicator)
        return self.run([statement])[0]

    def indicator_entries(self, scope: Scope) -> StatementResult:
        return self.run([q.indicator_entries(self.rollups.raw(INDICATOR_ENTRY.name), scope)])[0]

    # -- villages -------------------------------------------------------------------------------------------------
    def village_exists(self, village: str) -> bool:
        return bool(self.run([q.village_exists(self.database, village)])[0].rows())

    def links(self, village: str) -> list[str]:
        rows = self.run([q.links_of_village(self.database, village, q.LINK_MEASUREMENTS)])[0].rows()
        return sorted({r["value"] for r in rows})

    def villages(self, scope: Scope, window: Window) -> Rows:
        """Villages with uplink samples in the window, their place tags and when they were last seen: the time
        of the last sample when it is recent (not rolled up yet), else the end of the last hour or UTC day
        with samples (``precision``)."""
        segments = plan(window.start_ms, window.end_ms, self.rollups.state, use_rollups=self.use_rollups)
        statements = []
        for seg in segments:
            source = (
                self.rollups.rolled(UPLINK.name, seg.level) if seg.rollup else self.rollups.raw(UPLINK.name)
            )
            field_name = "samples" if seg.rollup else UPLINK.field("observed_s").name
            statements.append(q.villages_last_seen(source, field_name, scope, seg.start_ms, seg.end_ms))
        seen: dict[tuple[str, ...], dict] = {}
        for seg, result in zip(segments, self.run(statements), strict=True):
            length, precision = _GRAIN[seg.level]
            for series in result.series:
                key = tuple(series.tags.get(t, "") for t in q.PLACE_TAGS)
                last = (
                    min(int(series.values[0][0]) + length, seg.end_ms) if length else int(series.values[0][0])
                )
                if key not in seen or seen[key]["last_ms"] < last:
                    seen[key] = {
                        **dict(zip(q.PLACE_TAGS, key, strict=True)),
                        "last_ms": last,
                        "precision": precision,
                    }
        return Rows(list(seen.values()), statements)

    def places(self, scope: Scope) -> Rows:
        """Every village in scope that has uplink series, with its place tags, from the index (no samples read):
        a village silent for the whole window is still listed, and gets ``insufficient_data``."""
        statement = q.series_of(self.database, UPLINK.name, scope)
        found: dict[str, dict] = {}
        for row in self.run([statement])[0].rows():
            tags = q.parse_series_key(row["key"])
            if tags.get("village"):
                found.setdefault(tags["village"], {t: tags.get(t, "") for t in q.PLACE_TAGS})
        return Rows(list(found.values()), [statement])

    def write_indicator(self, value: Point, entry: Point) -> str:
        """The indicator's value and its record, in one write; the value's line is returned as evidence."""
        line = encode_line(value)
        self.client.write(
            f"{line}\n{encode_line(entry)}", database=self.database, retention_policy=self.rollups.source_rp
        )
        return line


#: Re-exported for callers that only need the place of the contract's own measurement names.
MEASUREMENTS_READ = (
    UPLINK.name,
    UPLINK_EVENT.name,
    MODEM.name,
    STREETLIGHT.name,
    WIFI_DAILY.name,
    INDICATOR.name,
)
