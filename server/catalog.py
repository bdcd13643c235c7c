"""The figures a criterion can name, for one village or many at once: what each reads and how it computes.

Each figure returns, per village, an ``Evidence``: the value, coverage, samples, window and the InfluxQL
that produced it. Reads go through ``Reader`` (aggregated in InfluxDB) and are shared between figures of one
evaluation (fiber and 4G availability come from one query).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from server import figures as fig
from server.plan import local_days
from server.queries import Scope
from server.reader import Reader, Sums
from server.rollups import RSRP_LADDER
from server.timeparse import Window
from thonminh.contract import MODEM, STREETLIGHT, UPLINK, WIFI
from thonminh.influx import quote_ident, quote_literal

__all__ = ["FIGURES", "Evidence", "FigureDef", "FigureReader", "Param"]


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
        self._memo: dict[tuple, Any] = {}
        self._locks: dict[tuple, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def _once(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks[key]
        with lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def sums(self, measurement: str, names: Sequence[str], scope: Scope, window: Window,
             group_by: Sequence[str], where: Sequence[str] = ()) -> Sums:
        key = ("sums", measurement, tuple(names), scope, window, tuple(group_by), tuple(where))
        return self._once(key, lambda: self.reader.sums(measurement, names, scope, window, group_by=group_by,
                                                        where=where))

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        key = (name, args, tuple(sorted(kwargs.items())))
        return self._once(key, lambda: getattr(self.reader, name)(*args, **kwargs))


@dataclass(frozen=True, slots=True)
class Param:
    kind: type
    required: bool = True
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None


#: A figure for every village of a scope that has data, and the queries that produced it (even if none has).
Found = tuple[dict[str, Evidence], tuple[str, ...]]
Compute = Callable[[FigureReader, Scope, Window, Mapping[str, Any]], Found]


@dataclass(frozen=True, slots=True)
class FigureDef:
    name: str
    unit: str
    description: str
    params: Mapping[str, Param]
    compute: Compute


def _ap_filter(params: Mapping[str, Any]) -> tuple[str, ...]:
    ap = params.get("ap")
    return (f"{quote_ident('ap')} = {quote_literal(ap)}",) if ap else ()


def _uplink_availability(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
    names = ("up_s", "observed_s", "samples")
    sums = r.sums(UPLINK.name, names, scope, window, ("village", "link"))
    out = {}
    for (village, link) in sums.keys():
        if link != p["link"]:
            continue
        t = sums.total((village, link))
        a = fig.availability(t.get("up_s", 0.0), t.get("observed_s", 0.0), t.get("samples", 0), window.seconds)
        out[village] = Evidence(a.availability_pct, "%", a.coverage, a.samples, window, tuple(sums.queries),
                                {"up_s": a.up_s, "down_s": a.down_s, "unknown_s": a.unknown_s})
    return out, tuple(sums.queries)


def _wifi_service(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
    names = ("up_s", "observed_s", "open_s", "up_open_s", "samples")
    sums = r.sums(WIFI.name, names, scope, window, ("village",), _ap_filter(p))
    out = {}
    for (village,) in sums.keys():
        w = fig.wifi_service(sums.total((village,)), window.seconds)
        out[village] = Evidence(w.availability_pct, "%", w.coverage, w.samples, window, tuple(sums.queries),
                                {"basis": w.basis})
    return out, tuple(sums.queries)


def _wifi_daily_users(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
    rows = r.call("wifi_daily", scope, window, ap=p.get("ap"))
    daily: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in rows.rows:
        if row.get("users") is not None:
            daily[row["village"]].append((int(row["time"]), row["users"]))
    out = {}
    for village, days in daily.items():
        use = fig.wifi_use(days, local_days(window.start_ms, window.end_ms, r.reader.zone), r.reader.zone)
        out[village] = Evidence(use.mean_daily_users, "users/day", use.coverage, use.days_with_data, window,
                                tuple(rows.queries), {"days_with_data": use.days_with_data})
    return out, tuple(rows.queries)


def _lighting(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
    names = ("expected_on_s", "lit_when_expected_s", "ok_s", "observed_s", "samples")
    sums = r.sums(STREETLIGHT.name, names, scope, window, ("village", "light", "zone"))
    per_village: dict[str, dict[tuple[str, str], Mapping[str, float]]] = defaultdict(dict)
    for (village, light, zone) in sums.keys():
        per_village[village][(light, zone)] = sums.total((village, light, zone))
    out = {}
    for village, lights in per_village.items():
        summary = fig.lighting(lights, {}, window.seconds)
        out[village] = Evidence(summary.availability_pct, "%", summary.coverage, summary.samples, window,
                                tuple(sums.queries), {"lights": len(lights)})
    return out, tuple(sums.queries)


def _modem(value: Callable[[Mapping[str, float], Mapping[str, Any]], float | None],
           names: Callable[[Mapping[str, Any]], tuple[str, ...]]) -> Compute:
    def compute(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
        sums = r.sums(MODEM.name, names(p), scope, window, ("village",))
        hours = r.call("hours_with_data", MODEM.name, MODEM.field("registered").name, scope, window)
        window_h = window.seconds / 3600
        out = {}
        for (village,) in sums.keys():
            t = sums.total((village,))
            coverage = min(1.0, hours.values.get((village,), 0) / window_h) if window_h else 0.0
            out[village] = Evidence(value(t, p), "%", coverage, int(t.get("samples", t.get("rsrp_samples", 0))),
                                    window, tuple(sums.queries) + tuple(hours.queries),
                                    {"hours_with_data": hours.values.get((village,), 0)})
        return out, tuple(sums.queries) + tuple(hours.queries)

    return compute


def _indicator(r: FigureReader, scope: Scope, window: Window, p: Mapping[str, Any]) -> Found:
    rows = r.call("indicator", scope, window, p["indicator"])
    out = {}
    for row in rows.rows:
        if row.get("value") is None:
            continue
        out[row["village"]] = Evidence(float(row["value"]), row.get("unit") or "", 1.0, int(row.get("points") or 0),
                                       window, tuple(rows.queries), {"source": row.get("source")})
    return out, tuple(rows.queries)


_SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

FIGURES: dict[str, FigureDef] = {
    f.name: f
    for f in (
        FigureDef("uplink.availability", "%", "sum(up_s)/sum(observed_s) of one link",
                  {"link": Param(str, pattern=_SLUG)}, _uplink_availability),
        FigureDef("wifi.service", "%", "Wi-Fi service: opening hours when reported, else all hours",
                  {"ap": Param(str, required=False, pattern=_SLUG)}, _wifi_service),
        FigureDef("wifi.daily_users", "users/day", "mean unique users per local day (wifi_daily)",
                  {"ap": Param(str, required=False, pattern=_SLUG)}, _wifi_daily_users),
        FigureDef("lighting.availability", "%", "sum(lit_when_expected_s)/sum(expected_on_s), all lights",
                  {}, _lighting),
        FigureDef("modem.registered_share", "%", "share of modem readings registered (home or roaming)", {},
                  _modem(lambda t, p: fig.percent(t.get("registered", 0.0), t.get("samples", 0.0)),
                         lambda p: ("registered", "samples"))),
        FigureDef("modem.rsrp_share", "%", "share of RSRP readings at or above rsrp_min_dbm",
                  {"rsrp_min_dbm": Param(int, choices=RSRP_LADDER)},
                  _modem(lambda t, p: fig.rsrp_share(t, p["rsrp_min_dbm"]),
                         lambda p: ("rsrp_samples", f"rsrp_ge_{-p['rsrp_min_dbm']}"))),
        FigureDef("indicator.value", "", "the latest manual indicator value in the window",
                  {"indicator": Param(str, pattern=r"^[a-z][a-z0-9_]{0,63}$")}, _indicator),
    )
}
