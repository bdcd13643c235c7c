"""The village's Wi-Fi, street lighting and 4G modem, each figure by its description in ``thonminh.figures``."""

from __future__ import annotations

from server import figures as fig
from server import models as m
from server.catalog import Evidence, ratio_evidence
from server.plan import local_days
from server.queries import Scope
from server.service import Service
from server.timeparse import Window
from thonminh.contract import MODEM, STREETLIGHT, WIFI
from thonminh.figures import FIGURES, LIGHT_FAULT_LOOKBACK_S, RSRP_LADDER

__all__ = ["lighting", "modem", "wifi"]

WIFI_SERVICE = FIGURES["wifi.service"]
LIGHTING = FIGURES["lighting.availability"]
LIGHT_SUMS = ("expected_on_s", "lit_when_expected_s", "ok_s", "observed_s", "samples")


def wifi(service: Service, village: str, window: Window) -> m.WifiOut:
    scope = Scope(village=village)
    names = tuple(sum_.name for sum_ in WIFI_SERVICE.sums())
    sums = service.reader.sums(WIFI.name, names, scope, window, group_by=("ap",))
    per_ap = {ap: sums.total((ap,)) for (ap,) in sums.keys()}
    aps = [
        _wifi(ratio_evidence(WIFI_SERVICE, {"ap": ap}, {ap: values}, window), ap)
        for ap, values in per_ap.items()
    ]
    daily = service.reader.wifi_daily(scope, window)
    use = fig.wifi_use(
        [(int(r["time"]), r["users"]) for r in daily.rows if r.get("users") is not None],
        local_days(window.start_ms, window.end_ms, service.reader.daily_zone),
        service.reader.daily_zone,
    )
    return m.WifiOut(
        village=village,
        window=service.window_out(window),
        service=_wifi(ratio_evidence(WIFI_SERVICE, {}, per_ap, window)),
        access_points=aps,
        use=m.WifiUseOut(
            days=[{"date": d.isoformat(), "unique_users": u} for d, u in use.days],
            weeks=use.weeks,
            mean_daily_users=use.mean_daily_users,
            days_with_data=use.days_with_data,
            coverage=use.coverage,
        ),
        queries=sums.queries + daily.queries,
    )


def lighting(service: Service, village: str, window: Window) -> m.LightingOut:
    scope = Scope(village=village)
    sums = service.reader.sums(STREETLIGHT.name, LIGHT_SUMS, scope, window, group_by=("light", "zone"))
    fault_window = Window(max(window.start_ms, window.end_ms - LIGHT_FAULT_LOOKBACK_S * 1000), window.end_ms)
    latest, dark = service.reader.light_faults(scope, fault_window.start_ms, fault_window.end_ms)
    seen_dark = {r["light"]: r.get("fault") for r in dark.rows}
    # a lamp failure can only be seen in the dark: by day the latest report says nothing about the lamp, so
    # the last report taken in the dark stands until a later one in the dark shows it working
    last = {
        r["light"]: (
            r.get("fault") or seen_dark.get(r["light"]) or r.get("fault"),
            None if r.get("online") is None else bool(r["online"]),
        )
        for r in latest.rows
    }
    per_light = {(k[0], k[1]): sums.total(k) for k in sums.keys()}
    summary = fig.lighting(per_light, last, window.seconds)
    figure = ratio_evidence(LIGHTING, {}, {light: v for (light, _zone), v in per_light.items()}, window)
    return m.LightingOut(
        village=village,
        window=service.window_out(window),
        availability_pct=figure.value,
        expected_on_s=summary.expected_on_s,
        lit_when_expected_s=summary.lit_when_expected_s,
        coverage=figure.coverage,
        samples=figure.samples,
        lights=[m.LightOut(**{k: getattr(s, k) for k in m.LightOut.model_fields}) for s in summary.lights],
        by_fault=summary.by_fault,
        fault_window=service.window_out(fault_window),
        queries=sums.queries + latest.queries + dark.queries,
    )


def modem(service: Service, village: str, window: Window) -> m.ModemOut:
    scope = Scope(village=village)
    registered, rsrp = FIGURES["modem.registered_share"], FIGURES["modem.rsrp_share"]
    ladder = [{"rsrp_min_dbm": t} for t in RSRP_LADDER]
    names = tuple(
        dict.fromkeys(
            [s.name for s in registered.sums()] + [s.name_for(p) for p in ladder for s in rsrp.sums()]
        )
    )
    sums = service.reader.sums(MODEM.name, names, scope, window, group_by=("village",))
    hours = service.reader.hours_with_data(MODEM.name, MODEM.field("registered").name, scope, window)
    medians = service.reader.modem_medians(scope, window)
    t = {"": sums.total((village,))}
    h = hours.values.get((village,), 0)
    reg = ratio_evidence(registered, {}, t, window, hours=h)
    return m.ModemOut(
        village=village,
        window=service.window_out(window),
        registered_pct=reg.value,
        rsrp_share_pct={
            str(p["rsrp_min_dbm"]): ratio_evidence(rsrp, p, t, window, hours=h).value for p in ladder
        },
        coverage=reg.coverage,
        samples=reg.samples,
        hours_with_data=h,
        medians=[{k: v for k, v in r.items() if k != "time"} for r in medians.rows],
        queries=sums.queries + hours.queries + medians.queries,
    )


def _wifi(ev: Evidence, ap: str | None = None) -> m.WifiServiceOut:
    d = ev.detail
    return m.WifiServiceOut(
        ap=ap,
        availability_pct=ev.value,
        coverage=ev.coverage,
        samples=ev.samples,
        basis=d.get("basis", "all_hours"),
        **{k: d.get(k, 0.0) for k in ("up_s", "observed_s", "open_s", "up_open_s")},
    )
