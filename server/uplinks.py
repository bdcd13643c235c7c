"""Uplinks: availability per link (and per step), and outages with their MTBF and MTTR."""

from __future__ import annotations

import bisect
from collections import defaultdict

from server import figures as fig
from server import models as m
from server.queries import Scope
from server.service import Service
from server.timeparse import Step, Window, buckets, iso
from thonminh.contract import UPLINK
from thonminh.influxql import tag_equals

__all__ = ["outages", "uptime"]

UPLINK_SUMS = ("up_s", "observed_s", "samples")


def uptime(
    service: Service, village: str, window: Window, link: str | None, step: Step | None
) -> m.UptimeOut:
    links = service.require_link(village, link)
    where = [tag_equals("link", link)] if link else []
    sums = service.reader.sums(
        UPLINK.name, UPLINK_SUMS, Scope(village=village), window, group_by=("link",), step=step, where=where
    )
    spans = buckets(window, step, service.zone) if step else []
    starts = [s for s, _ in spans]
    result = []
    for name in sorted(set(links) | {k[0] for k in sums.keys()}):
        per_bucket: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        total: dict[str, float] = defaultdict(float)
        for bucket, values in sums.values.get((name,), {}).items():
            for key, value in values.items():
                total[key] += value
                if bucket is not None:
                    index = max(0, bisect.bisect_right(starts, max(bucket, window.start_ms)) - 1)
                    per_bucket[index][key] += value
        a = _avail(total, window.seconds, service.min_coverage(name))
        steps = None
        if step:
            steps = [
                m.UptimeStep(
                    start=iso(s),
                    end=iso(e),
                    **_avail(per_bucket.get(i, {}), (e - s) / 1000, service.min_coverage(name)).model_dump(),
                )
                for i, (s, e) in enumerate(spans)
            ]
        result.append(m.LinkUptime(link=name, steps=steps, **a.model_dump()))
    return m.UptimeOut(
        village=village,
        window=service.window_out(window),
        step=step.text if step else None,
        links=result,
        queries=sums.queries,
    )


def outages(service: Service, village: str, window: Window, link: str | None) -> m.OutagesOut:
    links = service.require_link(village, link)
    before, inside = service.reader.events(Scope(village=village), window, link)
    sums = service.reader.sums(UPLINK.name, UPLINK_SUMS, Scope(village=village), window, group_by=("link",))
    prior = {r["link"]: fig.Event(int(r["time"]), r["state"], r.get("reason") or "") for r in before.rows}
    events: dict[str, list[fig.Event]] = defaultdict(list)
    for r in inside.rows:
        events[r["link"]].append(fig.Event(int(r["time"]), r["state"], r.get("reason") or ""))
    found, reliability = [], []
    for name in sorted(set(links) | set(prior) | set(events)):
        outs = fig.outages(name, prior.get(name), events.get(name, []), window.start_ms, window.end_ms)
        found += outs
        rel = fig.reliability(outs, window.start_ms, window.end_ms, up_s=sums.total((name,)).get("up_s", 0.0))
        reliability.append(
            m.LinkReliability(
                link=name,
                failures=rel.failures,
                restored=rel.restored,
                downtime_s=rel.downtime_s,
                mtbf_s=rel.mtbf_s,
                mttr_s=rel.mttr_s,
            )
        )
    found.sort(key=lambda o: (o.start_ms, o.link))
    return m.OutagesOut(
        village=village,
        window=service.window_out(window),
        links=reliability,
        outages=[
            m.OutageOut(
                link=o.link,
                start=iso(o.start_ms),
                end=iso(o.end_ms) if o.end_ms else None,
                open=o.open,
                started_before_window=o.started_before_window,
                duration_s=o.duration_s,
                in_window_s=o.in_window_s,
                reason=o.reason,
            )
            for o in found
        ],
        queries=before.queries + inside.queries + sums.queries,
    )


def _avail(sums: dict[str, float], window_s: float, min_coverage: float) -> m.AvailabilityOut:
    a = fig.availability(sums.get("up_s", 0.0), sums.get("observed_s", 0.0), sums.get("samples", 0), window_s)
    return m.AvailabilityOut(
        availability_pct=a.availability_pct,
        up_s=a.up_s,
        down_s=a.down_s,
        unknown_s=a.unknown_s,
        observed_s=a.observed_s,
        coverage=a.coverage,
        samples=a.samples,
        min_coverage=min_coverage,
        enough_data=a.availability_pct is not None and a.coverage >= min_coverage,
    )
