"""The text of ``thonminh demo``'s report: criteria verdicts with evidence, ground truth beside the measurements.

Pure but for where its own ``thonminh`` is installed: takes the scenario's ``ground_truth.json`` and the criteria
service's JSON answers, returns text.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from lab.simulate.gatewayconf import LIVE_INTERVAL_S
from server.pages.i18n import Lang
from server.timeparse import ms_of
from server.verification_view import summarise

__all__ = ["criteria_url", "iso_utc", "render_report"]

_WIDTH = 100
#: the pages' English formats: a figure reads here as on the village page and in the dossier, by one rounding rule
_EN = Lang("en", ZoneInfo("UTC"))


def _commands() -> str:
    """`` PATH=...`` putting this ``thonminh`` first, for the drill's ``thonminh verify``: ``make setup`` installs
    it in the project's .venv, which a new shell does not have on its PATH."""
    found = Path(sys.executable).parent
    return f' PATH="{found}:$PATH"' if (found / "thonminh").exists() else ""


def _clock(ms: float, tz: ZoneInfo, *, seconds: bool = True) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz)
    return moment.strftime("%H:%M:%S" if seconds else "%H:%M")


def _on(api: dict[str, Any], figure: str, **params: Any) -> dict[str, Any]:
    """The village's criterion on ``figure`` with ``params``, whose threshold the figure is written beside; ``{}``
    without one."""
    return next(
        (c for c in api["criteria"]["criteria"] if c["figure"] == figure and c["params"] == params), {}
    )


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _criteria(api: dict[str, Any]) -> list[str]:
    rows = [
        f"  {'criterion':<20} {'verdict':<18} {'measured':>14}  {'threshold':<16} {'coverage':>8} {'samples':>7}"
    ]
    evidence = []
    verdicts: dict[str, int] = {}
    for c in api["criteria"]["criteria"]:
        e = c["evidence"]
        verdicts[c["verdict"]] = verdicts.get(c["verdict"], 0) + 1
        rows.append(
            f"  {c['id']:<20} {c['verdict'].upper():<18} {_EN.value(e['value'], e['unit'], c['threshold']):>14}  "
            f"{_EN.threshold(c['comparator'], c['threshold'], c['unit']):<16} "
            f"{_EN.share(e['coverage'], c['min_coverage']):>8} {e['samples']:>7}"
        )
        detail = ", ".join(
            f"{k}={round(v, 1) if isinstance(v, float) else v}" for k, v in e["detail"].items()
        )
        evidence.append(f"  {c['id']} ({c['title']['en']}; {c['title']['vi']})")
        if detail:
            evidence.append(f"      {_short(detail, _WIDTH - 6)}")
        for query in e["queries"][:1]:
            evidence.append(f"      {_short(query, _WIDTH - 6)}")
        if len(e["queries"]) > 1:
            evidence.append(f"      (+{len(e['queries']) - 1} more queries in the API answer)")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(verdicts.items()))
    return [
        "Criteria (defaults of thonminh/criteria.yaml; the levels are ours, the national criteria give none)",
        *rows,
        f"  => {summary}",
        "",
        "Evidence (value, coverage and the InfluxQL behind each verdict)",
        *evidence,
    ]


def _spans(items: list[dict[str, Any]], tz: ZoneInfo, start_ms: float, end_ms: float, t0_ms: float) -> str:
    out = []
    for item in items:
        a = t0_ms + item["start_s"] * 1000
        b = None if item.get("end_s") is None else t0_ms + item["end_s"] * 1000
        if a >= end_ms:
            continue
        if b is None or b > end_ms:
            out.append(f"{_clock(a, tz)}–(still at the report)")
        else:
            out.append(f"{_clock(a, tz)}–{_clock(b, tz)} ({(b - a) / 1000:.0f} s)")
    return ", ".join(out) or "none"


def _outages(
    truth: dict[str, Any], api: dict[str, Any], tz: ZoneInfo, start_ms: float, end_ms: float
) -> list[str]:
    lines = []
    measured: dict[str, list[str]] = {}
    for o in api["outages"]["outages"]:
        a = ms_of(o["start"])
        text = (
            f"{_clock(a, tz)}–(open)"
            if o["open"]
            else f"{_clock(a, tz)}–{_clock(ms_of(o['end']), tz)} ({o['duration_s']:.0f} s)"
        )
        measured.setdefault(o["link"], []).append(text)
    for link, spans in truth["outages"].items():
        lines.append(
            f"  {link + ' outages':<16}scheduled {_spans(spans, tz, start_ms, end_ms, truth['t0_ms'])}"
        )
        lines.append(f"  {'':<16}measured  {', '.join(measured.get(link, [])) or 'none'}")
    return lines


