"""One figure, everywhere (issue 16): the criteria service and Grafana give the same value and verdict.

On one InfluxDB seeded with villages of known ground truth (cross_seed.py), for every criterion (the shipped
ones and this test's own, which add ``modem.registered_share``, an access point parameter and every
comparator) and every village:

- over a window neither of whose ends is on an hour and with bad samples stamped exactly at its end, the API's
  value equals the figure statement's (the generated InfluxQL the figure panels use, interpolated as Grafana
  does for that village and range) to 0.01 percentage points, both equal the figure recomputed from the
  points, and so do their coverages;
- once the service has published its hourly evaluation (``server.verdicts.publish``), the verdict panel's
  state (the colour of query A's value by the panel's thresholds, else the grey "insufficient data" of query
  B) and the coverage panel's number are the API's default answer, and each criterion's alert rule fires for
  exactly the villages that answer says fail.

The API runs in-process on raw samples and on its hourly rollups.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import cross_seed as cs
import pytest
from dash_alerts import evaluate
from fastapi.testclient import TestClient
from grafana_macros import TemplateVar, interpolate
from influxkit import scratch_database

from dashboards.alerts import ALERT_RULES, criterion_rule
from dashboards.boards import lighting as lighting_board
from dashboards.boards import village as village_board
from dashboards.criteria import CRITERIA, coverage_panel, verdict_panel, verified_panel
from dashboards.figures import FigureQuery
from dashboards.influxql import VILLAGE_SCOPE
from dashboards.model import Panel, Query, Threshold, threshold_color
from lab.localservices import InfluxDBServer
from server.app import create_app
from server.config import ServerConfig
from server.evidence_display import ensure_retention_policy
from server.pages.daily import daily_values
from server.timeparse import Window, floor_hour, iso
from server.verdicts import publish
from thonminh.criteria import CriteriaSet, Criterion
from thonminh.display import VERDICT_COLOURS
from thonminh.influx import InfluxClient, StatementResult
from thonminh.lineprotocol import encode_lines

PP = 0.01  # percentage points (and units of the other figures)
#: the verdict a threshold's colour shows: the pages' and the dossier's green and red (thonminh/display.py)
DECIDED = {VERDICT_COLOURS[v].colour: v for v in ("pass", "fail")}
READ = {"X-API-Key": "cross-surface-read-key-0123"}


def _criterion(
    cid: str,
    figure: str,
    comparator: str,
    threshold: float,
    *,
    min_coverage: float = 0.5,
    window: str = "2d",
    **params: Any,
) -> Criterion:
    return Criterion.model_validate(
        {
            "id": cid,
            "title": {"vi": cid, "en": cid},
            "figure": figure,
            "params": params,
            "comparator": comparator,
            "threshold": threshold,
            "window": window,
            "min_coverage": min_coverage,
        }
    )


#: the shipped criteria, and ours: every figure (modem.registered_share has no shipped criterion), the optional
#: ``ap`` parameter, every comparator; 2-day windows so that their alert rules decide on the seeded data
OWN = (
    _criterion("modem_registered", "modem.registered_share", ">=", 97.0),
    _criterion("wifi_school", "wifi.service", ">", 99.0, min_coverage=0.8, ap="school"),
    _criterion("wifi_use_house", "wifi.daily_users", ">=", 35.0, ap="cultural-house"),
    _criterion("fiber_short", "uplink.availability", "<", 99.0, min_coverage=0.8, link="fiber"),
    _criterion("signal_weak", "modem.rsrp_share", "<=", 60.0, rsrp_min_dbm=-110),
    _criterion("eid_exact", "indicator.value", "==", 31.5, min_coverage=0.0, indicator="eid_adoption_pct"),
    _criterion("lighting_short", "lighting.availability", ">=", 99.0, min_coverage=0.8),
)
CRITERIA_SET = CriteriaSet(criteria=[*CRITERIA.criteria, *OWN])
ALL = CRITERIA_SET.criteria
POINTS = cs.all_points()


@pytest.fixture(scope="module")
def cross_db(influxdb: InfluxDBServer) -> Iterator[InfluxClient]:
    with scratch_database(influxdb, "cross", timeout=60) as client:
        # as the service makes it: the verdict panels read it, empty here
        ensure_retention_policy(client, client.database)
        client.write(encode_lines(POINTS))
        yield client


class AskedOnce:
    """``cross_db`` as the Grafana side reads it: each query asked of InfluxDB once in the module. The API's raw
    and rollups runs compare with the same answers: Grafana reads only the points, which neither run changes
    (the rollups go to the service's own retention policy and ``_1h``/``_1d`` measurements), and some Wi-Fi
    queries take seconds each."""

    def __init__(self, client: InfluxClient) -> None:
        self.client = client
        self._answers: dict[str, StatementResult] = {}

    def select(self, q: str) -> StatementResult:
        if q not in self._answers:
            self._answers[q] = self.client.select(q)
        return self._answers[q]


@pytest.fixture(scope="module")
def grafana_db(cross_db: InfluxClient) -> AskedOnce:
    return AskedOnce(cross_db)


def _config(db: InfluxClient, rollups: bool) -> ServerConfig:
    return ServerConfig.model_validate(
        {
            "influxdb": {"url": db.url, "database": db.database, "timeout_s": 10},
            "auth": {"read_keys": {"grafana-test": READ["X-API-Key"]}},
            "rollups": {"enabled": rollups, "background": False},
        }
    )


@pytest.fixture(scope="module", params=["raw", "rollups"])
def api(request: pytest.FixtureRequest, cross_db: InfluxClient) -> Iterator[TestClient]:
    config = _config(cross_db, request.param == "rollups")
    with TestClient(create_app(config, criteria=CRITERIA_SET)) as client:
        if request.param == "rollups":
            state = client.app.state.rollups  # type: ignore[attr-defined]
            state.roll(cs.D0 - 4 * cs.H, cs.D0 + 3 * cs.DAY)
            state.mark(cs.D0 - 4 * cs.H, cs.D0 + 3 * cs.DAY)
        yield client


@dataclass(frozen=True)
class Shown:
    """A figure as Grafana computes it for one village: its value and coverage."""

    value: float | None
    coverage: float


def run(client: AskedOnce, query: Query, village: str, start: int, end: int) -> dict[str, float]:
    """The panel query for one selected village over ``[start, end)``: its values by series name."""
    variables = {"village": TemplateVar("village", [village])}
    text = interpolate(query.influxql, variables=variables, from_ms=start, to_ms=end, interval_ms=60_000)
    out = {}
    for series in client.select(text).series:
        assert series.tags["village"] == village, text
        (row,) = series.values
        out[series.columns[1]] = row[1]
    return out


def panel_state(
    panel: Panel,
    decided: dict[str, float],
    undecided: dict[str, float],
    unverified: dict[str, float] | None = None,
) -> str | None:
    """The verdict panel's display: A's value coloured by the panel's thresholds (green pass, red fail), the
    purple unverified text of query C's mapping, the grey insufficient-data text of query B's mapping, or
    None: the panel's no-value text (no verdict published)."""
    shown = [q for q in (decided, undecided, unverified) if q]
    assert len(shown) <= 1, (decided, undecided, unverified)
    if unverified:
        return "unverified"
    if decided:
        (value,) = decided.values()
        return DECIDED[threshold_color(panel.thresholds, value)]
    return "insufficient_data" if undecided else None


def grafana(client: AskedOnce, c: Criterion, village: str, start: int = cs.FROM, end: int = cs.TO) -> Shown:
    """The figure and its coverage as the figure panels' statements compute them over ``[start, end)``."""
    fq = FigureQuery(c.description_of_figure, c.params, VILLAGE_SCOPE)
    value = run(client, fq.query(fq.value()), village, start, end)
    coverage = run(client, fq.query(fq.coverage()), village, start, end)
    return Shown(next(iter(value.values()), None), next(iter(coverage.values()), 0.0) / 100)


def api_verdicts(
    api: TestClient, village: str, start: int | None = cs.FROM, end: int | None = cs.TO
) -> dict[str, dict[str, Any]]:
    """The API's criteria for ``village`` over ``[start, end)``, or over its default windows (None)."""
    window = {"start": iso(start), "end": iso(end)} if start is not None and end is not None else {}
    response = api.get(f"/api/v1/villages/{village}/criteria", params=window, headers=READ)
    assert response.status_code == 200, response.text
    return {c["id"]: c for c in response.json()["criteria"]}


def _close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= PP)


