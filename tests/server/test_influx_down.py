"""InfluxDB going away: 503 with a clear message while it is gone, normal answers once it is back."""

from __future__ import annotations

import os
import signal
import threading
import time

import srv_scenario as sc
from srv_helpers import READ, write

from server import verdicts
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
    # an official's page says it in words, in the page's language, and comes back by itself
    page = api.get("/pages/villages/xa-khac", headers=READ)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert (
        "không đọc được cơ sở dữ liệu đo đạc (InfluxDB)" in page.text and page.headers["retry-after"] == "5"
    )
    assert '<meta http-equiv="refresh" content="5">' in page.text and "127.0.0.1" not in page.text
    english = api.get("/pages/villages/xa-khac", params={"lang": "en"}, headers=READ)
    assert english.status_code == 503 and "cannot be read right now" in english.text
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


def test_a_first_evaluation_still_being_made_is_a_503_that_says_so_not_a_hang(
    influxdb_server, app_for, monkeypatch
):
    # a first start over a province's old signed data verifies every village cold, for hours: an InfluxDB
    # that does not answer yet holds the first evaluation the same way
    client = InfluxClient(influxdb_server.url, database="slow_test", timeout=20)
    client.create_database("slow_test")
    write(client, sc.village_d())
    api = app_for(client)
    service = api.app.state.service
    monkeypatch.setattr(verdicts, "FIRST_EVALUATION_WAIT_S", 0.5)
    assert influxdb_server.process is not None
    pid = influxdb_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        first = threading.Thread(target=verdicts.default_evaluation, args=(service,))  # keep_warm's, at start
        first.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        answer = api.get("/api/v1/criteria", headers=READ)
        page = api.get("/pages/", headers=READ)
        waited = time.monotonic() - t0
    finally:
        os.kill(pid, signal.SIGCONT)
    first.join(20)
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30", answer.text
    assert answer.json()["detail"].startswith(
        "the service is still making its first evaluation of every village"
    )
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert (
        '<meta http-equiv="refresh" content="30">' in page.text
        and "Dịch vụ đang tính kết quả lần đầu" in page.text
    )
    assert waited < 5  # each waited about FIRST_EVALUATION_WAIT_S, not for the evaluation
    assert api.get("/api/v1/criteria", headers=READ).status_code == 200  # made: answered as always
