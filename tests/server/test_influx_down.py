"""InfluxDB going away: 503 with a clear message while it is gone, normal answers once it is back."""

from __future__ import annotations

import time

import srv_scenario as sc
from srv_helpers import READ, write

from server.timeparse import iso
from thonminh.influx import InfluxClient

WINDOW = {"start": iso(sc.W_START), "end": iso(sc.W_END)}


def test_503_while_influxdb_is_down_and_recovery_when_it_returns(influxdb_server, app_for):
    client = InfluxClient(influxdb_server.url, database="down_test", timeout=5)
    client.create_database("down_test")
    write(client, sc.village_d())
    api = app_for(client, rollups={"background": True, "interval_s": 1})
    uptime = "/api/v1/villages/xa-khac/uptime"
    assert api.get(uptime, params=WINDOW, headers=READ).status_code == 200

    assert api.get("/api/v1/criteria", headers=READ).status_code == 200  # this hour's default roll-up

    influxdb_server.kill()
    down = api.get(uptime, params=WINDOW, headers=READ)
    assert down.status_code == 503
    assert down.json()["detail"].startswith("InfluxDB is unavailable")
    assert "127.0.0.1" not in down.text and str(influxdb_server.port) not in down.text  # no address to anyone
    assert down.headers["retry-after"] == "5"
    health = api.get("/api/v1/health")
    assert health.status_code == 503 and health.json() == {
        "status": "unavailable",
        "version": health.json()["version"],
    }
    detailed = api.get("/api/v1/health", headers=READ)
    assert detailed.status_code == 503 and detailed.json()["influxdb"]["ok"] is False
    assert api.get("/api/v1/criteria", params=WINDOW, headers=READ).status_code == 503
    # the default windows' roll-up was evaluated this hour by the warm-up: it is still served
    assert api.get("/api/v1/criteria", headers=READ).status_code == 200
    assert (
        api.put(
            "/api/v1/villages/xa-khac/indicators/eid_adoption_pct",
            json={"value": 1.0},
            headers={"X-API-Key": "admin-key-0123456789abcdef"},
        ).status_code
        == 503
    )

    influxdb_server.start()
    back = api.get(uptime, params=WINDOW, headers=READ)
    assert back.status_code == 200
    assert back.json()["links"][0]["availability_pct"] == 100.0
    # the background rollup loop came through the outage too
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rollups = api.get("/api/v1/health", headers=READ).json()["rollups"]
        if rollups["last_error"] is None and rollups["passes"] >= 1 and rollups["complete_until"]:
            break
        time.sleep(0.2)
    assert rollups["last_error"] is None and rollups["passes"] >= 1, rollups
    assert api.get("/api/v1/health").json()["status"] == "ok"