CASES = [(c, v) for c in ALL for v in cs.VILLAGES]


@pytest.mark.parametrize("criterion,village", CASES, ids=[f"{c.id}-{v}" for c, v in CASES])
def test_api_and_grafana_compute_the_same_figure(
    api: TestClient, grafana_db: AskedOnce, criterion: Criterion, village: str
) -> None:
    got = api_verdicts(api, village)[criterion.id]
    evidence = got["evidence"]
    shown = grafana(grafana_db, criterion, village)
    truth = cs.expected(POINTS, criterion.description_of_figure, criterion.params, village)
    where = f"{criterion.id} for {village} over [{cs.local(cs.FROM)}, {cs.local(cs.TO)})"
    assert _close(shown.value, truth.value), (
        f"Grafana's value {shown.value} is not the truth {truth.value}: {where}"
    )
    assert shown.coverage == pytest.approx(truth.coverage, abs=1e-6), f"Grafana's coverage: {where}"
    assert _close(evidence["value"], truth.value), (
        f"API DISAGREES with the description: value {evidence['value']}, truth {truth.value}: {where}"
    )
    assert evidence["coverage"] == pytest.approx(truth.coverage, abs=1e-6), (
        f"API DISAGREES with the description: coverage {evidence['coverage']}, truth {truth.coverage}: {where}"
    )