def _lights(truth: dict[str, Any], api: dict[str, Any], tz: ZoneInfo, end_ms: float) -> list[str]:
    lighting = api["lighting"]
    per_light = {x["light"]: x for x in lighting["lights"]}
    t0 = truth["t0_ms"]
    threshold = _on(api, "lighting.availability").get("threshold")
    lines = [
        f"  {'lighting':<16}{truth['lights']['count']} lights "
        + "("
        + ", ".join(f"{n} {k}" for k, n in sorted(truth["lights"]["by_format"].items()))
        + "); "
        + "expected on "
        + (_spans(truth["expected_on"], tz, 0, end_ms, t0) or "never")
    ]
    for fault in truth["light_faults"]:
        if t0 + fault["start_s"] * 1000 >= end_ms:
            continue
        got = per_light.get(fault["light"], {})
        lit = _EN.value(got.get("availability_pct"), "%", threshold)
        ok = _EN.value(got.get("ok_pct"), "%")
        lines.append(
            f"  {'':<16}{fault['light']} {fault['fault']:<13} planned {_spans([fault], tz, 0, end_ms, t0)}; "
            f"measured: lit {lit} of its scheduled time, as scheduled {ok} of the time, "
            f"last report {got.get('fault') or 'no fault'}"
        )
    now = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(lighting["by_fault"].items())) or "none"
    lines.append(f"  {'':<16}faults in the lights' last reports: {now}")
    return lines


def _wifi(truth: dict[str, Any], api: dict[str, Any], tz: ZoneInfo) -> list[str]:
    # a day's count is rewritten as the day goes on: asked at ``asked_ms``, it holds every device that arrived
    # one poll and one forward before, and may hold those that arrived up to the answer; those are said apart,
    # not counted as missed
    wifi = truth["wifi"]
    asked_ms, answered_ms = api["wifi_read_ms"]
    lag_s = wifi.get("interval_s", 0.0) + LIVE_INTERVAL_S
    seen_by_ms = asked_ms - lag_s * 1000

    def arrived(until_ms: float) -> list[dict[str, Any]]:
        return [v for v in wifi.get("visits", []) if truth["t0_ms"] + v["arrive_s"] * 1000 < until_ms]

    seen = arrived(seen_by_ms)
    late = {v["mac"] for v in arrived(answered_ms)} - {v["mac"] for v in seen}
    days = api["wifi"]["use"]["days"]
    measured = days[-1]["unique_users"] if days else None
    line = (
        f"  {'Wi-Fi users':<16}simulated by {_clock(seen_by_ms, tz)}: {len(seen)} visits by "
        f"{len({v['device'] for v in seen})} devices showing {len({v['mac'] for v in seen})} MAC addresses "
        f"(phones with random MACs show a new one each visit); measured "
        f"{measured if measured is not None else 'no'} unique users today at {_clock(asked_ms, tz)}"
    )
    if not late:
        return [line]
    return [
        line,
        f"  {'':<16}and {len(late)} more MAC address(es) since, within one poll and one forward "
        f"({lag_s:g} s) of the count: it may not hold them yet",
    ]


def _modem(truth: dict[str, Any], api: dict[str, Any], end_ms: float) -> list[str]:
    steps = [s for s in truth["modem"]["signal"] if truth["t0_ms"] + s["at_s"] * 1000 < end_ms]
    if not steps:
        return []
    profile = ", ".join(f"{s['rsrp_dbm']:.0f} dBm from +{s['at_s']:.0f} s" for s in steps)
    share = api["modem"]["rsrp_share_pct"].get("-110")
    threshold = _on(api, "modem.rsrp_share", rsrp_min_dbm=-110).get("threshold")
    return [
        f"  {'4G signal':<16}scheduled RSRP {profile}; measured {_EN.value(share, '%', threshold)} of "
        f"{api['modem']['samples']} readings at or above -110 dBm"
    ]


def _verification(api: dict[str, Any], tz: ZoneInfo) -> list[str]:
    """The criteria's verification summed up as the village page and the dossier show it."""
    s = summarise(api["criteria"]["criteria"])
    if not s.configured:
        return ["  status           not configured (the service has no key registry)"]
    share = (
        "no gateway sample"
        if s.verified_pct is None
        else f"verified {_EN.verified(s.verified_pct, s.min_verified_pct)}"
    )
    minimum = f" (minimum {_EN.value(s.min_verified_pct, '%')})" if s.min_verified_pct is not None else ""
    faults = (
        ", ".join(
            f"{f.kind} {f.gateway} {_clock(ms_of(f.start), tz)}–{_clock(ms_of(f.end), tz)}" for f in s.faults
        )
        or "none"
    )
    lines = [f"  status           {s.status}: {share} of the signed points{minimum}; faults: {faults}"]
    lines += [
        f"  key              {k.gateway} {k.grouped}{' (the service, manual indicators)' if k.of_service else ''}, "
        "valid from "
        f"{_clock(ms_of(k.valid_from), tz) if k.valid_from else '–'}, "
        f"{'until ' + _clock(ms_of(k.valid_until), tz) if k.valid_until else 'current'}"
        for k in s.keys
    ]
    return lines


