"""The fourth verdict in Grafana: a criteria service with a key registry verifies three villages' signed data
(two with forged, unsigned fiber samples: up in one, an outage in the other, whose value would fail), its
rollup pass writes the display copy (``verification_hourly``), and the panels, the province table and the alert
rules, run on the real InfluxDB as Grafana would send them, show what the API says: the same points and
verified points per hour, the verdict panel's state (pass / unverified), the verified share, the table cell's
state, and alerts that fire for ``fail`` and ``unverified`` exactly where the API gives those verdicts."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_alerts import evaluate
from fastapi.testclient import TestClient
from grafana_macros import ALL, TemplateVar, interpolate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from signed_kit import Gateway, uplink_points
from srv_helpers import ADMIN, READ, make_config

from dashboards.alerts import PLACE_LABELS, AlertRule, criterion_rule, unverified_rule
from dashboards.boards import province
from dashboards.criteria import (
    CRITERIA,
    UNVERIFIED_CELL,
    table_column,
    verdict_panel,
    verified_panel,
)
from dashboards.influxql import PROVINCE_SCOPE, VILLAGE_SCOPE
from dashboards.model import Query, Threshold, threshold_color
from lab.localservices import InfluxDBServer
from server.app import create_app
from server.timeparse import iso
from thonminh.contract import VERIFICATION_RP, Point, site_tags
from thonminh.criteria import Criterion
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

H = 3_600_000
NOW = int(time.time() * 1000)
T0 = NOW - NOW % H - 4 * H
END = T0 + 3 * H
CLEAN = site_tags("kha-ly", "gw-kly", commune="quang-minh", province="bac-giang")
FORGED = site_tags("ban-ven", "gw-bv", commune="quang-minh", province="bac-giang")
# a place with every tag: the alerts' labels name it all
DOWN = site_tags("lang-ha", "gw-lh", commune="an-lac", district="son-dong", province="bac-giang")
SITES = (CLEAN, FORGED, DOWN)
FIBER = next(c for c in CRITERIA.criteria if c.id == "fiber_availability")
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


@pytest.fixture(scope="module")
def world(influxdb: InfluxDBServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database = f"verif_{uuid.uuid4().hex[:10]}"
    client = InfluxClient(influxdb.url, database=database, timeout=60)
    client.create_database(database)
    registry = tmp_path_factory.mktemp("registry") / "keys.sqlite"
    config = make_config(client.url, database, evidence={"registry": str(registry)})
    with TestClient(create_app(config)) as api:
        for site in SITES:
            gw = Gateway(site=dict(site))
            answer = api.post(
                f"/api/v1/gateways/{site['gateway']}/keys",
                headers=ADMIN,
                json={"village": site["village"], "public_key": gw.public_key, "valid_from": iso(T0 - H)},
            )
            assert answer.status_code == 201, answer.text
            client.write(gw.sign(uplink_points(T0, 3, site=dict(site))))
        # someone with InfluxDB's write credential adds fiber samples no gateway signed: 10 in the second hour up,
        # and an hour of outage that would make the other village fail
        client.write(forged(FORGED, T0 + H, 10, up=1) + forged(DOWN, T0 + H, 60, up=0))
        api.app.state.rollups.roll(T0, END)  # type: ignore[attr-defined]  # the pass writes the display copy
        yield api, client
    try:
        client.drop_database(database)
    finally:
        client.close()


def fiber(api: TestClient, village: str) -> dict[str, Any]:
    answer = api.get(
        f"/api/v1/villages/{village}/criteria", params={"start": iso(T0), "end": iso(END)}, headers=READ
    )
    assert answer.status_code == 200, answer.text
    return next(c for c in answer.json()["criteria"] if c["id"] == "fiber_availability")


def grafana(client: InfluxClient, query: Query, village: str) -> dict[str, float]:
    text = interpolate(
        query.influxql,
        variables={"village": TemplateVar("village", [village])},
        from_ms=T0,
        to_ms=END,
        interval_ms=60_000,
    )
    out = {}
    for series in client.select(text).series:
        assert series.tags["village"] == village, text
        (row,) = series.values
        out[series.columns[1]] = row[1]
    return out


def shown_state(village: str, client: InfluxClient) -> str:
    panel = verdict_panel(FIBER, VILLAGE_SCOPE)
    decided, undecided, unverified = (grafana(client, q, village) for q in panel.queries)
    assert len([q for q in (decided, undecided, unverified) if q]) == 1, (decided, undecided, unverified)
    if unverified:
        return "unverified"
    if decided:
        return {"green": "pass", "red": "fail"}[
            threshold_color(panel.thresholds, next(iter(decided.values())))
        ]
    return "insufficient_data"


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


def test_the_verdict_panel_shows_the_apis_verdict_unverified_included(world: World) -> None:
    api, client = world
    verdicts = {site["village"]: fiber(api, site["village"])["verdict"] for site in SITES}
    # the seed makes both states happen
    assert verdicts == {"kha-ly": "pass", "ban-ven": "unverified", "lang-ha": "unverified"}
    for village, verdict in verdicts.items():
        assert shown_state(village, client) == verdict, village


def test_the_verified_panel_shows_the_apis_share(world: World) -> None:
    api, client = world
    query = verified_panel(VILLAGE_SCOPE).queries[0]
    for site in SITES:
        text = interpolate(
            query.influxql,
            variables={"village": TemplateVar("village", [site["village"]])},
            from_ms=T0,
            to_ms=END,
            interval_ms=60_000,
        )
        shown = {s.name: s.values[0][1] for s in client.select(text).series}
        share = fiber(api, site["village"])["evidence"]["verified_pct"]
        assert shown == {"uplink": pytest.approx(share), "wifi": pytest.approx(100.0)}, site["village"]
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
    return {"green": "pass", "red": "fail"}[threshold_color(steps, value)]


def test_the_province_table_shows_the_apis_verdict_per_village(world: World) -> None:
    api, client = world
    query, _ = table_column(FIBER, PROVINCE_SCOPE)
    (villages,) = province.build().rows[0].panels
    assert query in villages.queries  # the committed board's column
    # the province board's variables on "All", as a technician opens it: every village in one statement
    variables = {
        v.name: TemplateVar(v.name, [ALL], all_value=v.all_value) for v in province.build().variables
    }
    text = interpolate(query.influxql, variables=variables, from_ms=T0, to_ms=END, interval_ms=60_000)
    cells = {}
    for series in client.select(text).series:
        (row,) = series.values
        cells[series.tags["village"]] = row[series.columns.index(FIBER.id)]
    for site in SITES:
        got = fiber(api, site["village"])
        value = cells.get(site["village"])
        assert cell_state(FIBER, value) == got["verdict"], (site["village"], value)
        if got["verdict"] == "unverified":  # the cell carries the share the API verified
            assert value is not None
            assert value - UNVERIFIED_CELL == pytest.approx(got["evidence"]["verified_pct"]), site["village"]
    assert cell_state(FIBER, None) == "insufficient_data"


FIBER_3H = Criterion.model_validate({**FIBER.model_dump(), "window": "3h"})  # the world's three hours


def firing(client: InfluxClient, rule: AlertRule) -> dict[str, dict[str, str]]:
    """The villages a rule fires for, as if Grafana evaluated it at END (its range ends 1 ms before), and the
    series' tags: the alerts' labels."""
    keys = evaluate(client, rule, END - 1)
    out = {}
    for site in SITES:
        place = {t: site.get(t, "") for t in PLACE_LABELS}
        if tuple(sorted(place.values())) in keys:
            out[site["village"]] = place
    assert len(out) == len(keys), keys
    return out


def test_alerts_fire_for_the_apis_fail_and_unverified_verdicts(world: World) -> None:
    api, client = world
    got = {site["village"]: fiber(api, site["village"]) for site in SITES}
    # the forged outage makes lang-ha's value fail: a rule blind to verification fires for it
    assert got["lang-ha"]["evidence"]["value"] < FIBER.threshold
    blind = Criterion.model_validate({**FIBER_3H.model_dump(), "min_verified_pct": None})
    assert set(firing(client, criterion_rule(blind))) == {"lang-ha"}
    for rule in (criterion_rule(FIBER_3H), unverified_rule(FIBER_3H)):
        wanted = {v for v, c in got.items() if c["verdict"] == rule.verdict}
        assert set(firing(client, rule)) == wanted, rule.uid
    assert wanted == {"ban-ven", "lang-ha"}
    # the unverified alert names the whole place, as the fail alert does (the policies route on it)
    assert firing(client, unverified_rule(FIBER_3H))["lang-ha"] == {t: DOWN[t] for t in PLACE_LABELS}