def test_the_seed_holds_every_verdict_and_both_wifi_bases(api: TestClient) -> None:
    """The cases above are worth something only if the seed makes every state happen."""
    verdicts = {(cid, v): c["verdict"] for v in cs.VILLAGES for cid, c in api_verdicts(api, v).items()}
    assert set(verdicts.values()) == {"pass", "fail", "insufficient_data"}
    assert all(verdicts[(c.id, "lang-moi")] == "insufficient_data" for c in ALL)
    bases = {
        v: api_verdicts(api, v)["wifi_service"]["evidence"]["detail"].get("basis")
        for v in ("ban-ven", "kha-ly-thuong")
    }
    assert bases == {"ban-ven": "opening_hours", "kha-ly-thuong": "all_hours"}, bases


def test_an_end_inclusive_window_would_read_other_values(cross_db: InfluxClient) -> None:
    """The samples stamped at TO make a difference the tests above would see."""
    differs = 0
    for c in ALL:
        for v in cs.VILLAGES:
            inside = cs.expected(POINTS, c.description_of_figure, c.params, v)
            with_end = cs.expected(POINTS, c.description_of_figure, c.params, v, end=cs.TO + 1)
            differs += not _close(inside.value, with_end.value)
    assert differs >= 5


def test_two_access_points_cover_at_most_the_window(grafana_db: AskedOnce) -> None:
    wifi = next(c for c in ALL if c.id == "wifi_service")
    assert grafana(grafana_db, wifi, "kha-ly-thuong").coverage == pytest.approx(1.0, abs=1e-9)


def test_the_village_board_shows_these_verdict_panels() -> None:
    """The committed village dashboard's verdict row is made of the panels tested above."""
    verdicts, coverage = village_board.build().rows[:2]
    assert verdicts.panels == tuple(verdict_panel(c, VILLAGE_SCOPE) for c in CRITERIA.criteria)
    assert coverage.panels == (
        *(coverage_panel(c, VILLAGE_SCOPE) for c in CRITERIA.criteria),
        verified_panel(VILLAGE_SCOPE),
    )
    assert {r.criterion for r in ALERT_RULES if r.criterion} == {c.id for c in CRITERIA.criteria}


#: the published evaluation's hour: the windows end there. The seed's last day lies before it, and the test's
#: own criteria's two days end there, so every verdict happens (checked below)
HOUR = floor_hour(cs.TO)
#: when Grafana looks: a few minutes after the service published
SEEN = HOUR + 10 * cs.M


@pytest.fixture(scope="module")
def published(cross_db: InfluxClient) -> Iterator[TestClient]:
    """A service whose clock is just past ``HOUR``, its default evaluation published as Grafana's copy."""
    app = create_app(_config(cross_db, False), criteria=CRITERIA_SET, clock=lambda: (HOUR + 5 * cs.M) / 1000)
    with TestClient(app) as client:
        publish(client.app.state.service)  # type: ignore[attr-defined]
        yield client


@pytest.fixture(scope="module")
def answered(published: TestClient) -> dict[str, dict[str, dict[str, Any]]]:
    """The published service's default answer for each village, asked once: its clock stands still, so every
    ask gives the same answer, and each is a whole evaluation of the village."""
    return {v: api_verdicts(published, v, None, None) for v in cs.VILLAGES}


def grafana_verdict(db: InfluxClient, c: Criterion, village: str) -> tuple[str | None, float | None]:
    """The verdict panel's state and the coverage panel's number (in 0..1) at ``SEEN``."""
    panel = verdict_panel(c, VILLAGE_SCOPE)
    answers = [run(AskedOnce(db), q, village, SEEN - c.window_s * 1000, SEEN) for q in panel.queries]
    coverage = run(AskedOnce(db), coverage_panel(c, VILLAGE_SCOPE).queries[0], village, SEEN - 3600_000, SEEN)
    return panel_state(panel, *answers), next((v / 100 for v in coverage.values()), None)