def iso_utc(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def criteria_url(base: str, village: str, start_ms: float, end_ms: float) -> str:
    """The API call whose answer the report's verdicts are: the same window, given explicitly."""
    return f"{base}/villages/{village}/criteria?{urlencode({'start': iso_utc(start_ms), 'end': iso_utc(end_ms)})}"


def render_report(
    *,
    truth: dict[str, Any],
    api: dict[str, Any],
    start_ms: float,
    end_ms: float,
    base: str,
    read_key: str,
    admin_key: str,
    work: Path,
    work_kept: bool,
    influx_url: str = "",
    database: str = "",
    commune: str = "",
) -> str:
    """The whole report as text."""
    tz = ZoneInfo(truth.get("timezone", "Asia/Ho_Chi_Minh"))
    village = truth["village"]
    offset = datetime.fromtimestamp(end_ms / 1000, tz).strftime("%z")
    head = f" thonminh demo: {truth.get('name', village)} ({village}) "
    lines = [
        "",
        f"{head:=^{_WIDTH}}",
        f"Scenario {truth['scenario']!r}, seed {truth['seed']}: simulated street lights, fiber and 4G uplinks, a 4G "
        "modem and the cultural house's Wi-Fi.",
        f"Window: {datetime.fromtimestamp(start_ms / 1000, tz):%Y-%m-%d %H:%M:%S} to {_clock(end_ms, tz)} "
        f"(UTC{offset[:3]}:{offset[3:]}): {(end_ms - start_ms) / 1000:.0f} s from the scenario's time 0 "
        f"{'' if start_ms == truth['t0_ms'] else '(here: the gateway started later) '}to the last tracker interval.",
        "",
        *_criteria(api),
        "",
        "What happened (the scenario's ground truth) and what the gateway measured (from the API)",
        *_outages(truth, api, tz, start_ms, end_ms),
        *_lights(truth, api, tz, end_ms),
        *_wifi(truth, api, tz),
        *_modem(truth, api, end_ms),
        "",
        "Verification (the gateway signs every batch; the service checks each point: docs/evidence.md)",
        *_verification(api, tz),
        "",
        "The API",
        f"  docs (OpenAPI)   {base}/docs",
        f"  read key         {read_key}   (send it as the X-API-Key header)",
        f"  admin key        {admin_key}   (PUT .../indicators/..., or sign in with it on the pages)",
        "  these verdicts   "
        + f"curl -H 'X-API-Key: {read_key}' '{criteria_url(base, village, start_ms, end_ms)}'",
        "  (without start and end each criterion takes its own window, ending at the last whole hour: see "
        "docs/api.md)",
        "  endpoints        " + f"{base}/villages/{village}/criteria",
    ]
    for path in ("uptime?step=1m&start=-15m", "outages", "lighting", "wifi", "modem"):
        lines.append(f"                   {base}/villages/{village}/{path}")
    lines += [
        f"                   {base}/criteria?province=<slug>   {base}/health",
        f"  files            {work} (gateway.toml and ground_truth.json in village/, logs in logs/; "
        + (
            "kept after the demo)"
            if work_kept
            else "removed when the demo stops: give --workdir to keep them)"
        ),
    ]
    site = base.removesuffix("/api/v1")
    window = urlencode({"start": iso_utc(start_ms), "end": iso_utc(end_ms)})
    dossier = f"{base}/villages/{village}/report.pdf?{window}"
    lines += [
        "",
        "Pages (sign in once with the read key, or the admin key to enter a manual indicator; docs/pages.md)",
        f"  village page     {site}/pages/villages/{village}?{window}",
        f"  public status    {site}/pages/status/{village}",
        *(
            [f"  commune's table  {site}/pages/communes/{commune}/indicators   (admin key)"]
            if commune
            else []
        ),
        "",
        "The dossier: these verdicts as the PDF for the commune's file (docs/report.md)",
        f"  dossier          {dossier}",
        "                   (opens in a browser signed in on the pages; a past month: ?month=YYYY-MM)",
        f"  download         curl -H 'X-API-Key: {read_key}' -o dossier.pdf '{dossier}'",
    ]
    lines += [
        "",
        "Tamper drill (docs/evidence.md): in another shell, set these, then follow the drill",
        f"  export INFLUX={influx_url} DB={database} API={base} KEY={read_key} VILLAGE={village} "
        f"START={iso_utc(start_ms)} END={iso_utc(end_ms)} SERVER_TOML={work / 'server.toml'}{_commands()}",
    ]
    lines.append("=" * _WIDTH)
    return "\n".join(lines)
