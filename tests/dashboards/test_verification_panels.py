"""The fourth verdict in Grafana: a criteria service with a key registry verifies three villages' signed data
(two with forged, unsigned fiber samples: up in one, an outage in the other, whose value would fail), its
rollup pass writes the verification's display copy (``verification_hourly``), it publishes its default
evaluation (``criterion_verdict``), and the panels, the province table and the alert rules, run on the real
InfluxDB as Grafana would send them, show what the API says: the same points and verified points per hour,
the verdict panel's state (pass / unverified), the verified share, the table cell's state, alerts that fire
for ``fail`` and ``unverified`` exactly where the API gives those verdicts, and the newest publication."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from dash_alerts import evaluate
from fastapi.testclient import TestClient
from grafana_macros import ALL, TemplateVar, interpolate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from influxkit import scratch_database
from signed_kit import Gateway, uplink_points
from srv_helpers import ADMIN, READ, make_config

from dashboards.alerts import ALERT_RULES, PLACE_LABELS, AlertRule, criterion_rule, unverified_rule
from dashboards.boards import province
from dashboards.criteria import (
    CRITERIA,
    UNVERIFIED_CELL,
    coverage_panel,
    table_column,
    verdict_panel,
    verified_panel,
)
from dashboards.influxql import PROVINCE_SCOPE, VILLAGE_SCOPE
from dashboards.model import Query, Threshold, threshold_color
from lab.localservices import InfluxDBServer
from server.app import create_app
from server.catalog import Evidence
from server.criteria import Verdict
from server.evidence.share import FigureVerification
from server.evidence_display import ensure_retention_policy
from server.timeparse import Window, iso
from server.verdict_display import verdict_points, write_verdicts
from server.verdicts import publish
from thonminh.contract import CRITERION_VERDICT, VERIFICATION_RP, Point, site_tags
from thonminh.criteria import CriteriaSet, Criterion
from thonminh.display import VERDICT_COLOURS
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

H = 3_600_000
#: the verdict a threshold's colour shows: the pages' and the dossier's green and red (thonminh/display.py)
DECIDED = {VERDICT_COLOURS[v].colour: v for v in ("pass", "fail")}
NOW = int(time.time() * 1000)
T0 = NOW - NOW % H - 4 * H
END = T0 + 3 * H
#: the services' clock and Grafana's now: five minutes into the hour after the world, so the last whole hour,
#: where the default windows end and the publication is stamped, is END
SHOWN = END + 300_000
CLEAN = site_tags("kha-ly", "gw-kly", commune="quang-minh", province="bac-giang")
FORGED = site_tags("ban-ven", "gw-bv", commune="quang-minh", province="bac-giang")
# a place with every tag: the alerts' labels name it all
DOWN = site_tags("lang-ha", "gw-lh", commune="an-lac", district="son-dong", province="bac-giang")
SITES = (CLEAN, FORGED, DOWN)
FIBER = next(c for c in CRITERIA.criteria if c.id == "fiber_availability")
EID = next(c for c in CRITERIA.criteria if c.id == "eid_adoption")
FIBER_3H = Criterion.model_validate({**FIBER.model_dump(), "window": "3h"})  # the world's three hours
# the shipped set with fiber over three hours, so the service's default window for it is [T0, END); the other
# criteria stay and are published too: a panel or rule that did not pick its criterion would show theirs
WORLD_CRITERIA = CriteriaSet.model_validate(
    {
        **CRITERIA.model_dump(),
        "criteria": [(FIBER_3H if c.id == FIBER.id else c).model_dump() for c in CRITERIA.criteria],
    }
)
# fiber judged by its value alone, under an id of its own: its publication cannot overwrite fiber's
BLIND = Criterion.model_validate({**FIBER_3H.model_dump(), "id": "fiber_blind", "min_verified_pct": None})
World = tuple[TestClient, InfluxClient]


def forged(site: dict[str, str], start: int, minutes: int, up: int) -> list[str]:
    """Fiber samples no gateway signed, written with InfluxDB's write credential, one a minute."""
    return [
        encode_line(
            Point(
                "uplink",
                {**site, "link": "fiber"},
                {"up": up, "up_s": 60.0 * up, "observed_s": 60.0},
                t + 30_000,
            )
        )
        for t in range(start, start + minutes * 60_000, 60_000)
    ]


