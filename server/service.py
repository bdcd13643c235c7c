"""What each endpoint answers, as plain methods over a ``Reader``: routes parse, call one method, return.

``Service`` holds the configuration, the reader, the rollups and the criteria; it validates what needs the
data (unknown village, unknown link) and assembles the figures of ``figures.py`` into response models.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from server import figures as fig
from server import models as m
from server.catalog import Evidence, ratio_evidence
from server.config import ServerConfig
from server.criteria import VERDICTS, CriteriaSet, Criterion, Verdict, evaluate
from server.errors import NotFound, ParameterError
from server.plan import local_days
from server.queries import Scope
from server.reader import Reader
from server.rollups import Rollups
from server.timeparse import Step, Window, buckets, floor_hour, iso, resolve_window
from thonminh import __version__
from thonminh.contract import MODEM, STREETLIGHT, UPLINK, WIFI
from thonminh.errors import InfluxError
from thonminh.figures import FIGURES, RSRP_LADDER
from thonminh.influxql import tag_equals

__all__ = ["Evaluation", "Service"]

log = logging.getLogger(__name__)

UPLINK_SUMS = ("up_s", "observed_s", "samples")
WIFI_SERVICE = FIGURES["wifi.service"]
LIGHTING = FIGURES["lighting.availability"]
LIGHT_SUMS = ("expected_on_s", "lit_when_expected_s", "ok_s", "observed_s", "samples")
#: long enough to hold the last night: a lamp failure seen in the dark stays listed through the next day
FAULT_LOOKBACK_MS = 48 * 3_600_000
#: every window includes its start and excludes its end; how it was chosen is said in every answer
WINDOW_NOTES = {
    "request": "[start, end): the start and end of the request, or its defaults (docs/api.md)",
    "criterion": "[end - the criterion's window, end), end = the last whole hour (UTC): the hour still running "
                 "is left out; give start and end for another window",
}


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
        self._default: Evaluation | None = None
        self._default_lock = threading.Lock()

    # -- parameters that need the clock or the data ----------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def window(self, start: str | None, end: str | None, *, default_days: int | None = None) -> Window:
        return resolve_window(start, end, now=self.now(), zone=self.zone,
                              default=timedelta(days=default_days or self.config.default_window_days),
                              maximum=timedelta(days=self.config.max_window_days))

    def _wout(self, w: Window) -> m.WindowOut:
        return m.WindowOut(start=w.start, end=w.end, seconds=w.seconds, timezone=self.zone.key)

    def min_coverage(self, link: str) -> float:
        """The minimum coverage of the criteria on this link's availability (the default where none names it)."""
        levels = [c.min_coverage for c in self.criteria.criteria
                  if c.figure == "uplink.availability" and c.params.get("link") == link]
        return max(levels) if levels else Criterion.model_fields["min_coverage"].default

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
    def health(self, *, detailed: bool) -> tuple[bool, m.HealthOut]:
        started = time.perf_counter()
        influx: dict[str, Any] = {"url": self.config.influxdb.url, "database": self.config.influxdb.database}
        try:
            influx |= {"ok": True, "version": self.reader.client.ping()}
        except InfluxError as err:
            # the error text holds the address: logged, and shown only to key holders
            influx |= {"ok": False, "error": f"InfluxDB is unavailable ({type(err).__name__})"}
        influx["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
        ok = influx["ok"]
        status = "ok" if ok else "unavailable"
        if not detailed:
            return ok, m.HealthOut(status=status, version=__version__)
        rollups = self.rollups.describe() if self.config.rollups.enabled else None
        return ok, m.HealthOut(status=status, version=__version__, auth=self.auth_mode, timezone=self.zone.key,
                               influxdb=influx, rollups=rollups)

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
        where = [tag_equals("link", link)] if link else []
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
            a = _avail(total, window.seconds, self.min_coverage(name))
            steps = None
            if step:
                steps = [m.UptimeStep(start=iso(s), end=iso(e),
                                      **_avail(per_bucket.get(i, {}), (e - s) / 1000, self.min_coverage(name))
                                      .model_dump()) for i, (s, e) in enumerate(spans)]
            result.append(m.LinkUptime(link=name, steps=steps, **a.model_dump()))
        return m.UptimeOut(village=village, window=self._wout(window), step=step.text if step else None,
                           links=result, queries=sums.queries)

    def outages(self, village: str, window: Window, link: str | None) -> m.OutagesOut:
        links = self.require_link(village, link)
        before, inside = self.reader.events(Scope(village=village), window, link)
        sums = self.reader.sums(UPLINK.name, UPLINK_SUMS, Scope(village=village), window, group_by=("link",))
        prior = {r["link"]: fig.Event(int(r["time"]), r["state"], r.get("reason") or "") for r in before.rows}
        events: dict[str, list[fig.Event]] = defaultdict(list)
        for r in inside.rows:
            events[r["link"]].append(fig.Event(int(r["time"]), r["state"], r.get("reason") or ""))
        found, reliability = [], []
        for name in sorted(set(links) | set(prior) | set(events)):
            outs = fig.outages(name, prior.get(name), events.get(name, []), window.start_ms, window.end_ms)
            found += outs
            rel = fig.reliability(outs, window.start_ms, window.end_ms, up_s=sums.total((name,)).get("up_s", 0.0))
            reliability.append(m.LinkReliability(link=name, failures=rel.failures, restored=rel.restored,
                                                 downtime_s=rel.downtime_s, mtbf_s=rel.mtbf_s, mttr_s=rel.mttr_s))
        found.sort(key=lambda o: (o.start_ms, o.link))
        return m.OutagesOut(
            village=village, window=self._wout(window), links=reliability,
            outages=[m.OutageOut(link=o.link, start=iso(o.start_ms), end=iso(o.end_ms) if o.end_ms else None,
                                 open=o.open, started_before_window=o.started_before_window,
                                 duration_s=o.duration_s, in_window_s=o.in_window_s, reason=o.reason)
                     for o in found],
            queries=before.queries + inside.queries + sums.queries,
        )

    # -- summaries ----------------------------------------------------------------------------------------------
    def wifi(self, village: str, window: Window) -> m.WifiOut:
        scope = Scope(village=village)
        names = tuple(sum_.name for sum_ in WIFI_SERVICE.sums())
        sums = self.reader.sums(WIFI.name, names, scope, window, group_by=("ap",))
        per_ap = {ap: sums.total((ap,)) for (ap,) in sums.keys()}
        aps = [_wifi(ratio_evidence(WIFI_SERVICE, {"ap": ap}, {ap: values}, window), ap)
               for ap, values in per_ap.items()]
        daily = self.reader.wifi_daily(scope, window)
        use = fig.wifi_use([(int(r["time"]), r["users"]) for r in daily.rows if r.get("users") is not None],
                           local_days(window.start_ms, window.end_ms, self.zone), self.zone)
        return m.WifiOut(
            village=village, window=self._wout(window),
            service=_wifi(ratio_evidence(WIFI_SERVICE, {}, per_ap, window)), access_points=aps,
            use=m.WifiUseOut(days=[{"date": d.isoformat(), "unique_users": u} for d, u in use.days], weeks=use.weeks,
                             mean_daily_users=use.mean_daily_users, days_with_data=use.days_with_data,
                             coverage=use.coverage),
            queries=sums.queries + daily.queries,
        )

    def lighting(self, village: str, window: Window) -> m.LightingOut:
        scope = Scope(village=village)
        sums = self.reader.sums(STREETLIGHT.name, LIGHT_SUMS, scope, window, group_by=("light", "zone"))
        fault_window = Window(max(window.start_ms, window.end_ms - FAULT_LOOKBACK_MS), window.end_ms)
        latest, dark = self.reader.light_faults(scope, fault_window.start_ms, fault_window.end_ms)
        seen_dark = {r["light"]: r.get("fault") for r in dark.rows}
        # a lamp failure can only be seen in the dark: by day the latest report says nothing about the lamp, so
        # the last report taken in the dark stands until a later one in the dark shows it working
        last = {r["light"]: (r.get("fault") or seen_dark.get(r["light"]) or r.get("fault"),
                             None if r.get("online") is None else bool(r["online"])) for r in latest.rows}
        per_light = {k: sums.total(k) for k in sums.keys()}
        summary = fig.lighting(per_light, last, window.seconds)
        figure = ratio_evidence(LIGHTING, {}, {light: v for (light, _zone), v in per_light.items()}, window)
        return m.LightingOut(
            village=village, window=self._wout(window), availability_pct=figure.value,
            expected_on_s=summary.expected_on_s, lit_when_expected_s=summary.lit_when_expected_s,
            coverage=figure.coverage, samples=figure.samples,
            lights=[m.LightOut(**{k: getattr(s, k) for k in m.LightOut.model_fields}) for s in summary.lights],
            by_fault=summary.by_fault, fault_window=self._wout(fault_window),
            queries=sums.queries + latest.queries + dark.queries,
        )

    def modem(self, village: str, window: Window) -> m.ModemOut:
        scope = Scope(village=village)
        registered, rsrp = FIGURES["modem.registered_share"], FIGURES["modem.rsrp_share"]
        ladder = [{"rsrp_min_dbm": t} for t in RSRP_LADDER]
        names = tuple(dict.fromkeys([s.name for s in registered.sums()]
                                    + [s.name_for(p) for p in ladder for s in rsrp.sums()]))
        sums = self.reader.sums(MODEM.name, names, scope, window, group_by=("village",))
        hours = self.reader.hours_with_data(MODEM.name, MODEM.field("registered").name, scope, window)
        medians = self.reader.modem_medians(scope, window)
        t = {"": sums.total((village,))}
        h = hours.values.get((village,), 0)
        reg = ratio_evidence(registered, {}, t, window, hours=h)
        return m.ModemOut(
            village=village, window=self._wout(window), registered_pct=reg.value,
            rsrp_share_pct={str(p["rsrp_min_dbm"]): ratio_evidence(rsrp, p, t, window, hours=h).value
                            for p in ladder},
            coverage=reg.coverage, samples=reg.samples, hours_with_data=h,
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
        windows = {c.id: Window(now_ms - c.window_s * 1000, now_ms)
                   for c in self.criteria.criteria}
        return "criterion", lambda c: windows[c.id]

    def village_criteria(self, village: str, start: str | None, end: str | None) -> m.VillageCriteriaOut:
        rule, window_for = self._window_for(start, end)
        results = evaluate(self.criteria.criteria, self.reader, Scope(village=village), [village], window_for)
        verdicts = [results[c.id][village] for c in self.criteria.criteria]
        return m.VillageCriteriaOut(village=village, window_rule=rule, timezone=self.zone.key,
                                    criteria=[self._verdict_out(v, rule) for v in verdicts],
                                    counts=_counts(v.verdict for v in verdicts))

    def default_evaluation(self) -> Evaluation:
        """Every village's verdicts over the criteria's default windows, evaluated once an hour (the windows end at
        the last whole hour, so they change only then) and shared by every roll-up that asks for them: a
        province's overview is then a filter, not 2,000 villages read again. Late data for the past hour shows
        at the next hour."""
        _, window_for = self._window_for(None, None)
        hour_ms = floor_hour(int(self.now().timestamp() * 1000))
        with self._default_lock:
            if self._default is None or self._default.hour_ms != hour_ms:
                places = {r["village"]: r for r in self.reader.places(Scope()).rows}
                results = evaluate(self.criteria.criteria, self.reader, Scope(), places, window_for)
                self._default = Evaluation(hour_ms, places, results, window_for)
            return self._default

    def keep_warm(self, stop: threading.Event) -> None:
        """Evaluate the default roll-up at start and soon after each whole hour, so no official waits for it."""
        while not stop.is_set():
            try:
                self.default_evaluation()
                now = self.clock()
                wait = 3600 - now % 3600 + 90  # after the hour's first rollup pass had its chance
            except InfluxError as err:
                log.warning("criteria: the default roll-up could not be evaluated", extra={"error": str(err)})
                wait = 60
            stop.wait(wait)

    def _evaluation(self, scope: Scope, start: str | None, end: str | None) -> Evaluation:
        if start or end:
            _, window_for = self._window_for(start, end)
            places = {r["village"]: r for r in self.reader.places(scope).rows}
            if not places and _first_filter(scope):
                raise NotFound(self._nothing_matches(scope), parameter=_first_filter(scope))
            return Evaluation(0, places, evaluate(self.criteria.criteria, self.reader, scope, places, window_for),
                              window_for)
        whole = self.default_evaluation()
        places = {v: p for v, p in whole.places.items() if scope.holds(p)}
        if not places and _first_filter(scope):
            raise NotFound(self._nothing_matches(scope), parameter=_first_filter(scope))
        results = {cid: {v: verdict for v, verdict in per.items() if v in places or not _first_filter(scope)}
                   for cid, per in whole.results.items()}
        return Evaluation(whole.hour_ms, places, results, whole.window_for)

    def rollup_criteria(self, scope: Scope, start: str | None, end: str | None) -> m.CriteriaRollupOut:
        rule = "request" if start or end else "criterion"
        evaluation = self._evaluation(scope, start, end)
        places, results, window_for = evaluation.places, evaluation.results, evaluation.window_for
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

    def _nothing_matches(self, scope: Scope) -> str:
        known = self.reader.places(Scope()).rows
        parts = []
        for level in ("province", "district", "commune"):
            wanted = getattr(scope, level)
            if wanted:
                names = sorted({r[level] for r in known if r.get(level)})
                parts.append(f"{level} {wanted!r} (known: {', '.join(names) or 'none'})")
        return "no village matches " + " and ".join(parts)

    def _verdict_out(self, v: Verdict, rule: str) -> m.CriterionVerdictOut:
        ev = v.evidence
        return m.CriterionVerdictOut(
            **_criterion(v.criterion), verdict=v.verdict,
            evidence=m.EvidenceOut(value=ev.value, unit=ev.unit, coverage=ev.coverage, samples=ev.samples,
                                   window=self._wout(ev.window), window_rule=WINDOW_NOTES[rule],
                                   queries=list(ev.queries),
                                   detail=dict(ev.detail)),
        )


def _avail(sums: dict[str, float], window_s: float, min_coverage: float) -> m.AvailabilityOut:
    a = fig.availability(sums.get("up_s", 0.0), sums.get("observed_s", 0.0), sums.get("samples", 0), window_s)
    return m.AvailabilityOut(availability_pct=a.availability_pct, up_s=a.up_s, down_s=a.down_s,
                             unknown_s=a.unknown_s, observed_s=a.observed_s, coverage=a.coverage, samples=a.samples,
                             min_coverage=min_coverage,
                             enough_data=a.availability_pct is not None and a.coverage >= min_coverage)


def _wifi(ev: Evidence, ap: str | None = None) -> m.WifiServiceOut:
    d = ev.detail
    return m.WifiServiceOut(ap=ap, availability_pct=ev.value, coverage=ev.coverage, samples=ev.samples,
                            basis="opening_hours" if d.get("basis") == "ratio" else "all_hours",
                            **{k: d.get(k, 0.0) for k in ("up_s", "observed_s", "open_s", "up_open_s")})


def _criterion(c: Criterion) -> dict:
    return {"id": c.id, "title": c.title.model_dump(), "figure": c.figure, "params": dict(c.params),
            "comparator": c.comparator, "threshold": c.threshold, "unit": c.unit, "min_coverage": c.min_coverage,
            "window": c.window}


def _first_filter(scope: Scope) -> str | None:
    return next((level for level in ("province", "district", "commune") if getattr(scope, level)), None)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Verdicts of every criterion for the villages of a scope, with their places and the windows used."""

    hour_ms: int
    places: dict[str, dict[str, Any]]
    results: dict[str, dict[str, Verdict]]
    window_for: Callable[[Criterion], Window]


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