@pytest.mark.parametrize("criterion,village", CASES, ids=[f"{c.id}-{v}" for c, v in CASES])
def test_verdict_panels_show_the_verdict_the_service_published(
    answered: dict[str, dict[str, dict[str, Any]]], cross_db: InfluxClient, criterion: Criterion, village: str
) -> None:
    got = answered[village][criterion.id]
    state, coverage = grafana_verdict(cross_db, criterion, village)
    where = f"{criterion.id} for {village}, published at {cs.local(HOUR)}"
    assert state == got["verdict"], f"Grafana shows {state}, the API says {got['verdict']}: {where}"
    assert coverage == pytest.approx(got["evidence"]["coverage"], abs=1e-9), where


def test_the_published_evaluation_holds_every_verdict(answered: dict[str, dict[str, dict[str, Any]]]) -> None:
    """The cases above are worth something only if the published windows make every state happen."""
    verdicts = {c["verdict"] for v in cs.VILLAGES for c in answered[v].values()}
    assert verdicts == {"pass", "fail", "insufficient_data"}


def test_nothing_published_shows_no_verdict(cross_db: InfluxClient, published: TestClient) -> None:
    """Hours after the service last published, a verdict panel says so instead of showing the old verdict."""
    c, village = OWN[0], cs.VILLAGES[0]
    panel = verdict_panel(c, VILLAGE_SCOPE)
    late = SEEN + 4 * cs.H
    answers = [run(AskedOnce(cross_db), q, village, late - c.window_s * 1000, late) for q in panel.queries]
    assert panel_state(panel, *answers) is None
    assert grafana_verdict(cross_db, c, village)[0] is not None


@pytest.mark.parametrize("criterion", ALL, ids=lambda c: c.id)
def test_criterion_alert_fires_where_the_api_says_fail(
    answered: dict[str, dict[str, dict[str, Any]]], cross_db: InfluxClient, criterion: Criterion
) -> None:
    firing = evaluate(cross_db, criterion_rule(criterion), SEEN)
    failing = {v for v in cs.VILLAGES if answered[v][criterion.id]["verdict"] == "fail"}
    assert {next(t for t in key if t in cs.VILLAGES) for key in firing} == failing


def test_thresholds_follow_the_comparator() -> None:
    """Grafana's inclusive steps give the strict comparators exactly at the threshold."""
    for c in ALL:
        panel = verdict_panel(c, VILLAGE_SCOPE)
        for value in (c.threshold - 1, c.threshold, c.threshold + 1e-9, c.threshold + 1):
            color = threshold_color(panel.thresholds, value)
            assert DECIDED[color] == c.verdict(value, 1.0), (c.id, value)
    assert threshold_color((Threshold(None, "red"), Threshold(1, "green")), 1) == "green"


def _local_day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, cs.TZ).date()


def test_lighting_per_day_in_grafana_is_the_pages_and_the_dossiers_days(
    api: TestClient, grafana_db: AskedOnce
) -> None:
    """A reviewer found Grafana's lighting bars on noon-to-noon nights and the pages' and the dossier's charts
    on local calendar days: the same bars, both ways. Village A's third light fails at 07:40 on the second day,
    so a day (its morning well, its evening not) and a night (both halves failed) read different values."""
    (panel,) = (
        p for p in lighting_board.build().panels() if p.title.en.startswith("Lighting availability per")
    )
    village = "kha-ly-thuong"
    variables = {"village": TemplateVar("village", [village])}
    text = interpolate(
        panel.queries[0].influxql, variables=variables, from_ms=cs.FROM, to_ms=cs.TO, interval_ms=60_000
    )
    (series,) = grafana_db.select(text).series
    bars = {_local_day(t): value for t, value in series.values}
    criterion = next(c for c in CRITERIA.criteria if c.figure == "lighting.availability")
    days = daily_values(api.app.state.service, village, criterion, Window(cs.FROM, cs.TO))  # type: ignore[attr-defined]
    assert days is not None
    charted = {_local_day(d.start_ms): d.value for d in days if d.value is not None}
    assert bars.keys() == charted.keys(), (bars, charted)
    assert all(_close(bars[day], charted[day]) for day in charted), (bars, charted)
    assert len(set(charted.values())) > 1, "every day alike: the test would not tell days from nights"
