"""What each endpoint answers, as plain methods over a ``Reader``: routes parse, call one method, return.

``Service`` holds the configuration, the reader, the rollups and the criteria; it validates what needs the
data (unknown village, unknown link) and assembles the figures of ``figures.py`` into response models.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from server import figures as fig
from server import models as m
from server.config import ServerConfig
from server.criteria import VERDICTS, CriteriaSet, Criterion, Verdict, evaluate
from server.errors import NotFound, ParameterError
from server.plan import local_days
from server.queries import Scope
from server.reader import Reader
from server.rollups import RSRP_LADDER, Rollups
from server.timeparse import Step, Window, buckets, floor_hour, iso, parse_time, resolve_window
from thonminh import __version__
from thonminh.contract import INDICATOR, MODEM, STREETLIGHT, UPLINK, WIFI, Point
from thonminh.errors import InfluxError
from thonminh.influx import quote_ident, quote_literal

__all__ = ["Service"]

UPLINK_SUMS = ("up_s", "observed_s", "samples")
WIFI_SUMS = ("up_s", "observed_s", "open_s", "up_open_s", "samples")
LIGHT_SUMS = ("expected_on_s", "lit_when_expected_s", "ok_s", "observed_s", "samples")
FAULT_LOOKBACK_MS = 24 * 3_600_000


class Service:
    def __init__(self, config: ServerConfig, reader: Reader, rollups: Rollups, criteria: CriteriaSet, *,
                 clock: Callable[[], float] = time.time, auth_mode: str = "keys") -> None:
        self.config = config
        self.reader = reader
        self.rollups = rollups
        self.criteria = criteria
        self.zone = config.zone
        self.clock = clock
        self.auth_mode = auth_mode

    # -- parameters that need the clock or the data ----------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def window(self, start: str | None, end: str | None, *, default_days: int | None = None) -> Window:
        return resolve_window(start, end, now=self.now(), zone=self.zone,
                              default=timedelta(days=default_days or self.config.default_window_days),
                              maximum=timedelta(days=self.config.max_window_days))

    def _wout(self, w: Window) -> m.WindowOut:
        return m.WindowOut(start=w.start, end=w.end, seconds=w.seconds, timezone=self.zone.key)

    def require_village(self, village: str) -> None:
        if not self.reader.village_exists(village):
            raise NotFound(f"village: {village!r} is not in the data", parameter="village")

    def require_link(self, village: str, link: str | None) -> list[str]:
        links = self.reader.links(village)
        if link is not None and link not in links:
            raise ParameterError(f"link: {link!r} is not a link of {village!r} (known: {', '.join(links) or 'none'})",
                                 parameter="link")
        return [link] if link else links

    # -- health and villages ------------------------------------------------------------------------------------
    def health(self) -> tuple[bool, m.HealthOut]:
        started = time.perf_counter()
        influx: dict = {"url": self.config.influxdb.url, "database": self.config.influxdb.database}
        try:
            influx |= {"ok": True, "version": self.reader.client.ping()}
        except InfluxError as err:
            influx |= {"ok": False, "error": f"InfluxDB is unavailable: {err}"}
        influx["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        rollups = self.rollups.describe() if self.config.rollups.enabled else None
        ok = influx["ok"]
        return ok, m.HealthOut(status="ok" if ok else "unavailable", version=__version__, auth=self.auth_mode,
                               timezone=self.zone.key, influxdb=influx, rollups=rollups)

    def villages(self, scope: Scope, window: Window) -> m.VillagesOut:
        rows = self.reader.villages(scope, window)
        out = [m.VillageOut(village=r["village"], gateway=r["gateway"] or None, commune=r["commune"] or None,
                            district=r["district"] or None, province=r["province"] or None,
                            last_seen=iso(r["last_ms"]), last_seen_precision=r["precision"])
               for r in sorted(rows.rows, key=lambda r: (r["village"], r["gateway"]))]
        return m.VillagesOut(window=self._wout(window), villages=out, queries=rows.queries)

    # -- uptime and outages ------------------------------------------------------------------------------------
    def uptime(self, village: str, window: Window, link: str | None, step: Step | None) -> m.UptimeOut:
        links = self.require_link(village, link)
        where = [f"{quote_ident('link')} = {quote_literal(link)}"] if link else []
        sums = self.reader.sums(UPLINK.name, UPLINK_SUMS, Scope(village=village), window, group_by=("link",),
                                step=step, where=where)
        spans = buckets(window, step, self.zone) if step else []
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
            a = _avail(total, window.seconds)
            steps = None
            if step:
                steps = [m.UptimeStep(start=iso(s), end=iso(e), **_avail(per_bucket.get(i, {}), (e - s) / 1000)
                                      .model_dump()) for i, (s, e) in enumerate(spans)]
            result.append(m.LinkUptime(link=name, steps=steps, **a.model_dump()))
        return m.UptimeOut(village=village, window=self._wout(window), step=step.text if step else None,
                           links=result, queries=sums.queries)

    def outages(self, village: str, window: Window, link: str | None) -> m.OutagesOut:
        links = self.require_link(village, link)
        before, inside = self.reader.events(Scope(village=village), window, link)
        prior = {r["link"]: fig.Event(int(r["time"]), r["state"], r.get("reason") or "") for r in before.rows}
        events: dict[str, list[fig.Event]] = defaultdict(list)
        for r in inside.rows:
            events[r["link"]].append(fig.Event(int(r["time"]), r["state"], r.get("reason") or ""))
        found, reliability = [], []
        for name in sorted(set(links) | set(prior) | set(events)):
            outs = fig.outages(name, prior.get(name), events.get(name, []), window.start_ms, window.end_ms)
            found += outs
            rel = fig.reliability(outs, window.start_ms, window.end_ms)
            reliability.append(m.LinkReliability(link=name, failures=rel.failures, restored=rel.restored,
                                                 downtime_s=rel.downtime_s, mtbf_s=rel.mtbf_s, mttr_s=rel.mttr_s))
        found.sort(key=lambda o: (o.start_ms, o.link))
        return m.OutagesOut(
            village=village, window=self._wout(window), links=reliability,
            outages=[m.OutageOut(link=o.link, start=iso(o.start_ms), end=iso(o.end_ms) if o.end_ms else None,
                                 open=o.open, started_before_window=o.started_before_window,
                                 duration_s=o.duration_s, in_window_s=o.in_window_s, reason=o.reason)
                     for o in found],
            queries=before.queries + inside.queries,
        )

    # -- summaries ----------------------------------------------------------------------------------------------
    def wifi(self, village: str, window: Window) -> m.WifiOut:
        scope = Scope(village=village)
        sums = self.reader.sums(WIFI.name, WIFI_SUMS, scope, window, group_by=("ap",))
        total: dict[str, float] = defaultdict(float)
        aps = []
        for (ap,) in sums.keys():
            values = sums.total((ap,))
            for key, value in values.items():
                total[key] += value
            aps.append(m.WifiServiceOut(ap=ap, **_wifi(values, window.seconds)))
        daily = self.reader.wifi_daily(scope, window)
        use = fig.wifi_use([(int(r["time"]), r["users"]) for r in daily.rows if r.get("users") is not None],
                           local_days(window.start_ms, window.end_ms, self.zone), self.zone)
        return m.WifiOut(
            village=village, window=self._wout(window), service=m.WifiServiceOut(**_wifi(total, window.seconds)),
            access_points=aps,
            use=m.WifiUseOut(days=[{"date": d.isoformat(), "unique_users": u} for d, u in use.days], weeks=use.weeks,
                             mean_daily_users=use.mean_daily_users, days_with_data=use.days_with_data,
                             coverage=use.coverage),
            queries=sums.queries + daily.queries,
        )

    def lighting(self, village: str, window: Window) -> m.LightingOut:
        scope = Scope(village=village)
        sums = self.reader.sums(STREETLIGHT.name, LIGHT_SUMS, scope, window, group_by=("light", "zone"))
        fault_window = Window(max(window.start_ms, window.end_ms - FAULT_LOOKBACK_MS), window.end_ms)
        faults = self.reader.light_faults(scope, fault_window.start_ms, fault_window.end_ms)
        last = {r["light"]: (r.get("fault"), None if r.get("online") is None else bool(r["online"]))
                for r in faults.rows}
        summary = fig.lighting({k: sums.total(k) for k in sums.keys()}, last, window.seconds)
        return m.LightingOut(
            village=village, window=self._wout(window), availability_pct=summary.availability_pct,
            expected_on_s=summary.expected_on_s, lit_when_expected_s=summary.lit_when_expected_s,
            coverage=summary.coverage, samples=summary.samples,
            lights=[m.LightOut(**{k: getattr(s, k) for k in m.LightOut.model_fields}) for s in summary.lights],
            by_fault=summary.by_fault, fault_window=self._wout(fault_window),
            queries=sums.queries + faults.queries,
        )

    def modem(self, village: str, window: Window) -> m.ModemOut:
        scope = Scope(village=village)
        names = ("samples", "registered", "rsrp_samples", *(f"rsrp_ge_{-t}" for t in RSRP_LADDER))
        sums = self.reader.sums(MODEM.name, names, scope, window, group_by=("village",))
        hours = self.reader.hours_with_data(MODEM.name, MODEM.field("registered").name, scope, window)
        medians = self.reader.modem_medians(scope, window)
        t = sums.total((village,))
        h = hours.values.get((village,), 0)
        return m.ModemOut(
            village=village, window=self._wout(window),
            registered_pct=fig.percent(t.get("registered", 0.0), t.get("samples", 0.0)),
            rsrp_share_pct={str(thr): fig.rsrp_share(t, thr) for thr in RSRP_LADDER},
            coverage=min(1.0, h / (window.seconds / 3600)), samples=int(t.get("samples", 0)), hours_with_data=h,
            medians=[{k: v for k, v in r.items() if k != "time"} for r in medians.rows],
            queries=sums.queries + hours.queries + medians.queries,
        )

    # -- criteria -------------------------------------------------------------------------------------------------
    def _window_for(self, start: str | None, end: str | None) -> tuple[str, Callable[[Criterion], Window]]:
        if start or end:
            fixed = self.window(start, end)
            return "request", lambda c: fixed
        # whole hours: the last, unfinished hour would be read from raw samples for every village of a roll-up
        now_ms = floor_hour(int(self.now().timestamp() * 1000))
        windows = {c.id: Window(now_ms - int(c.window_delta.total_seconds() * 1000), now_ms)
                   for c in self.criteria.criteria}
        return "criterion", lambda c: windows[c.id]

    def village_criteria(self, village: str, start: str | None, end: str | None) -> m.VillageCriteriaOut:
        rule, window_for = self._window_for(start, end)
        results = evaluate(self.criteria.criteria, self.reader, Scope(village=village), [village], window_for)
        verdicts = [results[c.id][village] for c in self.criteria.criteria]
        return m.VillageCriteriaOut(village=village, window_rule=rule, timezone=self.zone.key,
                                    criteria=[self._verdict_out(v) for v in verdicts],
                                    counts=_counts(v.verdict for v in verdicts))

    def rollup_criteria(self, scope: Scope, start: str | None, end: str | None) -> m.CriteriaRollupOut:
        rule, window_for = self._window_for(start, end)
        places = {r["village"]: r for r in self.reader.places(scope).rows}
        results = evaluate(self.criteria.criteria, self.reader, scope, places, window_for)
        villages = sorted({v for per in results.values() for v in per})
        return m.CriteriaRollupOut(
            filter={"province": scope.province, "district": scope.district, "commune": scope.commune},
            window_rule=rule, timezone=self.zone.key,
            criteria=[m.RollupCriterionOut(**_criterion(c), counts=_counts(v.verdict for v in results[c.id].values()),
                                           windows=[self._wout(window_for(c))],
                                           queries=_queries_of(results[c.id].values()))
                      for c in self.criteria.criteria],
            villages=[m.RollupVillageOut(
                village=v, **{k: (places.get(v, {}).get(k) or None) for k in ("gateway", "commune", "district",
                                                                              "province")},
                verdicts={c.id: _short(results[c.id][v]) for c in self.criteria.criteria if v in results[c.id]})
                for v in villages],
        )

    def _verdict_out(self, v: Verdict) -> m.CriterionVerdictOut:
        ev = v.evidence
        return m.CriterionVerdictOut(
            **_criterion(v.criterion), verdict=v.verdict,
            evidence=m.EvidenceOut(value=ev.value, unit=ev.unit, coverage=ev.coverage, samples=ev.samples,
                                   window=self._wout(ev.window), queries=list(ev.queries), detail=dict(ev.detail)),
        )

    # -- manual indicators ---------------------------------------------------------------------------------------
    def put_indicator(self, village: str, indicator: str, body: m.IndicatorIn, key_name: str) -> m.IndicatorOut:
        places = self.reader.places(Scope(village=village)).rows
        when = parse_time(body.time, now=self.now(), zone=self.zone, parameter="time") if body.time else self.now()
        if when > self.now():
            raise ParameterError("time: an indicator cannot be dated in the future", parameter="time")
        place = places[0] if places else {}
        tags = {"village": village, "gateway": self.config.indicator_gateway, "indicator": indicator}
        tags |= {k: place[k] for k in ("commune", "district", "province") if place.get(k)}
        source = f"{body.note} (key {key_name})" if body.note else f"key {key_name}"
        fields = INDICATOR.fields
        point = Point(INDICATOR.name, tags, {fields["value"].name: float(body.value), fields["unit"].name: body.unit,
                                             fields["source"].name: source}, int(when.timestamp() * 1000))
        line = self.reader.write_indicator(point)
        return m.IndicatorOut(village=village, indicator=indicator, value=body.value, unit=body.unit, source=source,
                              time=iso(point.time_ms), line=line)


def _avail(sums: dict[str, float], window_s: float) -> m.AvailabilityOut:
    a = fig.availability(sums.get("up_s", 0.0), sums.get("observed_s", 0.0), sums.get("samples", 0), window_s)
    return m.AvailabilityOut(availability_pct=a.availability_pct, up_s=a.up_s, down_s=a.down_s,
                             unknown_s=a.unknown_s, observed_s=a.observed_s, coverage=a.coverage, samples=a.samples)


def _wifi(sums: dict[str, float], window_s: float) -> dict:
    w = fig.wifi_service(sums, window_s)
    return {k: getattr(w, k) for k in ("availability_pct", "basis", "up_s", "observed_s", "open_s", "up_open_s",
                                       "coverage", "samples")}


def _criterion(c: Criterion) -> dict:
    return {"id": c.id, "title": c.title.model_dump(), "figure": c.figure, "params": dict(c.params),
            "comparator": c.comparator, "threshold": c.threshold, "unit": c.unit, "min_coverage": c.min_coverage,
            "window": c.window}


def _counts(verdicts) -> dict[str, int]:
    counted = Counter(verdicts)
    return {v: counted.get(v, 0) for v in VERDICTS}


def _short(v: Verdict) -> m.RollupVerdict:
    return m.RollupVerdict(verdict=v.verdict, value=v.evidence.value, coverage=v.evidence.coverage,
                           samples=v.evidence.samples)


def _queries_of(verdicts) -> list[str]:
    seen: dict[str, None] = {}
    for v in verdicts:
        for query in v.evidence.queries:
            seen.setdefault(query, None)
    return list(seen)