@contextmanager
def service(api: TestClient, criteria: CriteriaSet, now_ms: int) -> Iterator[TestClient]:
    """Another criteria service on the world's database and key registry, with its own criteria and clock, its
    default evaluation published."""
    config = api.app.state.config  # type: ignore[attr-defined]
    with TestClient(create_app(config, criteria=criteria, clock=lambda: now_ms / 1000)) as other:
        publish(other.app.state.service)  # type: ignore[attr-defined]
        yield other


@pytest.fixture(scope="module")
def world(influxdb: InfluxDBServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with scratch_database(influxdb, "verif", timeout=60) as client:
        registry = tmp_path_factory.mktemp("registry") / "keys.sqlite"
        config = make_config(client.url, client.database, evidence={"registry": str(registry)})
        with TestClient(create_app(config, criteria=WORLD_CRITERIA, clock=lambda: SHOWN / 1000)) as api:
            for site in SITES:
                gw = Gateway(site=dict(site))
                answer = api.post(
                    f"/api/v1/gateways/{site['gateway']}/keys",
                    headers=ADMIN,
                    json={"village": site["village"], "public_key": gw.public_key, "valid_from": iso(T0 - H)},
                )
                assert answer.status_code == 201, answer.text
                client.write(gw.sign(uplink_points(T0, 3, site=dict(site))))
            # someone with InfluxDB's write credential adds fiber samples no gateway signed: 10 in the second
            # hour up, and an hour of outage that would make the other village fail
            client.write(forged(FORGED, T0 + H, 10, up=1) + forged(DOWN, T0 + H, 60, up=0))
            api.app.state.rollups.roll(T0, END)  # type: ignore[attr-defined]  # the pass writes the display copy
            publish(api.app.state.service)  # type: ignore[attr-defined]  # as keep_warm does each hour
            yield api, client


def criterion(api: TestClient, village: str, cid: str = FIBER.id, window: bool = True) -> dict[str, Any]:
    """The API's verdict on ``cid``: over the world's [T0, END), or with ``window`` False its default one."""
    params = {"start": iso(T0), "end": iso(END)} if window else {}
    answer = api.get(f"/api/v1/villages/{village}/criteria", params=params, headers=READ)
    assert answer.status_code == 200, answer.text
    return next(c for c in answer.json()["criteria"] if c["id"] == cid)


def fiber(api: TestClient, village: str) -> dict[str, Any]:
    return criterion(api, village)


def defaults(api: TestClient, cid: str = FIBER.id) -> dict[str, dict[str, Any]]:
    """What the service publishes: its answer with no window, per village."""
    return {site["village"]: criterion(api, site["village"], cid, window=False) for site in SITES}


def grafana(client: InfluxClient, query: Query, village: str, to_ms: int = SHOWN) -> dict[str, float]:
    text = interpolate(
        query.influxql,
        variables={"village": TemplateVar("village", [village])},
        from_ms=T0,
        to_ms=to_ms,
        interval_ms=60_000,
    )
    out = {}
    for series in client.select(text).series:
        assert series.tags["village"] == village, text
        (row,) = series.values
        out[series.columns[1]] = row[1]
    return out


def shown(
    client: InfluxClient, village: str, to_ms: int = SHOWN, criterion: Criterion = FIBER
) -> tuple[str, float] | None:
    """The verdict panel's state and number (value, coverage or verified share); None: it shows no value."""
    panel = verdict_panel(criterion, VILLAGE_SCOPE)
    decided, undecided, unverified = (grafana(client, q, village, to_ms) for q in panel.queries)
    if not (decided or undecided or unverified):
        return None
    assert len([q for q in (decided, undecided, unverified) if q]) == 1, (decided, undecided, unverified)
    if unverified:
        number = next(iter(unverified.values()))
        # a row whose value is null takes the panel's null mapping, "Insufficient data", whatever its query
        return ("insufficient_data" if number is None else "unverified"), number
    if undecided:
        return "insufficient_data", next(iter(undecided.values()))
    value = next(iter(decided.values()))
    return DECIDED[threshold_color(panel.thresholds, value)], value


def panel_of(got: dict[str, Any]) -> tuple[str, Any]:
    """What the verdict panel shows for the API's answer ``got``: its verdict, and the number ``shown`` gives
    (query C counts the unverified verdict)."""
    ev = got["evidence"]
    number = {"unverified": 1, "insufficient_data": 100 * ev["coverage"]}
    return got["verdict"], pytest.approx(number.get(got["verdict"], ev["value"]))


def test_the_display_copy_holds_the_services_counts(world: World) -> None:
    api, client = world
    for site in SITES:
        check = fiber(api, site["village"])["evidence"]["verification"]
        copy = f'"{VERIFICATION_RP}"."uplink"'
        rows = client.select(
            f"SELECT sum(points) AS p, sum(verified_points) AS v FROM {copy} "
            f"WHERE village = '{site['village']}' AND time >= {T0}ms AND time < {END}ms"
        ).rows()
        assert (rows[0]["p"], rows[0]["v"]) == (check["points"], check["verified_points"]), site["village"]
        hours = client.select(f"SELECT points FROM {copy} WHERE village = '{site['village']}'").rows()
        assert len(hours) == 3  # one point per UTC hour rolled


def test_the_services_default_window_is_the_worlds_three_hours(world: World) -> None:
    api, _ = world
    published = defaults(api)
    for village, got in published.items():
        explicit = fiber(api, village)
        assert (got["evidence"]["window"]["start"], got["evidence"]["window"]["end"]) == (
            explicit["evidence"]["window"]["start"],
            explicit["evidence"]["window"]["end"],
        ), village
        assert (got["verdict"], got["evidence"]["value"], got["evidence"]["verified_pct"]) == (
            explicit["verdict"],
            explicit["evidence"]["value"],
            explicit["evidence"]["verified_pct"],
        ), village
    # the seed makes both states happen
    assert {v: c["verdict"] for v, c in published.items()} == {
        "kha-ly": "pass",
        "ban-ven": "unverified",
        "lang-ha": "unverified",
    }


def test_the_verdict_panel_shows_the_published_verdict_unverified_included(world: World) -> None:
    api, client = world
    for village, got in defaults(api).items():
        assert shown(client, village) == panel_of(got), village
        # the copy is stamped at END: a range that ends before it has nothing to show, no older verdict
        assert shown(client, village, END - 1) is None, village


def test_the_verified_panel_shows_the_apis_share(world: World) -> None:
    api, client = world
    query = verified_panel(VILLAGE_SCOPE).queries[0]
    verdicts = f'"{VERIFICATION_RP}"."{CRITERION_VERDICT.name}"'
    # the verdict copy shares the panel's retention policy and range: were it summed, it would be a series
    (row,) = client.select(
        f"SELECT count(verdict) FROM {verdicts} WHERE time >= {T0}ms AND time <= {SHOWN}ms"
    ).rows()
    assert row["count"] > 0
    for site in SITES:
        text = interpolate(
            query.influxql,
            variables={"village": TemplateVar("village", [site["village"]])},
            from_ms=T0,
            to_ms=SHOWN,
            interval_ms=60_000,
        )
        seen = {s.name: s.values[0][1] for s in client.select(text).series}
        share = fiber(api, site["village"])["evidence"]["verified_pct"]
        assert seen == {"uplink": pytest.approx(share), "wifi": pytest.approx(100.0)}, site["village"]
    assert fiber(api, "ban-ven")["evidence"]["verified_pct"] == pytest.approx(100 * 180 / 190)


# -- the province table and the alert rules ----------------------------------------------------------------------


def cell_state(c: Criterion, value: float | None) -> str:
    """The province table's cell for ``value`` (None: no row), as Grafana's display processor picks it: the
    column's first matching value mapping (special null, range: ends included), else the thresholds' colour."""
    _, override = table_column(c, PROVINCE_SCOPE)
    props = {p["id"]: p["value"] for p in override("en")["properties"]}
    texts = {"Insufficient data": "insufficient_data", "Unverified": "unverified"}
    for m in props["mappings"]:
        o = m["options"]
        if (m["type"] == "special" and value is None) or (
            m["type"] == "range" and value is not None and o["from"] <= value <= o["to"]
        ):
            return texts[o["result"]["text"]]
    assert value is not None
    steps = tuple(Threshold(s["value"], s["color"]) for s in props["thresholds"]["steps"])
    return DECIDED[threshold_color(steps, value)]


def test_the_province_table_shows_the_published_verdict_per_village(world: World) -> None:
    api, client = world
    query, _ = table_column(FIBER, PROVINCE_SCOPE)
    (villages,) = province.build().rows[0].panels
    assert query in villages.queries  # the committed board's column
    # the province board's variables on "All", as a technician opens it: every village in one statement
    variables = {
        v.name: TemplateVar(v.name, [ALL], all_value=v.all_value) for v in province.build().variables
    }
    text = interpolate(query.influxql, variables=variables, from_ms=T0, to_ms=SHOWN, interval_ms=60_000)
    cells = {}
    for series in client.select(text).series:
        (row,) = series.values
        cells[series.tags["village"]] = row[series.columns.index(FIBER.id)]
    for village, got in defaults(api).items():
        value = cells.get(village)
        assert cell_state(FIBER, value) == got["verdict"], (village, value)
        if got["verdict"] == "unverified":  # the cell carries query C's count
            assert value == UNVERIFIED_CELL + 1, village
    assert cell_state(FIBER, None) == "insufficient_data"


def firing(client: InfluxClient, rule: AlertRule) -> dict[str, dict[str, str]]:
    """The villages a rule fires for, as if Grafana evaluated it at SHOWN, and the series' tags: the alerts'
    labels."""
    keys = evaluate(client, rule, SHOWN)
    out = {}
    for site in SITES:
        place = {t: site.get(t, "") for t in PLACE_LABELS}
        if tuple(sorted(place.values())) in keys:
            out[site["village"]] = place
    assert len(out) == len(keys), keys
    return out


def test_alerts_fire_for_the_published_fail_and_unverified_verdicts(world: World) -> None:
    api, client = world
    got = defaults(api)
    for rule in (criterion_rule(FIBER), unverified_rule(FIBER)):
        assert rule in ALERT_RULES  # the provisioned rules
        wanted = {v for v, c in got.items() if c["verdict"] == rule.verdict}
        assert set(firing(client, rule)) == wanted, rule.uid
    assert wanted == {"ban-ven", "lang-ha"}
    # the unverified alert names the whole place, as the fail alert does (the policies route on it)
    assert firing(client, unverified_rule(FIBER))["lang-ha"] == {t: DOWN[t] for t in PLACE_LABELS}


def test_a_rule_blind_to_verification_fires_for_the_forged_outage(world: World) -> None:
    """lang-ha's unverified verdict holds back a failing value: the fail rule stays quiet there because the
    service said unverified, not because it cannot fire. A service that judges fiber by its value alone, on
    the same data, publishes fail for lang-ha, and the fail rule fires for it, with the whole place."""
    api, client = world
    with service(api, CriteriaSet(criteria=[BLIND]), SHOWN) as blind:
        got = defaults(blind, BLIND.id)
    assert {v: c["verdict"] for v, c in got.items()} == {
        "kha-ly": "pass",
        "ban-ven": "pass",
        "lang-ha": "fail",
    }
    assert got["lang-ha"]["evidence"]["value"] == fiber(api, "lang-ha")["evidence"]["value"] < FIBER.threshold
    assert firing(client, criterion_rule(BLIND)) == {"lang-ha": {t: DOWN[t] for t in PLACE_LABELS}}


def test_a_newer_publication_replaces_the_older(world: World) -> None:
    """An hour later the service publishes again, over [T0 + 1 h, END + 1 h), where the signed data covers two
    of three hours: kha-ly's pass becomes insufficient_data, lang-ha's verified share drops. Both publications
    are within the panels' 3 h look-back, and each range shows the newest it reaches."""
    api, client = world
    later = SHOWN + H
    before = defaults(api)
    with service(api, WORLD_CRITERIA, later) as next_hour:
        after = defaults(next_hour)
    assert (before["kha-ly"]["verdict"], after["kha-ly"]["verdict"]) == ("pass", "insufficient_data")
    coverage = coverage_panel(FIBER, VILLAGE_SCOPE).queries[0]
    for village in after:
        for to_ms, got in ((SHOWN, before), (later, after)):
            assert shown(client, village, to_ms) == panel_of(got[village]), (village, to_ms)
            (pct,) = grafana(client, coverage, village, to_ms).values()
            assert pct == pytest.approx(100 * got[village]["evidence"]["coverage"]), (village, to_ms)


@pytest.fixture
def hostile(influx: InfluxClient) -> tuple[InfluxClient, int]:
    """Four villages' fiber verdicts, published by the service's own writer at the last whole hour: a share
    under 99 %, a forged rollup row that the audit could not delete at 100 % and with no share at all (a
    verdict ``unverified`` whatever the share: docs/api.md, "Signed evidence"), and a clean pass."""
    ensure_retention_policy(influx, influx.database or "")
    hour = NOW - NOW % H
    window = Window(hour - FIBER.window_s * 1000, hour)
    cases = {"low": (95.8, False), "forged": (100.0, True), "no-share": (None, True), "clean": (100.0, False)}
    results = {}
    for village, (pct, forged_row) in cases.items():
        verdict = FIBER.verdict(99.9, 1.0, pct, forged=forged_row)
        checked = FigureVerification(pct, "verified", 99.0, 60, 60, (), (), 0, still_read=forged_row)
        evidence = Evidence(99.9, "%", 1.0, 60, window)
        results[village] = Verdict(FIBER, village, verdict, evidence, checked)
    places = {v: site_tags(v, f"gw-{v}", commune="quang-minh", province="bac-giang") for v in cases}
    assert write_verdicts(influx, influx.database or "", verdict_points(hour, places, {FIBER.id: results}))
    assert {v: r.verdict for v, r in results.items()} == HOSTILE
    return influx, hour


HOSTILE = {"low": "unverified", "forged": "unverified", "no-share": "unverified", "clean": "pass"}


def test_the_unverified_alert_fires_for_every_unverified_verdict_whatever_its_share(
    hostile: tuple[InfluxClient, int],
) -> None:
    """At 100 %, or with no share at all, the rule fires as it does under 99 %, and never for a verified share
    that passes."""
    influx, hour = hostile
    fired = evaluate(influx, unverified_rule(FIBER), hour + 300_000)
    assert {next(v for v in k if v in HOSTILE) for k in fired} == {"low", "forged", "no-share"}


def test_the_verdict_panel_and_the_province_cell_show_every_unverified_verdict(
    hostile: tuple[InfluxClient, int],
) -> None:
    """An unverified verdict with no share showed "Insufficient data" in the panel and the province table: the
    copy has no ``verified_pct`` to select. Both show the verdict, whatever the share."""
    influx, hour = hostile
    query, _ = table_column(FIBER, PROVINCE_SCOPE)
    variables = {
        v.name: TemplateVar(v.name, [ALL], all_value=v.all_value) for v in province.build().variables
    }
    text = interpolate(
        query.influxql, variables=variables, from_ms=hour, to_ms=hour + 300_000, interval_ms=60_000
    )
    cells = {s.tags["village"]: s.values[0][s.columns.index(FIBER.id)] for s in influx.select(text).series}
    for village, verdict in HOSTILE.items():
        state = shown(influx, village, hour + 300_000)
        assert state is not None and state[0] == verdict, (village, state)
        assert cell_state(FIBER, cells.get(village)) == verdict, (village, cells)


def test_a_manual_indicator_altered_in_influxdb_shows_unverified_in_grafana(influx: InfluxClient) -> None:
    """The e-ID share is signed by the criteria service when it is entered: a value altered around the API is
    published ``unverified`` (tests/server/test_indicator_signatures.py), and its panel and alert say so."""
    ensure_retention_policy(influx, influx.database or "")
    hour = NOW - NOW % H
    window = Window(hour - EID.window_s * 1000, hour)
    results = {}
    for village, (value, verified) in {"altered": (80.0, 0), "entered": (31.5, 1)}.items():
        checked = FigureVerification(100.0 * verified, "verified", 99.0, 1, verified, (), (), 0)
        verdict = EID.verdict(value, 1.0, checked.verified_pct)
        results[village] = Verdict(EID, village, verdict, Evidence(value, "%", 1.0, 1, window), checked)
    places = {v: site_tags(v, "manual", commune="quang-minh", province="bac-giang") for v in results}
    assert write_verdicts(influx, influx.database or "", verdict_points(hour, places, {EID.id: results}))
    assert shown(influx, "altered", hour + 300_000, EID) == ("unverified", 1)
    assert shown(influx, "entered", hour + 300_000, EID) == ("pass", 31.5)
    fired = evaluate(influx, unverified_rule(EID), hour + 300_000)
    assert {next(v for v in k if v in results) for k in fired} == {"altered"}
