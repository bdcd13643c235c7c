"""The fourth verdict in Grafana: a criteria service with a key registry verifies two villages' signed data
(one with forged, unsigned fiber samples), its rollup pass writes the display copy (``verification_hourly``),
and the village board's panels, run on the real InfluxDB as Grafana would send them, show what the API says:
the same points and verified points per hour, the verdict panel's state (pass / unverified) and the verified
share."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from grafana_macros import TemplateVar, interpolate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from signed_kit import Gateway, uplink_points  # noqa: E402
from srv_helpers import ADMIN, READ, make_config  # noqa: E402

from dashboards.criteria import CRITERIA, verdict_panel, verified_panel  # noqa: E402
from dashboards.influxql import VILLAGE_SCOPE  # noqa: E402
from dashboards.model import Query, threshold_color  # noqa: E402
from lab.localservices import InfluxDBServer  # noqa: E402
from server.app import create_app  # noqa: E402
from server.timeparse import iso  # noqa: E402
from thonminh.contract import VERIFICATION_RP, Point, site_tags  # noqa: E402
from thonminh.influx import InfluxClient  # noqa: E402
from thonminh.lineprotocol import encode_line  # noqa: E402

H = 3_600_000
NOW = int(time.time() * 1000)
T0 = NOW - NOW % H - 4 * H
END = T0 + 3 * H
CLEAN = site_tags("kha-ly", "gw-kly", commune="quang-minh", province="bac-giang")
FORGED = site_tags("ban-ven", "gw-bv", commune="quang-minh", province="bac-giang")
FIBER = next(c for c in CRITERIA.criteria if c.id == "fiber_availability")


@pytest.fixture(scope="module")
def world(influxdb: InfluxDBServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, InfluxClient]]:
    database = f"verif_{uuid.uuid4().hex[:10]}"
    client = InfluxClient(influxdb.url, database=database, timeout=60)
    client.create_database(database)
    registry = tmp_path_factory.mktemp("registry") / "keys.sqlite"
    config = make_config(client.url, database, evidence={"registry": str(registry)})
    with TestClient(create_app(config)) as api:
        for site in (CLEAN, FORGED):
            gw = Gateway(site=dict(site))
            answer = api.post(f"/api/v1/gateways/{site['gateway']}/keys", headers=ADMIN,
                              json={"village": site["village"], "public_key": gw.public_key, "valid_from": iso(T0 - H)})
            assert answer.status_code == 201, answer.text
            client.write(gw.sign(uplink_points(T0, 3, site=dict(site))))
        # someone with InfluxDB's write credential adds fiber samples no gateway signed: 10 in the second hour
        client.write([encode_line(Point("uplink", {**FORGED, "link": "fiber"},
                                        {"up": 1, "up_s": 60.0, "observed_s": 60.0}, t + 30_000))
                      for t in range(T0 + H, T0 + H + 10 * 60_000, 60_000)])
        api.app.state.rollups.roll(T0, END)  # type: ignore[attr-defined]  # the pass writes the display copy
        yield api, client
    try:
        client.drop_database(database)
    finally:
        client.close()


def fiber(api: TestClient, village: str) -> dict:
    answer = api.get(f"/api/v1/villages/{village}/criteria", params={"start": iso(T0), "end": iso(END)}, headers=READ)
    assert answer.status_code == 200, answer.text
    return next(c for c in answer.json()["criteria"] if c["id"] == "fiber_availability")


def grafana(client: InfluxClient, query: Query, village: str) -> dict[str, float]:
    text = interpolate(query.influxql, variables={"village": TemplateVar("village", [village])}, from_ms=T0,
                       to_ms=END, interval_ms=60_000)
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
        return {"green": "pass", "red": "fail"}[threshold_color(panel.thresholds, next(iter(decided.values())))]
    return "insufficient_data"


def test_the_display_copy_holds_the_services_counts(world) -> None:
    api, client = world
    for site in (CLEAN, FORGED):
        check = fiber(api, site["village"])["evidence"]["verification"]
        copy = f'"{VERIFICATION_RP}"."uplink"'
        rows = client.select(f"SELECT sum(points) AS p, sum(verified_points) AS v FROM {copy} "
                             f"WHERE village = '{site['village']}' AND time >= {T0}ms AND time < {END}ms").rows()
        assert (rows[0]["p"], rows[0]["v"]) == (check["points"], check["verified_points"]), site["village"]
        hours = client.select(f"SELECT points FROM {copy} WHERE village = '{site['village']}'").rows()
        assert len(hours) == 3  # one point per UTC hour rolled


def test_the_verdict_panel_shows_the_apis_verdict_unverified_included(world) -> None:
    api, client = world
    verdicts = {site["village"]: fiber(api, site["village"])["verdict"] for site in (CLEAN, FORGED)}
    assert verdicts == {"kha-ly": "pass", "ban-ven": "unverified"}  # the seed makes both states happen
    for village, verdict in verdicts.items():
        assert shown_state(village, client) == verdict, village


def test_the_verified_panel_shows_the_apis_share(world) -> None:
    api, client = world
    query = verified_panel(VILLAGE_SCOPE).queries[0]
    for site in (CLEAN, FORGED):
        text = interpolate(query.influxql, variables={"village": TemplateVar("village", [site["village"]])},
                           from_ms=T0, to_ms=END, interval_ms=60_000)
        shown = {s.name: s.values[0][1] for s in client.select(text).series}
        share = fiber(api, site["village"])["evidence"]["verified_pct"]
        assert shown == {"uplink": pytest.approx(share), "wifi": pytest.approx(100.0)}, site["village"]
    assert fiber(api, "ban-ven")["evidence"]["verified_pct"] == pytest.approx(100 * 180 / 190)
